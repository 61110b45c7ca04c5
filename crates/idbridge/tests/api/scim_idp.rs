//! What Microsoft Entra ID and Okta really send, byte for byte where their
//! documentation gives the body, and what they expect back.
//!
//! Sources:
//! - [Entra tutorial] Microsoft Learn, "Tutorial: Develop and plan provisioning for a
//!   SCIM endpoint in Microsoft Entra ID" (use-scim-to-provision-users-and-groups),
//!   section "User Operations" / "Group Operations".
//! - [Entra known issues] Microsoft Learn, "Known issues and resolutions with SCIM 2.0
//!   protocol compliance of the Microsoft Entra user provisioning service", the
//!   requests sent with and without the aadOptscim062020 flag.
//! - [Okta reference] Okta Developer, "SCIM 2.0 protocol reference" (the test user
//!   test.user@okta.local and the group "Test SCIMv2").
//! - [Natoma roles] the seed guide "Manage Natoma Role from Entra ID": app roles
//!   Admin/AppAdmin/Member mapped with SingleAppRoleAssignment to
//!   roles[primary eq "True"].value.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{ScimClient, TestApp};
use idbridge_testkit::both_backends;

/// Sends a body exactly as given (the documented text, not a re-serialisation).
async fn raw(
    scim: &ScimClient<'_>,
    method: Method,
    path: &str,
    body: &str,
    content_type: &str,
) -> (StatusCode, Value) {
    let response = scim
        .app
        .http
        .request(
            method,
            scim.app.url(&format!("/scim/v2/{}{path}", scim.slug)),
        )
        .bearer_auth(&scim.token)
        .header("content-type", content_type)
        .body(body.to_owned())
        .send()
        .await
        .expect("send");
    let status = response.status();
    let text = response.text().await.expect("body");
    (
        status,
        if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).expect("JSON")
        },
    )
}

/// Entra ID sends `application/json`.
const ENTRA: &str = "application/json";
/// Okta sends `application/scim+json`.
const OKTA: &str = "application/scim+json; charset=utf-8";

// [Entra tutorial] Create User, request body as documented.
const ENTRA_CREATE_USER: &str = r#"{
    "schemas": [
        "urn:ietf:params:scim:schemas:core:2.0:User",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
    "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
    "userName": "Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee",
    "active": true,
    "emails": [{
        "primary": true,
        "type": "work",
        "value": "Test_User_11bb11bb-cc22-dd33-ee44-55ff55ff55ff@testuser.com"
    }],
    "meta": {
        "resourceType": "User"
    },
    "name": {
        "formatted": "givenName familyName",
        "familyName": "familyName",
        "givenName": "givenName"
    },
    "roles": []
}"#;

// [Entra tutorial] Update User [Multi-valued properties].
const ENTRA_PATCH_MULTI: &str = r#"{
    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
    "Operations": [
            {
            "op": "Replace",
            "path": "emails[type eq \"work\"].value",
            "value": "updatedEmail@microsoft.com"
            },
            {
            "op": "Replace",
            "path": "name.familyName",
            "value": "updatedFamilyName"
            }
    ]
}"#;

// [Entra tutorial] Update User [Single-valued properties].
const ENTRA_PATCH_USER_NAME: &str = r#"{
    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
    "Operations": [{
        "op": "Replace",
        "path": "userName",
        "value": "5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com"
    }]
}"#;

// [Entra known issues] Replace multiple attributes, without the feature flag.
const ENTRA_REPLACE_MANY_LEGACY: &str = r#"{
    "schemas": [
        "urn:ietf:params:scim:api:messages:2.0:PatchOp"
    ],
    "Operations": [
        {
            "op": "Replace",
            "path": "displayName",
            "value": "Pvlo"
        },
        {
            "op": "Replace",
            "path": "emails[type eq \"work\"].value",
            "value": "TestBcwqnm@test.microsoft.com"
        },
        {
            "op": "Replace",
            "path": "name.givenName",
            "value": "Gtfd"
        },
        {
            "op": "Replace",
            "path": "name.familyName",
            "value": "Pkqf"
        },
        {
            "op": "Replace",
            "path": "externalId",
            "value": "Eqpj"
        },
        {
            "op": "Replace",
            "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber",
            "value": "Eqpj"
        }
    ]
}"#;

// [Entra known issues] Replace multiple attributes, with the feature flag.
const ENTRA_REPLACE_MANY_FLAG: &str = r#"{
    "schemas": [
        "urn:ietf:params:scim:api:messages:2.0:PatchOp"
    ],
    "Operations": [
        {
            "op": "replace",
            "path": "emails[type eq \"work\"].value",
            "value": "TestMhvaes@test.microsoft.com"
        },
        {
            "op": "replace",
            "value": {
                "displayName": "Bjfe",
                "name.givenName": "Kkom",
                "name.familyName": "Unua",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "Aklq"
            }
        }
    ]
}"#;

// [Entra known issues] Add a single-value string attribute, without the flag.
const ENTRA_ADD_NICKNAME_LEGACY: &str = r#"{
    "schemas": [
        "urn:ietf:params:scim:api:messages:2.0:PatchOp"
    ],
    "Operations": [
      {
        "op": "Add",
        "path": "nickName",
        "value": "Babs"
      }
    ]
}"#;

// [Entra known issues] Disable a user, without the flag: the boolean is a string.
const ENTRA_DISABLE_LEGACY: &str = r#"{
    "schemas": [
        "urn:ietf:params:scim:api:messages:2.0:PatchOp"
    ],
    "Operations": [
        {
            "op": "Replace",
            "path": "active",
            "value": "False"
        }
    ]
}"#;

// [Entra tutorial] Disable User.
const ENTRA_DISABLE: &str = r#"{
    "Operations": [
        {
            "op": "Replace",
            "path": "active",
            "value": false
        }
    ],
    "schemas": [
        "urn:ietf:params:scim:api:messages:2.0:PatchOp"
    ]
}"#;

// [Entra tutorial] Create Group: with an empty member list, and Microsoft's own
// schema URI beside the core one.
const ENTRA_CREATE_GROUP: &str = r#"{
    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group", "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
    "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
    "displayName": "displayName",
    "meta": {
        "resourceType": "Group"
    }
}"#;

// [Entra tutorial] Update Group [Non-member attributes].
const ENTRA_RENAME_GROUP: &str = r#"{
    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
    "Operations": [{
        "op": "Replace",
        "path": "displayName",
        "value": "1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName"
    }]
}"#;

fn entra_add_member(id: &str) -> String {
    // [Entra tutorial] Update Group [Add Members].
    format!(
        r#"{{
    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
    "Operations": [{{
        "op": "Add",
        "path": "members",
        "value": [{{
            "$ref": null,
            "value": "{id}"
        }}]
    }}]
}}"#
    )
}

fn entra_remove_member_legacy(id: &str) -> String {
    // [Entra tutorial] Update Group [Remove Members]; [Entra known issues], without the flag.
    format!(
        r#"{{
    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
    "Operations": [{{
        "op": "Remove",
        "path": "members",
        "value": [{{
            "$ref": null,
            "value": "{id}"
        }}]
    }}]
}}"#
    )
}

fn rfc_remove_member(id: &str) -> String {
    // [Entra known issues], with the flag; [Okta reference], group push.
    format!(
        r#"{{
    "schemas": [
        "urn:ietf:params:scim:api:messages:2.0:PatchOp"
    ],
    "Operations": [
        {{
            "op": "remove",
            "path": "members[value eq \"{id}\"]"
        }}
    ]
}}"#
    )
}

/// Entra's filter as it puts it on the wire: spaces as '+', quotes escaped.
fn entra_filter(filter: &str) -> String {
    url::form_urlencoded::byte_serialize(filter.as_bytes()).collect()
}

both_backends! {
    async fn entra_user_lifecycle(db: TestDb) {
        let app = TestApp::spawn(db).await;
        let scim = app.scim_tenant("contoso").await;

        // "Test connection": a random userName, expecting 200 and an empty list.
        let probe = scim.get(&format!("/Users?filter={}", entra_filter("userName eq \"c6d0c37a-1a5e-4c8b-9f63-42b9f1a3a9b1\""))).await;
        assert_eq!(probe["totalResults"], 0);
        assert_eq!(probe["Resources"], json!([]));
        assert_eq!(probe["schemas"], json!(["urn:ietf:params:scim:api:messages:2.0:ListResponse"]));

        let (status, user) = raw(&scim, Method::POST, "/Users", ENTRA_CREATE_USER, ENTRA).await;
        assert_eq!(status, StatusCode::CREATED, "{user}");
        let id = user["id"].as_str().expect("id").to_owned();
        assert_eq!(user["externalId"], "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef");
        assert_eq!(user["name"]["formatted"], "givenName familyName");
        assert!(user.get("roles").is_none(), "an empty roles list is no roles");

        // The lookup before a create, by userName and by the work email.
        let found = scim.get(&format!("/Users?filter={}", entra_filter("userName eq \"Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee\""))).await;
        assert_eq!(found["totalResults"], 1);
        assert_eq!(found["Resources"][0]["id"], id.as_str());
        let by_email = scim
            .get(&format!("/Users?filter={}", entra_filter("emails[type eq \"work\"].value eq \"Test_User_11bb11bb-cc22-dd33-ee44-55ff55ff55ff@testuser.com\"")))
            .await;
        let _ = by_email;

        let (status, patched) = raw(&scim, Method::PATCH, &format!("/Users/{id}"), ENTRA_PATCH_MULTI, ENTRA).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(patched["emails"], json!([{"value": "updatedEmail@microsoft.com", "type": "work", "primary": true}]));
        assert_eq!(patched["name"]["familyName"], "updatedFamilyName");

        let (status, patched) = raw(&scim, Method::PATCH, &format!("/Users/{id}"), ENTRA_PATCH_USER_NAME, ENTRA).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(patched["userName"], "5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com");

        let (status, patched) = raw(&scim, Method::PATCH, &format!("/Users/{id}"), ENTRA_REPLACE_MANY_LEGACY, ENTRA).await;
        assert_eq!(status, StatusCode::OK, "{patched}");
        assert_eq!(patched["displayName"], "Pvlo");
        assert_eq!(patched["externalId"], "Eqpj");
        assert_eq!(patched["name"]["givenName"], "Gtfd");
        assert_eq!(patched["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["employeeNumber"], "Eqpj");

        let (status, patched) = raw(&scim, Method::PATCH, &format!("/Users/{id}"), ENTRA_REPLACE_MANY_FLAG, ENTRA).await;
        assert_eq!(status, StatusCode::OK, "{patched}");
        assert_eq!(patched["displayName"], "Bjfe");
        assert_eq!(patched["emails"][0]["value"], "TestMhvaes@test.microsoft.com");
        assert_eq!(patched["name"], json!({"formatted": "givenName familyName", "familyName": "Unua", "givenName": "Kkom"}));
        assert_eq!(patched["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["employeeNumber"], "Aklq");

        let (status, patched) = raw(&scim, Method::PATCH, &format!("/Users/{id}"), ENTRA_ADD_NICKNAME_LEGACY, ENTRA).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(patched["nickName"], "Babs");

        // The enterprise manager, as a plain id string.
        let manager = scim.create_user("manager@contoso.com").await;
        let manager_id = manager["id"].as_str().expect("id");
        let body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [
            {"op": "Add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", "value": manager_id}
        ]});
        let (status, patched) = raw(&scim, Method::PATCH, &format!("/Users/{id}"), &body.to_string(), ENTRA).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(patched["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["manager"], json!({"value": manager_id}));

        // Soft delete: both shapes of "disable" end in active false.
        let (status, patched) = raw(&scim, Method::PATCH, &format!("/Users/{id}"), ENTRA_DISABLE_LEGACY, ENTRA).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(patched["active"], false);
        let (status, patched) = raw(&scim, Method::PATCH, &format!("/Users/{id}"), ENTRA_DISABLE, ENTRA).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(patched["active"], false);
        let filtered = scim.get(&format!("/Users?filter={}", entra_filter("userName eq \"5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com\""))).await;
        assert_eq!(filtered["Resources"][0]["active"], false, "a disabled user still has active in filter results");

        // Hard delete, 30 days later in real life.
        scim.expect(Method::DELETE, &format!("/Users/{id}"), None, StatusCode::NO_CONTENT).await;
        let types = scim.event_types().await;
        assert_eq!(types.first().map(String::as_str), Some("user.created"));
        assert!(types.contains(&"user.deactivated".to_owned()));
        assert_eq!(types.last().map(String::as_str), Some("user.deleted"));
    }

    async fn entra_app_roles_become_the_users_roles(db: TestDb) {
        let app = TestApp::spawn(db).await;
        let scim = app.scim_tenant("contoso").await;
        let roles = app.admin(Method::PUT, "/api/v1/app-roles")
            .json(&json!({"roles": ["admin", "AppAdmin", "member"]})).send().await.expect("send");
        assert_eq!(roles.status(), StatusCode::OK);
        app.admin(Method::PATCH, "/api/v1/tenants/contoso").json(&json!({"default_role": "member"})).send().await.expect("send");

        let user = scim.create_user("ada@contoso.com").await;
        let id = user["id"].as_str().expect("id").to_owned();
        let roles_of = |app: &TestApp, id: String| {
            let request = app.admin(Method::GET, &format!("/api/v1/tenants/contoso/users/{id}"));
            async move {
                let body: Value = request.send().await.expect("send").json().await.expect("json");
                body["roles"].clone()
            }
        };
        assert_eq!(roles_of(&app, id.clone()).await, json!(["member"]), "the default role when the IdP sends none");

        // SingleAppRoleAssignment([appRoleAssignments]) -> roles[primary eq "True"].value
        let body = r#"{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [
            {"op": "Add", "path": "roles[primary eq \"True\"].value", "value": "Admin"}]}"#;
        let (status, patched) = raw(&scim, Method::PATCH, &format!("/Users/{id}"), body, ENTRA).await;
        assert_eq!(status, StatusCode::OK, "{patched}");
        assert_eq!(patched["roles"], json!([{"primary": true, "value": "Admin"}]));
        assert_eq!(roles_of(&app, id.clone()).await, json!(["admin"]));

        let body = r#"{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [
            {"op": "Replace", "path": "roles[primary eq \"True\"].value", "value": "AppAdmin"}]}"#;
        raw(&scim, Method::PATCH, &format!("/Users/{id}"), body, ENTRA).await;
        assert_eq!(roles_of(&app, id.clone()).await, json!(["AppAdmin"]));

        // AppRoleAssignmentsComplex: Entra's PATCH carries each app role as JSON text
        // (Microsoft Learn, "Customize user provisioning attribute-mappings"). The role
        // is its value, resolved through the role mappings like any other.
        let mapping = app.admin(Method::PUT, "/api/v1/tenants/contoso/role-mappings")
            .json(&json!({"mappings": [{"source": "role", "value": "Tenant.Admin", "role": "admin"}], "policy": "all"}))
            .send().await.expect("send");
        assert_eq!(mapping.status(), StatusCode::OK, "{}", mapping.text().await.unwrap_or_default());
        let body = r#"{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [
            {"op": "Add", "path": "roles", "value": [
                {"value": "{\"id\":\"06b07648-ecfe-589f-9d2f-6325724a46ee\",\"value\":\"Tenant.Admin\",\"displayName\":\"Tenant administrator\"}"}]}]}"#;
        let (status, patched) = raw(&scim, Method::PATCH, &format!("/Users/{id}"), body, ENTRA).await;
        assert_eq!(status, StatusCode::OK, "{patched}");
        assert!(
            patched["roles"].as_array().expect("roles").iter()
                .any(|r| r["value"] == "Tenant.Admin" && r["display"] == "Tenant administrator"),
            "{patched}"
        );
        assert_eq!(roles_of(&app, id.clone()).await, json!(["admin", "AppAdmin"]), "in the app roles' order");
        let filtered = scim.get(&format!("/Users?filter={}", entra_filter("roles.value eq \"Tenant.Admin\""))).await;
        assert_eq!(filtered["totalResults"], 1, "the stored role is the value, not JSON text");
        app.admin(Method::PUT, "/api/v1/tenants/contoso/role-mappings")
            .json(&json!({"mappings": [], "policy": "all"})).send().await.expect("send");

        // A user created with the role in its POST body, as Entra provisions it.
        let (status, created) = raw(&scim, Method::POST, "/Users", &json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "grace@contoso.com", "active": true,
            "roles": [{"primary": "True", "type": "WindowsAzureActiveDirectoryRole", "value": "member"}],
        }).to_string(), ENTRA).await;
        assert_eq!(status, StatusCode::CREATED);
        assert_eq!(created["roles"][0]["primary"], true);
        let filtered = scim.get(&format!("/Users?filter={}", entra_filter("roles[primary eq \"True\"].value eq \"member\""))).await;
        assert_eq!(filtered["totalResults"], 1);

        // Groups map too (Okta pushes groups; Entra can assign roles to groups).
        let mapping = app.admin(Method::PUT, "/api/v1/tenants/contoso/role-mappings")
            .json(&json!({"mappings": [{"source": "group", "value": "Natoma Admins", "role": "admin"}], "policy": "all"}))
            .send().await.expect("send");
        assert_eq!(mapping.status(), StatusCode::OK);
        scim.create_group("natoma admins", &[created["id"].as_str().expect("id")]).await;
        let grace = roles_of(&app, created["id"].as_str().expect("id").to_owned()).await;
        assert_eq!(grace, json!(["admin", "member"]));
        let bad = app.admin(Method::PUT, "/api/v1/tenants/contoso/role-mappings")
            .json(&json!({"mappings": [{"source": "group", "value": "x", "role": "superuser"}]}))
            .send().await.expect("send");
        assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    }

    async fn entra_group_lifecycle(db: TestDb) {
        let app = TestApp::spawn(db).await;
        let scim = app.scim_tenant("contoso").await;
        let user = scim.create_user("ada@contoso.com").await;
        let user_id = user["id"].as_str().expect("id").to_owned();

        let (status, group) = raw(&scim, Method::POST, "/Groups", ENTRA_CREATE_GROUP, ENTRA).await;
        assert_eq!(status, StatusCode::CREATED, "{group}");
        assert_eq!(group["members"], json!([]));
        assert_eq!(group["externalId"], "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159");
        let id = group["id"].as_str().expect("id").to_owned();

        // Get Group by displayName, without members.
        let listed = scim.get(&format!("/Groups?excludedAttributes=members&filter={}", entra_filter("displayName eq \"displayName\""))).await;
        assert_eq!(listed["totalResults"], 1);
        assert!(listed["Resources"][0].get("members").is_none());
        let one = scim.get(&format!("/Groups/{id}?excludedAttributes=members")).await;
        assert!(one.get("members").is_none());

        let (status, _) = raw(&scim, Method::PATCH, &format!("/Groups/{id}"), ENTRA_RENAME_GROUP, ENTRA).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        assert_eq!(scim.get(&format!("/Groups/{id}")).await["displayName"], "1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName");

        let (status, _) = raw(&scim, Method::PATCH, &format!("/Groups/{id}"), &entra_add_member(&user_id), ENTRA).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let members = scim.get(&format!("/Groups/{id}")).await["members"].clone();
        assert_eq!(members[0]["value"], user_id.as_str());
        assert_eq!(members[0]["type"], "User");
        assert_eq!(members[0]["$ref"], app.url(&format!("/scim/v2/contoso/Users/{user_id}")));

        // Is the user a member? Entra asks with a filter over id and members.
        let is_member = format!("id eq \"{id}\" and members[value eq \"{user_id}\"]");
        let yes = scim.get(&format!("/Groups?excludedAttributes=members&filter={}", entra_filter(&is_member))).await;
        assert_eq!(yes["totalResults"], 1);
        assert_eq!(scim.get(&format!("/Users/{user_id}")).await["groups"][0]["value"], id.as_str());

        let (status, _) = raw(&scim, Method::PATCH, &format!("/Groups/{id}"), &entra_remove_member_legacy(&user_id), ENTRA).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let no = scim.get(&format!("/Groups?excludedAttributes=members&filter={}", entra_filter(&is_member))).await;
        assert_eq!(no["totalResults"], 0);

        raw(&scim, Method::PATCH, &format!("/Groups/{id}"), &entra_add_member(&user_id), ENTRA).await;
        let (status, _) = raw(&scim, Method::PATCH, &format!("/Groups/{id}"), &rfc_remove_member(&user_id), ENTRA).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        assert_eq!(scim.get(&format!("/Groups/{id}")).await["members"], json!([]));

        // A member that is no user or group of this tenant is refused, and nothing changes.
        let other = app.scim_tenant("fabrikam").await;
        let stranger = other.create_user("eve@fabrikam.com").await;
        let (status, err) = raw(&scim, Method::PATCH, &format!("/Groups/{id}"), &entra_add_member(stranger["id"].as_str().expect("id")), ENTRA).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(err["scimType"], "invalidValue");

        scim.expect(Method::DELETE, &format!("/Groups/{id}"), None, StatusCode::NO_CONTENT).await;
        scim.expect(Method::GET, &format!("/Groups/{id}"), None, StatusCode::NOT_FOUND).await;
        let types = scim.event_types().await;
        let group_events: Vec<&str> = types.iter().map(String::as_str).filter(|t| t.starts_with("group.")).collect();
        assert_eq!(group_events, [
            "group.created", "group.updated", "group.member_added", "group.member_removed",
            "group.member_added", "group.member_removed", "group.deleted",
        ]);
    }

    async fn okta_user_lifecycle(db: TestDb) {
        let app = TestApp::spawn(db).await;
        let scim = app.scim_tenant("acme").await;

        // "Test API Credentials".
        let check = scim.get("/Users?startIndex=1&count=2").await;
        assert_eq!(check["totalResults"], 0);
        // The lookup before a create.
        let lookup = scim.get("/Users?filter=userName%20eq%20%22test.user%40okta.local%22&startIndex=1&count=100").await;
        assert_eq!(lookup["totalResults"], 0);

        // [Okta reference] Create the user (Okta sends a password, and groups: []).
        let create = r#"{
    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
    "userName": "test.user@okta.local",
    "name": {
        "givenName": "Test",
        "familyName": "User"
    },
    "emails": [{
        "primary": true,
        "value": "test.user@okta.local",
        "type": "work"
    }],
    "displayName": "Test User",
    "locale": "en-US",
    "externalId": "00ujl29u0le5T6Aj10h7",
    "groups": [],
    "password": "1mz050nq",
    "active": true
}"#;
        let (status, user) = raw(&scim, Method::POST, "/Users", create, OKTA).await;
        assert_eq!(status, StatusCode::CREATED, "{user}");
        assert!(user.get("password").is_none());
        assert_eq!(user["locale"], "en-US");
        let id = user["id"].as_str().expect("id").to_owned();

        // [Okta reference] Profile update by PUT.
        let put = format!(r#"{{
    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
    "id": "{id}",
    "userName": "test.user@okta.local",
    "name": {{
        "givenName": "Another",
        "middleName": "Excited",
        "familyName": "User"
    }},
    "emails": [{{
        "primary": true,
        "value": "test.user@okta.local",
        "type": "work",
        "display": "test.user@okta.local"
    }}],
    "active": true,
    "groups": [],
    "meta": {{
        "resourceType": "User"
    }}
}}"#);
        let (status, updated) = raw(&scim, Method::PUT, &format!("/Users/{id}"), &put, OKTA).await;
        assert_eq!(status, StatusCode::OK, "{updated}");
        assert_eq!(updated["name"]["middleName"], "Excited");
        assert!(updated.get("locale").is_none(), "PUT replaced the whole user");

        // [Okta reference] Deactivate, then reactivate.
        let deactivate = r#"{
    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
    "Operations": [{
        "op": "replace",
        "value": {
            "active": false
        }
    }]
}"#;
        let (status, patched) = raw(&scim, Method::PATCH, &format!("/Users/{id}"), deactivate, OKTA).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(patched["active"], false);
        let (status, patched) = raw(&scim, Method::PATCH, &format!("/Users/{id}"), &deactivate.replace("false", "true"), OKTA).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(patched["active"], true);
        let types = scim.event_types().await;
        assert_eq!(types, ["user.created", "user.updated", "user.deactivated", "user.reactivated"]);

        // Import: Okta pages through every user.
        for i in 0..4 {
            scim.create_user(&format!("user{i}@okta.local")).await;
        }
        let mut imported = Vec::new();
        let mut start = 1;
        loop {
            let page = scim.get(&format!("/Users?startIndex={start}&count=2")).await;
            let resources = page["Resources"].as_array().expect("resources").clone();
            assert_eq!(page["totalResults"], 5);
            if resources.is_empty() {
                break;
            }
            start += resources.len();
            imported.extend(resources);
        }
        assert_eq!(imported.len(), 5);
    }

    async fn okta_group_push(db: TestDb) {
        let app = TestApp::spawn(db).await;
        let scim = app.scim_tenant("acme").await;
        let a = scim.create_user("a@okta.local").await["id"].as_str().expect("id").to_owned();
        let b = scim.create_user("b@okta.local").await["id"].as_str().expect("id").to_owned();

        // [Okta reference] Push a group; members may come with it.
        let (status, group) = raw(&scim, Method::POST, "/Groups", r#"{
    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
    "displayName": "Test SCIMv2",
    "members": []
}"#, OKTA).await;
        assert_eq!(status, StatusCode::CREATED);
        let id = group["id"].as_str().expect("id").to_owned();
        let (status, with_members) = raw(&scim, Method::POST, "/Groups", &json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": "Engineering",
            "members": [{"value": a, "display": "a@okta.local"}],
        }).to_string(), OKTA).await;
        assert_eq!(status, StatusCode::CREATED);
        assert_eq!(with_members["members"][0]["value"], a.as_str());

        let found = scim.get("/Groups?filter=displayName%20eq%20%22Test%20SCIMv2%22&startIndex=1&count=100").await;
        assert_eq!(found["totalResults"], 1);

        // [Okta reference] Rename: the value carries the group's id.
        let rename = format!(r#"{{
    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
    "Operations": [{{
        "op": "replace",
        "value": {{
            "id": "{id}",
            "displayName": "Test SCIMv2 renamed"
        }}
    }}]
}}"#);
        let (status, _) = raw(&scim, Method::PATCH, &format!("/Groups/{id}"), &rename, OKTA).await;
        assert_eq!(status, StatusCode::NO_CONTENT);

        // [Okta reference] Membership changes in one request.
        let change = format!(r#"{{
    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
    "Operations": [
        {{
            "op": "add",
            "path": "members",
            "value": [{{"value": "{a}", "display": "a@okta.local"}}, {{"value": "{b}", "display": "b@okta.local"}}]
        }},
        {{
            "op": "remove",
            "path": "members[value eq \"{a}\"]"
        }}
    ]
}}"#);
        let (status, _) = raw(&scim, Method::PATCH, &format!("/Groups/{id}"), &change, OKTA).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let now = scim.get(&format!("/Groups/{id}")).await;
        assert_eq!(now["displayName"], "Test SCIMv2 renamed");
        let member_ids: Vec<&str> = now["members"].as_array().expect("members").iter().map(|m| m["value"].as_str().expect("v")).collect();
        assert_eq!(member_ids, [b.as_str()]);

        // [Okta reference] PUT the group with its members: exactly these afterwards.
        let (status, replaced) = raw(&scim, Method::PUT, &format!("/Groups/{id}"), &json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "id": id,
            "displayName": "Test SCIMv2",
            "members": [{"value": a, "display": "a@okta.local"}],
        }).to_string(), OKTA).await;
        assert_eq!(status, StatusCode::OK, "{replaced}");
        let member_ids: Vec<&str> = replaced["members"].as_array().expect("members").iter().map(|m| m["value"].as_str().expect("v")).collect();
        assert_eq!(member_ids, [a.as_str()]);

        scim.expect(Method::DELETE, &format!("/Groups/{id}"), None, StatusCode::NO_CONTENT).await;
        let remaining = scim.get("/Groups").await;
        assert_eq!(remaining["totalResults"], 1);
    }

    async fn discovery_tells_the_truth(db: TestDb) {
        let app = TestApp::spawn(db).await;
        let scim = app.scim_tenant("acme").await;
        let spc = scim.get("/ServiceProviderConfig").await;
        assert_eq!(spc["patch"]["supported"], true);
        assert_eq!(spc["filter"]["supported"], true);
        assert_eq!(spc["filter"]["maxResults"], 1000);
        assert_eq!(spc["sort"]["supported"], true);
        assert_eq!(spc["etag"]["supported"], true);
        assert_eq!(spc["bulk"]["supported"], false);
        assert_eq!(spc["changePassword"]["supported"], false);
        let types = scim.get("/ResourceTypes").await;
        assert_eq!(types["totalResults"], 2);
        let user_type = scim.get("/ResourceTypes/User").await;
        assert_eq!(user_type["schemaExtensions"][0]["schema"], "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User");
        let schemas = scim.get("/Schemas").await;
        assert_eq!(schemas["totalResults"], 3);
        let enterprise = scim.get("/Schemas/urn:ietf:params:scim:schemas:extension:enterprise:2.0:User").await;
        assert_eq!(enterprise["attributes"][5]["name"], "manager");
        scim.expect(Method::GET, "/Schemas/urn:nope", None, StatusCode::NOT_FOUND).await;
        scim.expect(Method::GET, "/Bulk", None, StatusCode::NOT_FOUND).await;
    }
}
