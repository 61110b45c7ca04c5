//! `/Users` as RFC 7643/7644 define it, over real HTTP on both backends.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestOptions, q};
use idbridge_server::ScimBodyLimit;
use idbridge_testkit::both_backends;

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

/// A PATCH body of `ops`.
fn patch_op(ops: Value) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops})
}

both_backends! {
    async fn create_returns_201_with_id_meta_and_location(db: TestDb) {
        let app = TestApp::spawn(db).await;
        let scim = app.scim_tenant("acme").await;
        let response = scim
            .send(Method::POST, "/Users", Some(json!({
                "schemas": [USER, ENTERPRISE],
                "userName": "Ada@Example.com",
                "name": {"givenName": "Ada", "familyName": "Lovelace"},
                "emails": [{"value": "ada@example.com", "type": "work", "primary": true}],
                "externalId": "e-1",
                ENTERPRISE: {"department": "Engineering", "employeeNumber": "42"},
                "urn:example:params:scim:schemas:extension:custom:2.0:User": {"badge": "B-7"},
            })))
            .await;
        assert_eq!(response.status(), StatusCode::CREATED);
        assert_eq!(response.headers()["content-type"], "application/scim+json");
        let etag = response.headers()["etag"].to_str().expect("etag").to_owned();
        let location = response.headers()["location"].to_str().expect("location").to_owned();
        let user: Value = response.json().await.expect("json");
        let id = user["id"].as_str().expect("id");
        assert_eq!(location, app.url(&format!("/scim/v2/acme/Users/{id}")));
        assert_eq!(user["meta"]["location"], location);
        assert_eq!(user["meta"]["resourceType"], "User");
        assert_eq!(user["meta"]["version"], etag);
        assert_eq!(user["meta"]["created"], "2026-11-01T09:00:00Z");
        assert_eq!(user["userName"], "Ada@Example.com");
        assert!(user.get("active").is_none(), "what was not sent is not made up");
        assert_eq!(user[ENTERPRISE]["department"], "Engineering");
        assert_eq!(user["urn:example:params:scim:schemas:extension:custom:2.0:User"]["badge"], "B-7");
        let schemas = user["schemas"].as_array().expect("schemas");
        assert!(schemas.contains(&json!(USER)) && schemas.contains(&json!(ENTERPRISE)));

        let fetched = scim.get(&format!("/Users/{id}")).await;
        assert_eq!(fetched, user);
    }

    async fn an_attribute_name_with_a_character_across_its_fourth_byte_gets_an_answer(db: TestDb) {
        // "abcé": byte 4 falls inside "é". The URN check read the name by byte
        // index and the request panicked.
        let app = TestApp::spawn(db).await;
        let scim = app.scim_tenant("acme").await;
        let response = scim
            .send(Method::POST, "/Users", Some(json!({
                "schemas": [USER],
                "userName": "ada@example.com",
                "abc\u{e9}": "x",
            })))
            .await;
        assert_eq!(response.status(), StatusCode::CREATED);
        let user: Value = response.json().await.expect("json");
        let id = user["id"].as_str().expect("id");
        let response = scim
            .send(Method::PATCH, &format!("/Users/{id}"), Some(json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "replace", "value": {"abc\u{e9}": "y"}}],
            })))
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        let listed = scim.get("/Users?startIndex=1&count=10").await;
        assert_eq!(listed["totalResults"], 1);
    }

    async fn a_listed_user_is_the_user_a_lookup_answers(db: TestDb) {
        // A list writes each stored document out as its text, unparsed (PostgreSQL
        // gives `jsonb` back spaced and reordered); a lookup parses it. Whatever the
        // page, each listed user must be the same JSON as its own GET.
        let app = TestApp::spawn(db).await;
        let scim = app.scim_tenant("acme").await;
        let mut ids = Vec::new();
        for (n, name) in ["ada@example.com", "grace@example.com", "emile@example.com"].iter().enumerate() {
            let user = scim
                .expect(Method::POST, "/Users", Some(json!({
                    "schemas": [USER, "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
                    "userName": name,
                    "displayName": format!("\"Quoted\", with: commas {n}"),
                    "name": {"givenName": "G\u{e9}n", "familyName": "Lovelace", "formatted": "a\\b"},
                    "emails": [{"value": name, "type": "work", "primary": true}, {"value": format!("x{n}@home.example"), "type": "home"}],
                    "phoneNumbers": [{"value": "+1 555 0100", "type": "work"}],
                    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
                        "department": "R&D", "manager": {"value": "m-1"}, "employeeNumber": "7"
                    },
                    "active": n != 1,
                })), StatusCode::CREATED)
                .await;
            ids.push(user["id"].as_str().expect("id").to_owned());
        }
        scim.create_group("Eng", &[ids[0].as_str(), ids[2].as_str()]).await;
        for query in [
            "/Users?startIndex=1&count=10",
            "/Users?startIndex=2&count=1",
            "/Users",
            &format!("/Users?filter={}", q("name.familyName eq \"Lovelace\"")),
        ] {
            let page = scim.get(query).await;
            let listed = page["Resources"].as_array().expect("resources");
            assert!(!listed.is_empty(), "{query}");
            for user in listed {
                let id = user["id"].as_str().expect("id");
                assert_eq!(user, &scim.get(&format!("/Users/{id}")).await, "{query}");
            }
        }
    }

    async fn user_name_is_unique_case_insensitively(db: TestDb) {
        let app = TestApp::spawn(db).await;
        let scim = app.scim_tenant("acme").await;
        scim.create_user("ada@example.com").await;
        let err = scim
            .expect(Method::POST, "/Users", Some(json!({"schemas": [USER], "userName": "ADA@example.COM"})), StatusCode::CONFLICT)
            .await;
        assert_eq!(err["scimType"], "uniqueness");
        assert_eq!(err["status"], "409");
        assert_eq!(err["schemas"], json!(["urn:ietf:params:scim:api:messages:2.0:Error"]));
        // Another tenant may have the same userName.
        let other = app.scim_tenant("globex").await;
        other.create_user("ada@example.com").await;
    }

    async fn concurrent_creates_of_one_user_name_end_in_one_user(db: TestDb) {
        let app = TestApp::spawn(db).await;
        let scim = app.scim_tenant("acme").await;
        let body = json!({"schemas": [USER], "userName": "race@example.com"});
        let attempts = (0..8).map(|_| scim.send(Method::POST, "/Users", Some(body.clone())));
        let statuses: Vec<StatusCode> = futures::future::join_all(attempts).await.iter().map(|r| r.status()).collect();
        assert_eq!(statuses.iter().filter(|s| **s == StatusCode::CREATED).count(), 1, "{statuses:?}");
        assert_eq!(statuses.iter().filter(|s| **s == StatusCode::CONFLICT).count(), 7, "{statuses:?}");
        let list = scim.get(&format!("/Users?filter={}", q("userName eq \"race@example.com\""))).await;
        assert_eq!(list["totalResults"], 1);
    }

    async fn filters_find_by_indexed_and_document_attributes(db: TestDb) {
        let app = TestApp::spawn(db).await;
        let scim = app.scim_tenant("acme").await;
        for (name, ext, dept, title, active, phone) in [
            ("ada@example.com", "e-1", "Engineering", "Countess", true, "work"),
            ("grace@example.com", "e-2", "Navy", "Rear Admiral", true, "mobile"),
            ("alan@example.org", "e-3", "Engineering", "Mathematician", false, "work"),
        ] {
            scim.expect(Method::POST, "/Users", Some(json!({
                "schemas": [USER, ENTERPRISE],
                "userName": name, "externalId": ext, "title": title, "active": active,
                "displayName": name.split('@').next(),
                "emails": [{"value": name.to_uppercase(), "type": "work"}],
                "phoneNumbers": [{"value": format!("+1 555 01{ext}"), "type": phone}],
                ENTERPRISE: {"department": dept},
            })), StatusCode::CREATED).await;
        }
        let count = |filter: &'static str| {
            let scim = &scim;
            async move {
                let list = scim.get(&format!("/Users?filter={}", q(filter))).await;
                assert_eq!(list["Resources"].as_array().map(Vec::len), list["totalResults"].as_u64().map(|n| n as usize));
                list["totalResults"].as_u64().expect("total")
            }
        };
        assert_eq!(count("userName eq \"ADA@EXAMPLE.COM\"").await, 1);
        assert_eq!(count("userName eq \"nobody@example.com\"").await, 0);
        assert_eq!(count("externalId eq \"e-2\"").await, 1);
        assert_eq!(count("externalId eq \"E-2\"").await, 0, "externalId is caseExact");
        assert_eq!(count("emails.value eq \"grace@example.com\"").await, 1);
        assert_eq!(count("emails[type eq \"work\" and value co \"@EXAMPLE.org\"]").await, 1);
        assert_eq!(count("emails co \"example.com\"").await, 2);
        assert_eq!(count("userName sw \"a\"").await, 2);
        assert_eq!(count("userName ew \".org\"").await, 1);
        assert_eq!(count("displayName eq \"Grace\"").await, 1);
        assert_eq!(count("active eq true").await, 2);
        assert_eq!(count("active eq \"False\"").await, 1);
        assert_eq!(count("title pr").await, 3);
        assert_eq!(count("nickName pr").await, 0);
        assert_eq!(count("title co \"admiral\"").await, 1);
        assert_eq!(count("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq \"engineering\"").await, 2);
        assert_eq!(count("userName sw \"a\" and not (active eq false)").await, 1);
        assert_eq!(count("externalId eq \"e-1\" or externalId eq \"e-3\"").await, 2);
        assert_eq!(count("meta.lastModified gt \"2026-01-01T00:00:00Z\"").await, 3);
        assert_eq!(count("meta.created lt \"2026-01-01T00:00:00Z\"").await, 0);
        assert_eq!(count("schemas eq \"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User\"").await, 3);
        assert_eq!(count("title ne \"Countess\"").await, 2);
        // Multi-valued attributes without a table of their own are read in the document.
        assert_eq!(count("phoneNumbers[type eq \"mobile\"]").await, 1);
        assert_eq!(count("phoneNumbers[type eq \"work\" and value ew \"e-3\"]").await, 1);
        assert_eq!(count("phoneNumbers.value co \"01e-\"").await, 3);
        assert_eq!(count("phoneNumbers[type eq \"fax\"]").await, 0);

        // The email index follows a change of address, and stays whole through a
        // change that leaves the addresses alone (which does not rewrite it).
        let grace = scim.get(&format!("/Users?filter={}", q("userName eq \"grace@example.com\""))).await;
        let grace_path = format!("/Users/{}", grace["Resources"][0]["id"].as_str().expect("id"));
        scim.expect(Method::PATCH, &grace_path, Some(patch_op(json!([{"op": "replace", "path": "title", "value": "Admiral"}]))), StatusCode::OK).await;
        assert_eq!(count("emails.value eq \"grace@example.com\"").await, 1, "kept through a title change");
        scim.expect(Method::PATCH, &grace_path, Some(patch_op(json!([{"op": "replace", "path": "emails[type eq \"work\"].value", "value": "grace@navy.example"}]))), StatusCode::OK).await;
        assert_eq!(count("emails.value eq \"grace@example.com\"").await, 0, "the old address is gone");
        assert_eq!(count("emails.value eq \"grace@navy.example\"").await, 1, "the new one is found");
    }

    async fn bad_filters_are_400_invalid_filter(db: TestDb) {
        let app = TestApp::spawn(db).await;
        let scim = app.scim_tenant("acme").await;
        for filter in [
            "userName eq",
            "userName zz \"a\"",
            "(userName eq \"a\"",
            "userName eq \"a\" and",
            "userName eq \"a\\u0000b\"",
            "title co \"\\u0000\"",
            "active gt true",
            "meta.lastModified gt \"yesterday\"",
            "name eq \"x\"",
            &format!("{}userName eq \"a\"{}", "(".repeat(40), ")".repeat(40)),
            &"userName eq \"a\" or ".repeat(300),
        ] {
            let err = scim
                .expect(Method::GET, &format!("/Users?filter={}", q(filter)), None, StatusCode::BAD_REQUEST)
                .await;
            assert_eq!(err["scimType"], "invalidFilter", "{filter}: {err}");
        }
    }

    async fn pagination_counts_in_the_database(db: TestDb) {
        let app = TestApp::spawn(db).await;
        let scim = app.scim_tenant("acme").await;
        let mut names = Vec::new();
        for i in 0..7 {
            let name = format!("user{i}@example.com");
            scim.create_user(&name).await;
            names.push(name);
        }
        let page = scim.get("/Users?startIndex=1&count=2").await;
        assert_eq!(page["schemas"], json!(["urn:ietf:params:scim:api:messages:2.0:ListResponse"]));
        assert_eq!(page["totalResults"], 7);
        assert_eq!(page["itemsPerPage"], 2);
        assert_eq!(page["startIndex"], 1);
        let mut seen = Vec::new();
        let mut start = 1;
        loop {
            let page = scim.get(&format!("/Users?startIndex={start}&count=3")).await;
            let resources = page["Resources"].as_array().expect("resources").clone();
            if resources.is_empty() {
                break;
            }
            seen.extend(resources.iter().map(|u| u["userName"].as_str().expect("userName").to_owned()));
            start += resources.len();
        }
        assert_eq!(seen, names);
        let none = scim.get("/Users?count=0").await;
        assert_eq!(none["totalResults"], 7);
        assert_eq!(none["Resources"], json!([]));
        let tail = scim.get("/Users?startIndex=7&count=100").await;
        assert_eq!(tail["Resources"].as_array().map(Vec::len), Some(1));
        let clamped = scim.get("/Users?startIndex=0&count=-5").await;
        assert_eq!(clamped["startIndex"], 1);
    }

    async fn a_walk_reads_every_user_once_while_the_directory_changes(db: TestDb) {
        // Okta's import: startIndex=1, 4, 7, … with no filter. Each page continues
        // from where the one before ended (an anchor), so its cost does not grow with
        // depth; the answers are those OFFSET gives, and better when users are deleted
        // behind the walk (none is skipped).
        let app = TestApp::spawn(db).await;
        let scim = app.scim_tenant("acme").await;
        let mut ids = Vec::new();
        for i in 0..12 {
            let user = scim.create_user(&format!("user{i:02}@example.com")).await;
            ids.push(user["id"].as_str().expect("id").to_owned());
        }
        let page_ids = |page: &Value| -> Vec<String> {
            page["Resources"].as_array().expect("resources").iter()
                .map(|u| u["id"].as_str().expect("id").to_owned()).collect()
        };
        // Pages asked out of the blue (no anchor; past the middle they are counted
        // from the end) are the pages of the directory in order.
        for (start, count) in [(4, 3), (7, 3), (8, 3), (10, 3), (11, 3), (12, 5), (2, 11)] {
            let page = scim.get(&format!("/Users?startIndex={start}&count={count}")).await;
            let expected: Vec<String> = ids.iter().skip(start - 1).take(count).cloned().collect();
            assert_eq!(page_ids(&page), expected, "startIndex={start}&count={count}");
            assert_eq!(page["totalResults"], 12);
            assert_eq!(page["itemsPerPage"], expected.len());
        }
        for start in ["13", "9223372036854775807"] {
            let beyond = scim.get(&format!("/Users?startIndex={start}&count=3")).await;
            assert_eq!(page_ids(&beyond), Vec::<String>::new(), "startIndex={start}");
            assert_eq!(beyond["totalResults"], 12);
        }
        let jumped = page_ids(&scim.get("/Users?startIndex=7&count=3").await);
        let mut walked = Vec::new();
        for start in [1, 4, 7, 10] {
            let page = scim.get(&format!("/Users?startIndex={start}&count=3")).await;
            assert_eq!(page["totalResults"], 12);
            assert_eq!(page["startIndex"], start);
            if start == 7 {
                assert_eq!(page_ids(&page), jumped);
            }
            walked.extend(page_ids(&page));
        }
        assert_eq!(walked, ids, "every user once, in creation order");

        // Walk again; after the first page, a user of that page is deleted and a new
        // one created. The walk still sees every user that existed throughout, once,
        // and the new one at the end.
        let mut walked = page_ids(&scim.get("/Users?startIndex=1&count=3").await);
        scim.expect(Method::DELETE, &format!("/Users/{}", ids[1]), None, StatusCode::NO_CONTENT).await;
        let late = scim.create_user("late@example.com").await;
        let mut start = 4;
        loop {
            let page = scim.get(&format!("/Users?startIndex={start}&count=3")).await;
            let found = page_ids(&page);
            if found.is_empty() {
                break;
            }
            start += found.len();
            walked.extend(found);
        }
        let mut expected = ids.clone();
        expected.push(late["id"].as_str().expect("id").to_owned());
        assert_eq!(walked, expected, "nothing skipped, nothing twice");
    }

    async fn sort_by_and_sort_order(db: TestDb) {
        let app = TestApp::spawn(db).await;
        let scim = app.scim_tenant("acme").await;
        for name in ["carol@x.com", "Alice@x.com", "bob@x.com"] {
            scim.create_user(name).await;
        }
        let names = |list: &Value| -> Vec<String> {
            list["Resources"].as_array().expect("r").iter().map(|u| u["userName"].as_str().expect("n").to_owned()).collect()
        };
        assert_eq!(names(&scim.get("/Users?sortBy=userName").await), ["Alice@x.com", "bob@x.com", "carol@x.com"]);
        assert_eq!(
            names(&scim.get("/Users?sortBy=userName&sortOrder=descending").await),
            ["carol@x.com", "bob@x.com", "Alice@x.com"]
        );
        assert_eq!(names(&scim.get("/Users?sortBy=emails.value").await), ["Alice@x.com", "bob@x.com", "carol@x.com"]);
        let err = scim.expect(Method::GET, "/Users?sortBy=userName&sortOrder=sideways", None, StatusCode::BAD_REQUEST).await;
        assert_eq!(err["scimType"], "invalidValue");
    }

    async fn attributes_and_excluded_attributes_project_responses(db: TestDb) {
        let app = TestApp::spawn(db).await;
        let scim = app.scim_tenant("acme").await;
        let user = scim.create_user("ada@example.com").await;
        let id = user["id"].as_str().expect("id");
        let only = scim.get(&format!("/Users/{id}?attributes=userName")).await;
        let keys: Vec<&String> = only.as_object().expect("object").keys().collect();
        assert_eq!(keys.len(), 3, "{only}");
        assert_eq!(only["userName"], "ada@example.com");
        let without = scim.get(&format!("/Users/{id}?excludedAttributes=emails,meta")).await;
        assert!(without.get("emails").is_none() && without.get("meta").is_none());
        assert_eq!(without["userName"], "ada@example.com");
        let listed = scim.get("/Users?attributes=emails.value").await;
        assert_eq!(listed["Resources"][0]["emails"], json!([{"value": "ada@example.com"}]));
    }

    async fn put_replaces_the_whole_user(db: TestDb) {
        let app = TestApp::spawn(db).await;
        let scim = app.scim_tenant("acme").await;
        let user = scim.expect(Method::POST, "/Users", Some(json!({
            "schemas": [USER], "userName": "ada@example.com", "title": "Countess", "nickName": "Ada",
        })), StatusCode::CREATED).await;
        let id = user["id"].as_str().expect("id");
        app.clock.advance(time::Duration::minutes(1));
        let replaced = scim.expect(Method::PUT, &format!("/Users/{id}"), Some(json!({
            "schemas": [USER], "id": id, "userName": "ada.lovelace@example.com", "title": "Analyst",
        })), StatusCode::OK).await;
        assert_eq!(replaced["userName"], "ada.lovelace@example.com");
        assert_eq!(replaced["title"], "Analyst");
        assert!(replaced.get("nickName").is_none(), "PUT replaces: {replaced}");
        assert_eq!(replaced["meta"]["created"], "2026-11-01T09:00:00Z");
        assert_eq!(replaced["meta"]["lastModified"], "2026-11-01T09:01:00Z");
        assert_ne!(replaced["meta"]["version"], user["meta"]["version"]);
    }

    async fn a_nul_in_a_put_or_patch_is_refused_and_changes_nothing(db: TestDb) {
        let app = TestApp::spawn(db).await;
        let scim = app.scim_tenant("acme").await;
        let user = scim.expect(Method::POST, "/Users", Some(json!({
            "schemas": [USER], "userName": "ada@example.com", "title": "Countess",
        })), StatusCode::CREATED).await;
        let path = format!("/Users/{}", user["id"].as_str().expect("id"));
        let patch = |value: Value| patch_op(json!([{"op": "replace", "path": "title", "value": value}]));
        for (method, body) in [
            (Method::PATCH, patch(json!("Count\u{0}ess"))),
            (Method::PATCH, patch(json!(["\u{0}"]))),
            (Method::PUT, json!({"schemas": [USER], "userName": "ada@example.com", "title": "\u{0}"})),
        ] {
            let err = scim.expect(method, &path, Some(body.clone()), StatusCode::BAD_REQUEST).await;
            assert_eq!(err["scimType"], "invalidValue", "{body}");
        }
        let group = scim.expect(Method::POST, "/Groups", Some(json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Eng\u{0}",
        })), StatusCode::BAD_REQUEST).await;
        assert_eq!(group["scimType"], "invalidValue");
        let kept = scim.get(&path).await;
        assert_eq!(kept["title"], "Countess");
        assert_eq!(kept["meta"]["version"], user["meta"]["version"]);
        assert_eq!(scim.get("/Groups").await["totalResults"], 0);
    }

    async fn etags_and_preconditions_are_honoured(db: TestDb) {
        let app = TestApp::spawn(db).await;
        let scim = app.scim_tenant("acme").await;
        let user = scim.create_user("ada@example.com").await;
        let id = user["id"].as_str().expect("id").to_owned();
        let etag = user["meta"]["version"].as_str().expect("version").to_owned();
        let url = app.url(&format!("/scim/v2/acme/Users/{id}"));
        let not_modified = app.http.get(&url).bearer_auth(&scim.token).header("if-none-match", &etag).send().await.expect("send");
        assert_eq!(not_modified.status(), StatusCode::NOT_MODIFIED);
        let patch = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                           "Operations": [{"op": "replace", "path": "title", "value": "Countess"}]});
        let stale = app.http.patch(&url).bearer_auth(&scim.token).header("if-match", "W/\"99\"")
            .header("content-type", "application/scim+json").body(patch.to_string()).send().await.expect("send");
        assert_eq!(stale.status(), StatusCode::PRECONDITION_FAILED);
        let fresh = app.http.patch(&url).bearer_auth(&scim.token).header("if-match", &etag)
            .header("content-type", "application/scim+json").body(patch.to_string()).send().await.expect("send");
        assert_eq!(fresh.status(), StatusCode::OK);
        let new_etag = fresh.headers()["etag"].to_str().expect("etag").to_owned();
        assert_ne!(new_etag, etag);
        let stale_delete = app.http.delete(&url).bearer_auth(&scim.token).header("if-match", &etag).send().await.expect("send");
        assert_eq!(stale_delete.status(), StatusCode::PRECONDITION_FAILED);
        let delete = app.http.delete(&url).bearer_auth(&scim.token).header("if-match", &new_etag).send().await.expect("send");
        assert_eq!(delete.status(), StatusCode::NO_CONTENT);
    }

    async fn delete_removes_the_user_and_its_memberships(db: TestDb) {
        let app = TestApp::spawn(db).await;
        let scim = app.scim_tenant("acme").await;
        let user = scim.create_user("ada@example.com").await;
        let id = user["id"].as_str().expect("id").to_owned();
        let group = scim.create_group("Engineering", &[&id]).await;
        scim.expect(Method::DELETE, &format!("/Users/{id}"), None, StatusCode::NO_CONTENT).await;
        scim.expect(Method::GET, &format!("/Users/{id}"), None, StatusCode::NOT_FOUND).await;
        scim.expect(Method::DELETE, &format!("/Users/{id}"), None, StatusCode::NOT_FOUND).await;
        let group = scim.get(&format!("/Groups/{}", group["id"].as_str().expect("id"))).await;
        assert_eq!(group["members"], json!([]));
        let types = scim.event_types().await;
        assert_eq!(types, ["user.created", "group.created", "group.member_added", "user.deleted", "group.member_removed"]);
    }

    async fn ids_of_another_tenant_are_404(db: TestDb) {
        let app = TestApp::spawn(db).await;
        let acme = app.scim_tenant("acme").await;
        let globex = app.scim_tenant("globex").await;
        let user = acme.create_user("ada@example.com").await;
        let id = user["id"].as_str().expect("id");
        for method in [Method::GET, Method::DELETE] {
            globex.expect(method, &format!("/Users/{id}"), None, StatusCode::NOT_FOUND).await;
        }
        globex.expect(Method::PUT, &format!("/Users/{id}"), Some(json!({"schemas": [USER], "userName": "x"})), StatusCode::NOT_FOUND).await;
        let listed = globex.get("/Users").await;
        assert_eq!(listed["totalResults"], 0);
        for bad in ["nope", "1", "00000000-0000-0000-0000-000000000000"] {
            acme.expect(Method::GET, &format!("/Users/{bad}"), None, StatusCode::NOT_FOUND).await;
        }
        acme.get(&format!("/Users/{id}")).await;
    }

    async fn bad_bodies_are_scim_errors_and_write_nothing(db: TestDb) {
        let app = TestApp::spawn(db).await;
        let scim = app.scim_tenant("acme").await;
        let raw = |body: &'static str| {
            let app = &app;
            let token = scim.token.clone();
            async move {
                app.http.post(app.url("/scim/v2/acme/Users")).bearer_auth(token)
                    .header("content-type", "application/scim+json").body(body).send().await.expect("send")
            }
        };
        let response = raw("{not json").await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let body: Value = response.json().await.expect("json");
        assert_eq!(body["scimType"], "invalidSyntax");
        for (body, scim_type) in [
            (json!({"userName": "a"}), "invalidSyntax"),
            (json!({"schemas": [USER]}), "invalidValue"),
            (json!({"schemas": [USER], "userName": "a", "active": "maybe"}), "invalidValue"),
            (json!({"schemas": [USER], "userName": "a", "emails": 5}), "invalidValue"),
            (json!({"schemas": [USER], "userName": ["a"]}), "invalidValue"),
            (json!({"schemas": [USER], "userName": {"$ne": ""}}), "invalidValue"),
            (json!({"schemas": [USER], "userName": 42}), "invalidValue"),
            (json!({"schemas": [USER], "userName": "a", "name": {"familyName": false}}), "invalidValue"),
            // U+0000 anywhere: PostgreSQL could not read the document back in a filter.
            (json!({"schemas": [USER], "userName": "a", "title": "x\u{0}y"}), "invalidValue"),
            (json!({"schemas": [USER, ENTERPRISE], "userName": "a", ENTERPRISE: {"department": "\u{0}"}}), "invalidValue"),
            (json!({"schemas": [USER], "userName": "a", "x\u{0}": "y"}), "invalidValue"),
            // One user cannot grow without bound: at most 100 values per attribute.
            (json!({"schemas": [USER], "userName": "a",
                "emails": (0..101).map(|i| json!({"value": format!("{i}@x.com")})).collect::<Vec<_>>()}), "invalidValue"),
        ] {
            let err = scim.expect(Method::POST, "/Users", Some(body.clone()), StatusCode::BAD_REQUEST).await;
            assert_eq!(err["scimType"], scim_type, "{body}");
        }
        // Just over the default 1 MiB limit.
        let huge = format!(r#"{{"schemas":["{USER}"],"userName":"{}"}}"#, "a".repeat(1024 * 1024));
        // Its own client: the server answers 413 from Content-Length alone and closes
        // the connection without reading the body, and a pooled connection closed that
        // way must not be picked up by the requests below.
        let sent = reqwest::Client::new().post(app.url("/scim/v2/acme/Users")).bearer_auth(&scim.token)
            .header("content-type", "application/scim+json").body(huge).send().await;
        // A client still writing the body may see the close before the answer. Either
        // way the body is refused, which the checks below confirm.
        match sent {
            Ok(response) => {
                assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
                let body: Value = response.json().await.expect("a SCIM error");
                assert_eq!(body["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:Error");
                assert_eq!(body["status"], "413");
            }
            Err(e) => assert!(e.is_request(), "{e}"),
        }
        let text = app.http.post(app.url("/scim/v2/acme/Users")).bearer_auth(&scim.token)
            .header("content-type", "text/plain").body("x").send().await.expect("send");
        assert_eq!(text.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert_eq!(scim.get("/Users").await["totalResults"], 0);
        assert!(scim.events().await.is_empty());
    }

    async fn the_body_limit_is_configurable_and_advertised(db: TestDb) {
        let app = TestApp::spawn_with(db, TestOptions {
            scim_body_limit: ScimBodyLimit::new(8 * 1024).expect("a valid limit"),
            ..TestOptions::default()
        }).await;
        let scim = app.scim_tenant("acme").await;
        let config = scim.get("/ServiceProviderConfig").await;
        assert_eq!(config["bulk"]["maxPayloadSize"], 8 * 1024);
        // A user an IdP would send fits; one with a 10 KiB title does not.
        scim.expect(Method::POST, "/Users", Some(json!({"schemas": [USER], "userName": "a@x.com"})), StatusCode::CREATED).await;
        let response = app.http.post(app.url("/scim/v2/acme/Users")).bearer_auth(&scim.token)
            .header("content-type", "application/scim+json")
            .body(json!({"schemas": [USER], "userName": "b@x.com", "title": "t".repeat(10 * 1024)}).to_string())
            .send().await.expect("a 10 KiB body is read whole before the answer");
        assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
        let body: Value = response.json().await.expect("a SCIM error");
        assert_eq!(body["status"], "413");
        assert!(body["detail"].as_str().expect("detail").contains("8192 bytes"), "{body}");
        assert_eq!(scim.get("/Users").await["totalResults"], 1);
        // PATCH is held to the same limit.
        let id = scim.get("/Users").await["Resources"][0]["id"].as_str().expect("id").to_owned();
        let response = app.http.patch(app.url(&format!("/scim/v2/acme/Users/{id}"))).bearer_auth(&scim.token)
            .header("content-type", "application/scim+json")
            .body(json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "replace", "path": "title", "value": "t".repeat(10 * 1024)}]}).to_string())
            .send().await.expect("send");
        assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert!(scim.get(&format!("/Users/{id}")).await.get("title").is_none());
    }

    async fn json_content_type_is_accepted_as_well_as_scim_json(db: TestDb) {
        let app = TestApp::spawn(db).await;
        let scim = app.scim_tenant("acme").await;
        let response = app.http.post(app.url("/scim/v2/acme/Users")).bearer_auth(&scim.token)
            .header("content-type", "application/json; charset=utf-8")
            .body(json!({"schemas": [USER], "userName": "a@x.com"}).to_string()).send().await.expect("send");
        assert_eq!(response.status(), StatusCode::CREATED);
        assert_eq!(response.headers()["content-type"], "application/scim+json");
    }

    async fn password_is_accepted_never_stored_never_returned(db: TestDb) {
        let app = TestApp::spawn(db).await;
        let scim = app.scim_tenant("acme").await;
        let user = scim.expect(Method::POST, "/Users", Some(json!({
            "schemas": [USER], "userName": "ada@example.com", "password": "t1meMa$heen",
        })), StatusCode::CREATED).await;
        assert!(user.get("password").is_none());
        let id = user["id"].as_str().expect("id");
        let fetched = scim.get(&format!("/Users/{id}?attributes=password")).await;
        assert!(fetched.get("password").is_none());
        let admin = app.admin(Method::GET, "/api/v1/tenants/acme/users").send().await.expect("send").text().await.expect("text");
        assert!(!admin.contains("t1meMa$heen"));
        let stored = app.store.user_by_id(user_tenant(&app).await, id.parse().expect("uuid")).await.expect("read").expect("user");
        assert!(!Value::Object(stored.document).to_string().contains("t1meMa$heen"));
    }

    async fn events_and_provisioning_log_record_every_change(db: TestDb) {
        let app = TestApp::spawn(db).await;
        let scim = app.scim_tenant("acme").await;
        let user = scim.create_user("ada@example.com").await;
        let id = user["id"].as_str().expect("id").to_owned();
        scim.expect(Method::PATCH, &format!("/Users/{id}"), Some(patch_op(json!([{"op": "replace", "path": "title", "value": "Countess"}]))), StatusCode::OK).await;
        scim.expect(Method::PATCH, &format!("/Users/{id}"), Some(patch_op(json!([{"op": "replace", "value": {"active": false}}]))), StatusCode::OK).await;
        // The same value again changes nothing and raises nothing.
        scim.expect(Method::PATCH, &format!("/Users/{id}"), Some(patch_op(json!([{"op": "replace", "value": {"active": false}}]))), StatusCode::OK).await;
        scim.expect(Method::PATCH, &format!("/Users/{id}"), Some(patch_op(json!([{"op": "replace", "path": "active", "value": true}]))), StatusCode::OK).await;
        scim.expect(Method::DELETE, &format!("/Users/{id}"), None, StatusCode::NO_CONTENT).await;
        scim.expect(Method::POST, "/Users", Some(json!({"schemas": [USER]})), StatusCode::BAD_REQUEST).await;

        let events = scim.events().await;
        let types: Vec<&str> = events.iter().map(|e| e["type"].as_str().expect("type")).collect();
        assert_eq!(types, ["user.created", "user.updated", "user.deactivated", "user.reactivated", "user.deleted"]);
        let seqs: Vec<i64> = events.iter().map(|e| e["seq"].as_i64().expect("seq")).collect();
        assert_eq!(seqs, [1, 2, 3, 4, 5]);
        assert_eq!(events[0]["data"]["user"]["userName"], "ada@example.com");
        assert_eq!(events[0]["tenant"], "acme");
        assert!(events.iter().all(|e| e["resource_id"] == id.as_str()));

        // Paging the feed from a cursor.
        let after: Value = app.admin_get("/api/v1/tenants/acme/events?after=3").await;
        assert_eq!(after["data"].as_array().map(Vec::len), Some(2));
        assert_eq!(after["next_cursor"], "5");
        let end: Value = app.admin_get("/api/v1/tenants/acme/events?after=5").await;
        assert_eq!(end["data"], json!([]));
        assert_eq!(end["next_cursor"], "5");

        let log: Value = app.admin_get("/api/v1/tenants/acme/provisioning-log").await;
        let lines = log["data"].as_array().expect("data");
        let statuses: Vec<u64> = lines.iter().map(|l| l["status"].as_u64().expect("status")).collect();
        // Newest first; the unchanged PATCH wrote nothing.
        assert_eq!(statuses, [400, 204, 200, 200, 200, 201]);
        assert_eq!(lines[0]["reason"], "invalidValue: userName is required");
        assert_eq!(lines[1]["method"], "DELETE");
        assert_eq!(lines[1]["path"], format!("/scim/v2/acme/Users/{id}"));
        let text = log.to_string();
        assert!(!text.contains(&scim.token));
    }

    async fn every_scim_route_is_503_when_the_database_is_gone(db: TestDb) {
        // Whichever way the token is read (the middleware's statement, or a
        // lookup's own), a database that does not answer is 503 in SCIM's error
        // format, never a 401 that would tell an IdP its token is bad, nor a 500.
        let app = TestApp::spawn(db).await;
        let scim = app.scim_tenant("acme").await;
        let user = scim.expect(Method::POST, "/Users", Some(json!({
            "schemas": [USER], "userName": "ada@example.com",
        })), StatusCode::CREATED).await;
        let id = user["id"].as_str().expect("id").to_owned();
        app.store.close().await;
        let patch = json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": "displayName", "value": "Ada"}],
        });
        let requests = [
            (Method::GET, format!("/Users?filter={}", q(r#"userName eq "ada@example.com""#)), None),
            (Method::GET, format!("/Users?filter={}", q(&format!("id eq \"{id}\""))), None),
            (Method::GET, "/Users?startIndex=1&count=10".to_owned(), None),
            (Method::GET, format!("/Users?filter={}", q("userName eq")), None),
            (Method::GET, format!("/Users/{id}"), None),
            (Method::PATCH, format!("/Users/{id}"), Some(patch)),
            (Method::POST, "/Users".to_owned(), Some(json!({"schemas": [USER], "userName": "grace@example.com"}))),
            (Method::GET, "/Groups".to_owned(), None),
        ];
        for (method, path, body) in requests {
            let response = scim.send(method.clone(), &path, body).await;
            assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE, "{method} {path}");
            let body: Value = response.json().await.expect("json");
            assert_eq!(body["status"], "503", "{method} {path}");
            assert_eq!(body["schemas"], json!(["urn:ietf:params:scim:api:messages:2.0:Error"]));
        }
    }

    async fn refused_tokens_reach_the_provisioning_log(db: TestDb) {
        let app = TestApp::spawn(db).await;
        let scim = app.scim_tenant("acme").await;
        app.scim(Method::GET, "acme", "/Users?filter=userName%20eq%20%22x%22", "idb_scim_wrong", None).await;
        let log: Value = app.admin_get("/api/v1/tenants/acme/provisioning-log").await;
        assert_eq!(log["data"][0]["status"], 401);
        assert_eq!(log["data"][0]["token_id"], Value::Null);
        assert_eq!(log["data"][0]["path"], "/scim/v2/acme/Users", "the query is not logged");
        let _ = scim;
    }

    async fn admin_api_lists_the_directory(db: TestDb) {
        let app = TestApp::spawn(db).await;
        let scim = app.scim_tenant("acme").await;
        let user = scim.expect(Method::POST, "/Users", Some(json!({
            "schemas": [USER], "userName": "ada@example.com", "displayName": "Ada Lovelace",
            "name": {"givenName": "Ada", "familyName": "Lovelace"},
            "emails": [{"value": "other@example.com"}, {"value": "ada@example.com", "primary": true}],
            "roles": [{"value": "admin", "primary": true}],
        })), StatusCode::CREATED).await;
        let id = user["id"].as_str().expect("id");
        scim.create_group("Engineering", &[id]).await;
        let users: Value = app.admin_get("/api/v1/tenants/acme/users").await;
        let ada = &users["data"][0];
        assert_eq!(ada["user_name"], "ada@example.com");
        assert_eq!(ada["email"], "ada@example.com");
        assert_eq!(ada["given_name"], "Ada");
        assert_eq!(ada["display_name"], "Ada Lovelace");
        assert_eq!(ada["idp_roles"], json!(["admin"]));
        assert_eq!(ada["groups"][0]["display_name"], "Engineering");
        assert_eq!(ada["source"], "scim");
        assert_eq!(ada["active"], true);
        let one: Value = app.admin_get(&format!("/api/v1/tenants/acme/users/{id}")).await;
        assert_eq!(&one, ada);
        let groups: Value = app.admin_get("/api/v1/tenants/acme/groups").await;
        assert_eq!(groups["data"][0]["display_name"], "Engineering");
    }
}

async fn user_tenant(app: &TestApp) -> uuid::Uuid {
    let tenant: Value = app.admin_get("/api/v1/tenants/acme").await;
    tenant["id"].as_str().expect("id").parse().expect("uuid")
}
