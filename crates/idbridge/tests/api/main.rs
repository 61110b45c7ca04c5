//! Integration tests: the real service over real HTTP on loopback, each test on a
//! fresh SQLite file and (with IDBRIDGE_TEST_DATABASE_URL) a fresh PostgreSQL
//! database. All integration tests build into this one binary.

mod helpers;

mod admin_auth;
mod bad_input;
mod branding;
mod browser;
mod browser_accessibility;
mod browser_keyboard;
mod browser_oidc_journey;
mod browser_pages;
mod browser_setup_journey;
mod clients;
mod console;
mod dev_idp;
mod dns_server;
mod domains;
mod form_client;
mod mail;
mod manual_users;
mod observability;
mod oidc;
mod oidc_connections;
mod process;
mod rate_limit;
mod saml_acs;
mod saml_setup;
mod scim2_tester;
mod scim_groups;
mod scim_idp;
mod scim_tokens;
mod scim_users;
mod setup_links;
mod setup_portal;
mod tenants;
mod tidy;
mod webhooks;
