//! `prepare-acs`: sets up a tenant with a SAML connection to the test IdP and an app
//! to land on, then signs N distinct IdP-initiated responses (Entra ID shape,
//! RSA-2048) for `scripts/bench-acs` to post. Responses are distinct because the
//! replay cache accepts each assertion once; their users come from a pool, so most
//! sign-ins find an existing user, as in production, and the first of each creates
//! it just in time.
//!
//!     prepare-acs --database-url sqlite:///tmp/acs.db --public-url http://bench.local \
//!         --responses 40000 --out /tmp/acs
//!
//! Writes `<out>/bodies`: one `application/x-www-form-urlencoded` body per line.

#[path = "prepared.rs"]
mod prepared;

use std::io::Write;
use std::path::PathBuf;

use clap::Parser;
use idbridge_saml::{Certificate, metadata};
use idbridge_store::SamlConnection;
use idbridge_testkit::saml::{Key, TestIdp};
use time::OffsetDateTime;

const SLUG: &str = "bench-sso";
const CALLBACK: &str = "https://app.example.com/auth/callback";

#[derive(Parser)]
struct Args {
    #[arg(long)]
    database_url: String,
    /// The `--public-url` the server will run with (responses are addressed to it).
    #[arg(long)]
    public_url: String,
    #[arg(long, default_value_t = 40_000)]
    responses: usize,
    /// Distinct users the responses sign in.
    #[arg(long, default_value_t = 2_000)]
    users: usize,
    #[arg(long)]
    out: PathBuf,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    std::fs::create_dir_all(&args.out)?;
    let store = prepared::open(&args.database_url).await?;
    let now = OffsetDateTime::now_utc();
    let (tenant, client) =
        prepared::tenant_with_app(store.as_ref(), SLUG, "Bench SSO", CALLBACK, now).await?;
    let idp = TestIdp::entra(Key::Rsa2048);
    let xml = idp.metadata_xml();
    let parsed = metadata::parse(&xml)?;
    store
        .put_saml_connection(
            &SamlConnection {
                connection_id: tenant.id,
                tenant_id: tenant.id,
                idp_entity_id: parsed.entity_id.clone(),
                idp_sso_redirect_url: parsed.sso_redirect_url.clone(),
                idp_sso_post_url: parsed.sso_post_url.clone(),
                idp_certificates: parsed
                    .signing_certificates
                    .iter()
                    .map(Certificate::to_base64)
                    .collect(),
                metadata_xml: xml,
                metadata_url: None,
                metadata_fetched_at: None,
                metadata_checked_at: None,
                metadata_error: None,
                want_assertions_signed: true,
                want_response_signed: false,
                sign_authn_requests: false,
                allow_idp_initiated: true,
                default_redirect_uri: Some(CALLBACK.into()),
                default_client_id: Some(client.id),
                email_attributes: None,
                clock_skew_seconds: 180,
                created_at: now,
                updated_at: now,
            },
            None,
        )
        .await?;
    store.close().await;

    let base = args.public_url.trim_end_matches('/');
    let sp = format!("{base}/saml/{SLUG}");
    let acs = format!("{sp}/acs");
    let mut bodies = std::io::BufWriter::new(std::fs::File::create(args.out.join("bodies"))?);
    let started = std::time::Instant::now();
    for i in 0..args.responses {
        let email = format!("user{}@bench.example.com", i % args.users.max(1));
        let spec = idp.response_spec(&sp, &acs, None, &email, now);
        let value = idp.post_value(&spec);
        writeln!(bodies, "SAMLResponse={}", form_encode(&value))?;
    }
    bodies.flush()?;
    eprintln!(
        "signed {} responses in {:.1} s",
        args.responses,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Base64 needs only `+`, `/` and `=` escaped in a form body.
fn form_encode(value: &str) -> String {
    value
        .replace('+', "%2B")
        .replace('/', "%2F")
        .replace('=', "%3D")
}
