//! The tenant admin's setup portal (`/setup`) over real HTTP, as a browser drives
//! it: opening a link, the guides in each console's words, configuring SAML and
//! SCIM through it, and every refusal: no link, an expired or revoked link, a
//! forged form, and a link of one tenant reaching for another.

use idbridge_core::Clock;
use idbridge_testkit::both_backends;
use idbridge_testkit::saml::{Key, TestIdp};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::form_client::{FormClient, Page};
use crate::helpers::TestApp;
use crate::setup_links::create_link;

/// A client that has opened a fresh `provider` link of `slug`.
async fn open_link<'a>(app: &'a TestApp, slug: &str, provider: &str) -> (FormClient<'a>, String) {
    let (created, token) = create_link(app, slug, json!({"provider": provider})).await;
    let mut client = FormClient::new(app);
    let opened = client.get(&format!("/setup?token={token}")).await;
    assert_eq!(opened.status, StatusCode::SEE_OTHER, "{}", opened.body);
    let overview = client.get("/setup").await;
    assert_eq!(overview.status, StatusCode::OK, "{}", overview.body);
    (client, created["id"].as_str().expect("id").to_owned())
}

async fn saml_view(app: &TestApp, slug: &str) -> Value {
    app.admin_get(&format!("/api/v1/tenants/{slug}/saml")).await
}

async fn scim_token_count(app: &TestApp, slug: &str) -> usize {
    let list: Value = app
        .admin_get(&format!("/api/v1/tenants/{slug}/scim-tokens"))
        .await;
    list["data"].as_array().expect("data").len()
}

/// The Secret Token shown on a page (once).
fn shown_token(page: &Page) -> Option<String> {
    let start = page.body.find("idb_scim_")?;
    let end = page.body[start..].find('"')? + start;
    Some(page.body[start..end].to_owned())
}

both_backends! {
    async fn portal_opens_a_link_into_a_cookie_and_a_clean_address(db: TestDb) {
        let app = TestApp::spawn(db).await;
        app.create_tenant("acme").await;
        let (_, token) = create_link(&app, "acme", json!({"provider": "entra"})).await;
        let mut client = FormClient::new(&app);
        let opened = client.get(&format!("/setup?token={token}")).await;
        assert_eq!(opened.status, StatusCode::SEE_OTHER);
        assert_eq!(opened.location(), "/setup", "the token leaves the address bar");
        assert_eq!(opened.header("referrer-policy"), "no-referrer");
        let cookie = opened.set_cookies().into_iter().find(|c| c.starts_with("idbridge_setup=")).expect("cookie");
        for attribute in ["HttpOnly", "SameSite=Lax", "Path=/setup", "Max-Age=259200"] {
            assert!(cookie.contains(attribute), "{attribute} missing: {cookie}");
        }

        let overview = client.get("/setup").await;
        assert_eq!(overview.status, StatusCode::OK);
        assert!(overview.body.contains("acme Inc"));
        assert!(overview.body.contains("Microsoft Entra ID"), "the link's guide is the default");
        // Not no-referrer: a browser would then send `Origin: null` with every form.
        for (name, value) in [("referrer-policy", "same-origin"), ("cache-control", "no-store"), ("x-frame-options", "DENY")] {
            assert_eq!(overview.header(name), value, "{name}");
        }
        assert!(overview.header("content-security-policy").contains("script-src 'self'"));
        assert!(!overview.body.contains(&token), "the page never shows the link's token");

        // The guides, in the words of each console (the seeds' words).
        let entra_sso = client.get("/setup/sso?guide=entra").await;
        for words in ["Identifier (Entity ID)", "Reply URL (Assertion Consumer Service URL)", "App Federation Metadata Url", "user.mail", "Non-gallery", "Test connection"] {
            assert!(entra_sso.body.contains(words), "Entra SSO guide lacks {words:?}");
        }
        assert!(entra_sso.body.contains(&format!("{}/saml/acme/acs", app.base)));
        let entra_scim = client.get("/setup/provisioning?guide=entra").await;
        for words in ["Tenant URL", "Secret Token", "Provisioning Mode", "Automatic", "SingleAppRoleAssignment([appRoleAssignments])", r#"roles[primary eq "True"].value"#, "Test Connection", "Provision on demand"] {
            assert!(entra_scim.body.contains(words), "Entra SCIM guide lacks {words:?}");
        }
        assert!(entra_scim.body.contains(&format!("{}/scim/v2/acme", app.base)));
        let okta_sso = client.get("/setup/sso?guide=okta").await;
        for words in ["Audience URI (SP Entity ID)", "Single sign-on URL", "Metadata URL", "user.email", r#"user.firstName + " " + user.lastName"#] {
            assert!(okta_sso.body.contains(&words.replace('"', "&quot;")) || okta_sso.body.contains(words), "Okta SSO guide lacks {words:?}");
        }
        let okta_scim = client.get("/setup/provisioning?guide=okta").await;
        for words in ["Enable API Integration", "Test API Credentials", "Create Users", "Update User Attributes", "Deactivate Users", "Push Groups", "Push group memberships immediately"] {
            assert!(okta_scim.body.contains(words), "Okta SCIM guide lacks {words:?}");
        }
        let generic = client.get("/setup/sso?guide=generic").await;
        assert!(generic.body.contains("SP metadata URL"));
        // An unknown guide falls back to the link's.
        assert!(client.get("/setup/sso?guide=nonsense").await.body.contains("App Federation Metadata Url"));
    }

    async fn portal_configures_sso_tests_it_and_issues_a_scim_token_shown_once(db: TestDb) {
        let app = TestApp::spawn(db).await;
        app.create_tenant("acme").await;
        let (mut client, link_id) = open_link(&app, "acme", "okta").await;
        let idp = TestIdp::okta(Key::P256);

        // Test connection before any metadata: refused with the next step to take.
        client.get("/setup/sso").await;
        let early = client.post("/setup/sso/test", &[("guide", "okta")]).await;
        assert_eq!(early.status, StatusCode::CONFLICT);
        assert!(early.body.contains("metadata first"));

        // Bad metadata is refused with the reason, and what was typed is kept.
        let bad = client.post("/setup/sso", &[("guide", "okta"), ("metadata_xml", "<not-metadata/>"), ("want_assertions_signed", "on")]).await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST);
        assert!(bad.body.contains("notice-error"));
        assert!(bad.body.contains("&#60;not-metadata/&#62;"), "{}", bad.body);
        assert_eq!(saml_view(&app, "acme").await["configured"], false);
        // A web page pasted instead of the metadata: said beside the field, in the
        // admin's words and the guide's console, with the field marked for assistive
        // technology and focused.
        let page = client.post("/setup/sso", &[("guide", "entra"), ("metadata_xml", "<html><body>Sign in to your account</body></html>"), ("want_assertions_signed", "on")]).await;
        assert_eq!(page.status, StatusCode::BAD_REQUEST);
        assert!(page.body.contains("id=\"metadata_xml-error\" class=\"field-error\">This is a web page, not Federation Metadata XML."), "{}", page.body);
        assert!(page.body.contains("App Federation Metadata Url"), "{}", page.body);
        assert!(page.body.contains("aria-invalid=\"true\" aria-describedby=\"metadata_xml-error metadata-xml-help\" autofocus"), "{}", page.body);
        assert!(!page.body.contains("root element"), "no developer words: {}", page.body);
        // The test button says why it cannot start yet.
        assert!(page.body.contains("Save the metadata first"), "{}", page.body);

        let saved = client.post("/setup/sso", &[("guide", "okta"), ("metadata_xml", &idp.metadata_xml()), ("want_assertions_signed", "on"), ("allow_idp_initiated", "on")]).await;
        assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
        assert_eq!(saved.location(), "/setup/sso?guide=okta&saved=1");
        let view = saml_view(&app, "acme").await;
        assert_eq!(view["configured"], true);
        assert_eq!(view["want_assertions_signed"], true);
        assert_eq!(view["want_response_signed"], false);
        let page = client.get(saved.location()).await;
        assert!(page.body.contains("Connected"));

        // Both signature requirements off is refused, as the API refuses it.
        let unsigned = client.post("/setup/sso", &[("guide", "okta")]).await;
        assert_eq!(unsigned.status, StatusCode::BAD_REQUEST);
        assert_eq!(saml_view(&app, "acme").await["want_assertions_signed"], true);

        let test = client.post("/setup/sso/test", &[("guide", "okta")]).await;
        assert_eq!(test.status, StatusCode::OK);
        assert!(test.body.contains("Open test sign-in"));
        assert!(test.body.contains(&idp.sso_url), "the test link goes to the IdP");
        // Okta's "Single sign-on URL" typed wrong: the result page says where to fix
        // it in Okta's words, and leads back to the portal's SSO step.
        let start = test.body.find(&format!("href=\"{}", idp.sso_url)).expect("test link") + 6;
        let href = &test.body[start..];
        let href = href[..href.find('"').expect("end")].replace("&#38;", "&").replace("&amp;", "&");
        let query: std::collections::HashMap<String, String> = url::Url::parse(&href).expect("url").query_pairs().into_owned().collect();
        let request = idbridge_saml::authn_request::inflate_redirect_payload(&query["SAMLRequest"]).expect("inflates");
        let request_id = request.split(" ID=\"").nth(1).and_then(|r| r.split('"').next()).expect("ID");
        let mut answer = idp.response_spec(&app.url("/saml/acme"), &app.url("/saml/acme/acs"), Some(request_id), "ada@acme.example", app.clock.now());
        answer.destination = Some(app.url("/saml/acme/acs-typo"));
        let refused = app.browser().post(app.url("/saml/acme/acs"))
            .form(&[("SAMLResponse", idp.post_value(&answer)), ("RelayState", query["RelayState"].clone())])
            .send().await.expect("send");
        assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
        let page = refused.text().await.expect("body");
        assert!(page.contains("How to fix it in Okta") && page.contains("&#34;Single sign-on URL&#34;"), "{page}");
        assert!(page.contains(&format!("value=\"{}\"", app.url("/saml/acme/acs"))), "{page}");
        assert!(page.contains(&format!("href=\"{}\"", app.url("/setup/sso"))) && page.contains("Back to setup"), "{page}");

        // A Secret Token: shown on the answer to the form, working, never shown again.
        client.get("/setup/provisioning").await;
        let generated = client.post_and_follow("/setup/provisioning/tokens", &[("guide", "okta")]).await;
        assert_eq!(generated.status, StatusCode::OK);
        let token = shown_token(&generated).expect("token on the page");
        let users = app.scim_get("acme", "/Users", &token).await;
        assert_eq!(users.status(), StatusCode::OK);
        let again = client.get("/setup/provisioning").await;
        assert!(shown_token(&again).is_none(), "the token is shown once");
        assert!(again.body.contains("Okta provisioning (setup portal)"));
        let overview = client.get("/setup").await;
        assert!(overview.body.contains("1 active token"));
        assert!(overview.body.contains("Okta last connected"), "the SCIM call above was seen");

        // Revoked from the portal: it stops working at once.
        let tokens: Value = app.admin_get("/api/v1/tenants/acme/scim-tokens").await;
        let token_id = tokens["data"][0]["id"].as_str().expect("id").to_owned();
        let revoked = client.post(&format!("/setup/provisioning/tokens/{token_id}/revoke"), &[("guide", "okta")]).await;
        assert_eq!(revoked.status, StatusCode::SEE_OTHER);
        assert_eq!(app.scim_get("acme", "/Users", &token).await.status(), StatusCode::UNAUTHORIZED);

        // The link records that it was used.
        let links: Value = app.admin_get("/api/v1/tenants/acme/setup-links").await;
        assert_eq!(links["data"][0]["id"], link_id);
        assert!(links["data"][0]["last_used_at"].is_string());
    }

    async fn portal_refuses_a_missing_expired_or_revoked_link(db: TestDb) {
        let app = TestApp::spawn(db).await;
        app.create_tenant("acme").await;

        // No link at all.
        let mut stranger = FormClient::new(&app);
        for path in ["/setup", "/setup/sso", "/setup/provisioning", "/setup/domains"] {
            let page = stranger.get(path).await;
            assert_eq!(page.status, StatusCode::UNAUTHORIZED, "{path}");
            assert!(page.body.contains("Open your setup link"));
        }
        // A made-up or mangled token.
        for token in ["idb_setup_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "nonsense", ""] {
            let page = stranger.get(&format!("/setup?token={token}")).await;
            assert_eq!(page.status, StatusCode::FORBIDDEN, "{token}");
            assert!(page.body.contains("This setup link does not work"));
            assert_eq!(page.header("referrer-policy"), "no-referrer", "the token is in this page's address");
        }

        // Revoked while open: the next page and the next form are refused, and the
        // form changes nothing.
        let (mut client, link_id) = open_link(&app, "acme", "entra").await;
        client.get("/setup/provisioning").await;
        let response = app.admin(Method::DELETE, &format!("/api/v1/tenants/acme/setup-links/{link_id}")).send().await.expect("send");
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
        let kept = client.cookies.clone();
        let post = client.post("/setup/provisioning/tokens", &[]).await;
        assert_eq!(post.status, StatusCode::FORBIDDEN);
        assert_eq!(scim_token_count(&app, "acme").await, 0);
        assert!(post.set_cookies().iter().any(|c| c.starts_with("idbridge_setup=;") && c.contains("Max-Age=0")));
        client.cookies = kept;
        assert_eq!(client.get("/setup").await.status, StatusCode::FORBIDDEN);
        assert_eq!(client.get("/setup/sso").await.status, StatusCode::FORBIDDEN);

        // Expired: fine until its end, refused after it, opened or not.
        let (_, unopened) = create_link(&app, "acme", json!({"expires_in_hours": 1})).await;
        let (mut client, _) = open_link(&app, "acme", "okta").await;
        app.clock.advance(time::Duration::minutes(59));
        assert_eq!(client.get("/setup/sso").await.status, StatusCode::OK);
        app.clock.advance(time::Duration::hours(72));
        let expired = client.get("/setup/sso").await;
        assert_eq!(expired.status, StatusCode::FORBIDDEN);
        assert!(expired.body.contains("expired or was revoked"));
        let late = FormClient::new(&app).get(&format!("/setup?token={unopened}")).await;
        assert_eq!(late.status, StatusCode::FORBIDDEN);
    }

    async fn portal_forms_need_the_token_and_the_pages_origin(db: TestDb) {
        let app = TestApp::spawn(db).await;
        app.create_tenant("acme").await;
        let (mut client, _) = open_link(&app, "acme", "entra").await;
        client.get("/setup/provisioning").await;
        let token = client.csrf.clone();
        let routes = ["/setup/sso", "/setup/sso/test", "/setup/provisioning/tokens", "/setup/domains", "/setup/domains/acme.example/verify", "/setup/domains/acme.example/remove", "/setup/leave"];
        let base = app.base.clone();
        for route in routes {
            for (form, origin, what) in [
                (vec![("domain", "acme.example")], Some(base.as_str()), "no token"),
                (vec![("domain", "acme.example"), ("csrf_token", "forged")], Some(base.as_str()), "wrong token"),
                (vec![("domain", "acme.example"), ("csrf_token", token.as_str())], Some("https://evil.example"), "foreign origin"),
                (vec![("domain", "acme.example"), ("csrf_token", token.as_str())], None, "no origin"),
            ] {
                let page = client.post_raw(route, &form, origin).await;
                assert_eq!(page.status, StatusCode::FORBIDDEN, "{route}: {what}");
                assert!(page.body.contains("Nothing was changed"), "{route}: {what}");
            }
        }
        assert_eq!(scim_token_count(&app, "acme").await, 0);
        let domains: Value = app.admin_get("/api/v1/tenants/acme/domains").await;
        assert_eq!(domains["data"].as_array().expect("data").len(), 0);
        assert_eq!(client.get("/setup").await.status, StatusCode::OK, "still in: leave was refused too");

        // Leaving ends this browser's visit (the link itself still works).
        let left = client.post("/setup/leave", &[]).await;
        assert_eq!(left.status, StatusCode::OK);
        assert!(left.body.contains("You left the setup portal"));
        assert_eq!(client.get("/setup").await.status, StatusCode::UNAUTHORIZED);
    }

    async fn portal_link_of_one_tenant_cannot_read_or_change_another(db: TestDb) {
        let app = TestApp::spawn(db).await;
        app.create_tenant("acme").await;
        app.create_tenant("globex").await;
        let (globex_token_id, globex_token) = app.create_scim_token("globex").await;
        let added = app.admin(Method::POST, "/api/v1/tenants/globex/domains").json(&json!({"domain": "globex.example"})).send().await.expect("send");
        assert_eq!(added.status(), StatusCode::CREATED);
        let idp = TestIdp::entra(Key::Rsa2048);

        let (mut client, link_id) = open_link(&app, "acme", "entra").await;
        // Pages show acme only, whatever the address says.
        for path in ["/setup?tenant=globex", "/setup/provisioning?slug=globex", "/setup/domains"] {
            let page = client.get(path).await;
            assert!(!page.body.contains("globex"), "{path} shows another tenant");
        }
        // Globex's token and domain are "not found" for acme's link, and unchanged.
        let revoke = client.post(&format!("/setup/provisioning/tokens/{globex_token_id}/revoke"), &[]).await;
        assert_eq!(revoke.status, StatusCode::NOT_FOUND);
        assert_eq!(app.scim_get("globex", "/Users", &globex_token).await.status(), StatusCode::OK);
        let remove = client.post("/setup/domains/globex.example/remove", &[]).await;
        assert_eq!(remove.status, StatusCode::NOT_FOUND);
        let domains: Value = app.admin_get("/api/v1/tenants/globex/domains").await;
        assert_eq!(domains["data"].as_array().expect("data").len(), 1);
        // No route takes a tenant: extra fields naming globex change acme only.
        let saved = client.post("/setup/sso", &[("metadata_xml", &idp.metadata_xml()), ("want_assertions_signed", "on"), ("slug", "globex"), ("tenant", "globex")]).await;
        assert_eq!(saved.status, StatusCode::SEE_OTHER);
        assert_eq!(saml_view(&app, "acme").await["configured"], true);
        assert_eq!(saml_view(&app, "globex").await["configured"], false);
        // The audit log names the link as the one who changed acme's SSO, and the
        // refused attempts on globex left nothing.
        let audit: Value = app.admin_get("/api/v1/audit-log?actor=setup_link").await;
        let records = audit["data"].as_array().expect("data");
        assert_eq!(records.len(), 1, "{records:?}");
        assert_eq!((records[0]["action"].as_str(), records[0]["tenant"].as_str()), (Some("saml.configured"), Some("acme")));
        assert_eq!(records[0]["actor"]["id"].as_str(), Some(link_id.to_string().as_str()));
        assert_eq!(client.get("/setup/globex/sso").await.status, StatusCode::NOT_FOUND);
        // Connections: another tenant's, and acme's own SAML one, are not the OpenID
        // Connect step's to remove or re-key.
        let globex_saml = app.admin(Method::PUT, "/api/v1/tenants/globex/saml").json(&json!({"idp_metadata_xml": idp.metadata_xml()})).send().await.expect("send");
        assert_eq!(globex_saml.status(), StatusCode::OK);
        let globex: Value = app.admin_get("/api/v1/tenants/globex").await;
        let acme: Value = app.admin_get("/api/v1/tenants/acme").await;
        for id in [globex["id"].as_str().expect("id"), acme["id"].as_str().expect("id")] {
            let remove = client.post(&format!("/setup/oidc/{id}/remove"), &[]).await;
            assert_eq!(remove.status, StatusCode::NOT_FOUND, "{id}");
            let rekey = client.post(&format!("/setup/oidc/{id}/secret"), &[("client_secret", "x")]).await;
            assert_eq!(rekey.status, StatusCode::NOT_FOUND, "{id}");
        }
        assert_eq!(saml_view(&app, "acme").await["configured"], true);
        assert_eq!(saml_view(&app, "globex").await["configured"], true);
    }

    async fn portal_answers_a_dead_database_with_an_error_not_a_refused_link(db: TestDb) {
        let app = TestApp::spawn(db).await;
        app.create_tenant("acme").await;
        let (mut client, _) = open_link(&app, "acme", "entra").await;
        app.store.close().await;
        for path in ["/setup", "/setup/sso"] {
            let page = client.get(path).await;
            assert_eq!(page.status, StatusCode::INTERNAL_SERVER_ERROR, "{path}");
            assert!(page.body.contains("Something went wrong"), "{path}");
            // The link is not called invalid, and the visit is not ended: it works
            // again when the database does.
            assert!(!page.body.contains("does not work"), "{path}");
            assert!(page.set_cookies().is_empty(), "{path}");
        }
    }

    async fn portal_escapes_names_it_did_not_write(db: TestDb) {
        let app = TestApp::spawn(db).await;
        let hostile = r#"<script>alert("x")</script>"#;
        let created = app.admin(Method::POST, "/api/v1/tenants").json(&json!({"slug": "acme", "name": hostile})).send().await.expect("send");
        assert_eq!(created.status(), StatusCode::CREATED);
        let (mut client, _) = open_link(&app, "acme", "generic").await;
        let typed = client.post("/setup/domains", &[("domain", "<img src=x onerror=alert(1)>")]).await;
        assert_eq!(typed.status, StatusCode::BAD_REQUEST);
        for page in [client.get("/setup").await, client.get("/setup/sso").await, client.get("/setup/provisioning").await, typed] {
            assert!(!page.body.contains("<script>alert"), "unescaped tenant name");
            assert!(!page.body.contains("<img src=x"), "unescaped domain");
        }
        assert!(client.get("/setup").await.body.contains("&#60;script&#62;"));
    }
    async fn portal_guides_for_more_idps_speak_each_consoles_words(db: TestDb) {
        let app = TestApp::spawn(db).await;
        app.create_tenant("acme").await;
        let entity_id = format!("{}/saml/acme", app.base);
        let acs = format!("{}/saml/acme/acs", app.base);
        let sp_metadata = format!("{}/saml/acme/metadata", app.base);
        let scim = format!("{}/scim/v2/acme", app.base);
        // (provider, name, the sso page's words, the provisioning page's words)
        let guides: [(&str, &str, &[&str], &[&str]); 5] = [
            ("google", "Google Workspace",
                &["Add custom SAML app", "Service provider details", "ACS URL", "Entity ID", "Start URL", "Signed response",
                  "Name ID format", "Primary email", "Google Directory attributes", "App attributes", "Group membership (optional)",
                  "Download Metadata", "GoogleIDPMetadata.xml", "User access", "ON for everyone"],
                &["Google Workspace does not push users", "automated user provisioning", "Sign-in creates the user"]),
            ("onelogin", "OneLogin",
                &["SAML Custom Connector (Advanced)", "SCIM Provisioner with SAML (SCIM v2 Enterprise)", "Audience (EntityID)", "Recipient",
                  "ACS (Consumer) URL Validator", "ACS (Consumer) URL", "SAML signature element", "Include in SAML assertion",
                  "Issuer URL", "SAML Metadata"],
                &["SCIM Provisioner with SAML (SCIM v2 Enterprise)", "API Connection", "SCIM Base URL", "SCIM Bearer Token", "API Status",
                  "Enable provisioning", "Require admin approval before this action is performed", "Create user", "Update user",
                  "Delete user", "Include in User Provisioning"]),
            ("jumpcloud", "JumpCloud",
                &["Custom Application", "Manage Single Sign-On (SSO)", "IdP Entity ID", "SP Entity ID", "ACS URLs", "SAMLSubject NameID",
                  "Service Provider Attribute Name", "JumpCloud Attribute Name", "Include group attribute", "Export Metadata", "User Groups"],
                &["Identity Management", "SCIM 2.0", "Base URL", "Token Key", "Test Connection", "Activate",
                  "Enable management of User Groups and Group Membership in this application"]),
            ("pingone", "PingOne",
                &["SAML Application", "ACS URLs", "Entity ID", "Subject NameID Format", "Sign Assertion", "Attribute Mappings", "saml_subject",
                  "Given Name", "Family Name", "Group Names", "IDP Metadata URL", "PingOne for Enterprise"],
                &["Integrations", "Provisioning", "SCIM Outbound", "SCIM Base URL", "OAuth 2 Bearer Token", "OAuth Access Token",
                  "Test Connection", "User Filter", "Attribute Mapping", "Group Provisioning"]),
            ("adfs", "Microsoft AD FS",
                &["Add Relying Party Trust", "Claims aware", "Import data about the relying party published online or on a local network",
                  "Federation metadata address", "Relying party trust identifier", "Access Control Policy", "Edit Claim Issuance Policy",
                  "Send LDAP Attributes as Claims", "E-Mail-Addresses", "E-Mail Address", "Transform an Incoming Claim", "Name ID",
                  "Outgoing name ID format", "/FederationMetadata/2007-06/FederationMetadata.xml"],
                &["AD FS does not provision users", "no SCIM client", "Sign-in creates the user"]),
        ];
        for (provider, name, sso_words, scim_words) in guides {
            let (mut client, _) = open_link(&app, "acme", provider).await;
            let overview = client.get("/setup").await;
            assert!(overview.body.contains(name), "{provider}: the overview names the IdP");
            assert!(overview.body.contains(&format!("?guide={provider}")), "{provider}: the overview offers the guide");
            // Every other guide can be chosen from the overview.
            for other in ["entra", "okta", "google", "onelogin", "jumpcloud", "pingone", "adfs", "generic"] {
                assert!(overview.body.contains(&format!("?guide={other}")), "{provider}: no choice of {other}");
            }

            // The link's own guide, without ?guide=.
            let sso = client.get("/setup/sso").await;
            assert_eq!(sso.status, StatusCode::OK, "{}", sso.body);
            for words in sso_words {
                assert!(sso.body.contains(words), "{provider} SSO guide lacks {words:?}");
            }
            for value in [&entity_id, &acs] {
                assert!(sso.body.contains(&format!(r#"value="{value}""#)), "{provider} SSO guide lacks {value}");
            }
            assert!(!sso.body.contains("Identifier (Entity ID)"), "{provider}: not Entra's words");
            let provisioning = client.get("/setup/provisioning").await;
            assert_eq!(provisioning.status, StatusCode::OK, "{}", provisioning.body);
            for words in scim_words {
                assert!(provisioning.body.contains(words), "{provider} SCIM guide lacks {words:?}");
            }
            assert!(provisioning.body.contains(&format!(r#"value="{scim}""#)), "{provider} SCIM guide lacks the base URL");
        }

        // OneLogin's validator is a regular expression for exactly the ACS URL.
        let (mut client, _) = open_link(&app, "acme", "onelogin").await;
        let pattern = format!("^{}$", acs.replace('/', r"\/").replace('.', r"\."));
        assert!(client.get("/setup/sso").await.body.contains(&pattern), "{pattern}");
        // AD FS reads idbridge's SP metadata.
        let (mut client, _) = open_link(&app, "acme", "adfs").await;
        assert!(client.get("/setup/sso").await.body.contains(&format!(r#"value="{sp_metadata}""#)));
        // Google Workspace's OpenID Connect guide is one link away.
        let (mut client, _) = open_link(&app, "acme", "google").await;
        assert!(client.get("/setup/sso").await.body.contains("/oidc?idp=google"));
        // A token generated from a guide says which IdP it is for.
        let (mut client, _) = open_link(&app, "acme", "jumpcloud").await;
        let generated = client.post_and_follow("/setup/provisioning/tokens", &[("guide", "jumpcloud")]).await;
        assert_eq!(generated.status, StatusCode::OK, "{}", generated.body);
        assert!(generated.body.contains("JumpCloud provisioning (setup portal)"));

        // The API takes exactly these values, lowercase; anything else is a 400.
        for provider in ["azure", "PingOne", "ping", "ad fs", ""] {
            let response = app.admin(Method::POST, "/api/v1/tenants/acme/setup-links")
                .json(&json!({"provider": provider})).send().await.expect("send");
            crate::helpers::expect_error(response, StatusCode::BAD_REQUEST, "invalid_body").await;
        }
        let list: Value = app.admin_get("/api/v1/tenants/acme/setup-links?limit=100").await;
        let mut providers: Vec<&str> = list["data"].as_array().expect("data").iter()
            .map(|l| l["provider"].as_str().expect("provider")).collect();
        providers.sort_unstable();
        providers.dedup();
        assert_eq!(providers, ["adfs", "google", "jumpcloud", "onelogin", "pingone"], "stored as given");
    }
}

both_backends! {
    async fn the_overview_marks_finished_steps_and_finish_tells_the_app(db: TestDb) {
        let dns = crate::dns_server::TestDns::start().await;
        let app = TestApp::spawn_with_dns_resolver(db, dns.addr).await;
        app.create_tenant("acme").await;
        let (mut client, link_id) = open_link(&app, "acme", "okta").await;
        let overview = client.get("/setup").await;
        assert!(overview.body.contains("Start with single sign-on"), "{}", overview.body);
        assert!(!overview.body.contains("class=\"done\""));

        let idp = TestIdp::okta(Key::Rsa2048);
        let saved = app.admin(Method::PUT, "/api/v1/tenants/acme/saml").json(&json!({"idp_metadata_xml": idp.metadata_xml()})).send().await.expect("send");
        assert_eq!(saved.status(), StatusCode::OK);
        let overview = client.get("/setup").await;
        assert!(overview.body.contains("1. Single sign-on</a><span class=\"visually-hidden\"> (done)</span>"), "{}", overview.body);
        assert!(overview.body.contains("Next: provisioning"), "{}", overview.body);
        // Finish before the last step: refused, saying what is left, and nothing told.
        let early = client.post("/setup/finish", &[("guide", "okta")]).await;
        assert_eq!(early.status, StatusCode::CONFLICT, "{}", early.body);
        assert!(early.body.contains("A step is not finished yet"));

        app.create_scim_token("acme").await;
        assert!(client.get("/setup").await.body.contains("Next: email domains"));
        let claim: Value = app.admin(Method::POST, "/api/v1/tenants/acme/domains").json(&json!({"domain": "acme.test"})).send().await.expect("send").json().await.expect("json");
        dns.add_txt(claim["txt_record"]["name"].as_str().expect("name"), &[claim["txt_record"]["value"].as_str().expect("value")]).await;
        let checked: Value = app.admin(Method::POST, "/api/v1/tenants/acme/domains/acme.test/verify").send().await.expect("send").json().await.expect("json");
        assert_eq!(checked["verified"], true, "{checked}");

        let overview = client.get("/setup").await;
        assert_eq!(overview.body.matches("class=\"done\"").count(), 3, "{}", &overview.body[overview.body.find("progress-title").unwrap_or(0)..]);
        assert!(overview.body.contains("Finish setup"));
        let finished = client.post("/setup/finish", &[("guide", "okta")]).await;
        assert_eq!(finished.status, StatusCode::SEE_OTHER, "{}", finished.body);
        assert_eq!(finished.location(), "/setup/done?guide=okta&finished=1");
        let done = client.get(finished.location()).await;
        assert!(done.body.contains("<h1>All set</h1>") && done.body.contains("The app's team has been told"), "{}", done.body);

        // The app hears of it in the feed (and so by webhook); the operator in the audit log.
        let events: Value = app.admin_get("/api/v1/tenants/acme/events?limit=1000").await;
        let completed: Vec<&Value> = events["data"].as_array().expect("data").iter().filter(|e| e["type"] == "setup.completed").collect();
        assert_eq!(completed.len(), 1, "{events}");
        let audit: Value = app.admin_get("/api/v1/audit-log?action=setup.completed").await;
        let record = &audit["data"][0];
        assert_eq!((record["actor"]["kind"].as_str(), record["actor"]["id"].as_str(), record["tenant"].as_str()), (Some("setup_link"), Some(link_id.as_str()), Some("acme")), "{audit}");
    }
}
