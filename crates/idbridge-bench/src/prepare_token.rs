//! `prepare-token`: sets up a tenant, an app (a confidential client with a known
//! secret) and a pool of directory users, then stores N authorization codes, each
//! as a sign-in would (with its sign-in log row and event), for `scripts/bench-oidc`
//! to exchange at `/oauth/token`. Codes are single use, so every request needs its
//! own. They are stored valid for an hour instead of 60 seconds: the run starts
//! after preparation, which takes longer than a code's real lifetime.
//!
//!     prepare-token --database-url sqlite:///tmp/tok.db --codes 30000 --out /tmp/tok
//!
//! Writes `<out>/bodies`: one `application/x-www-form-urlencoded` token request per
//! line (`client_secret_post`).

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use idbridge_core::roles::RolePolicy;
use idbridge_core::secret::{AuthorizationCode, ClientSecret};
use idbridge_core::{RedirectUri, TenantSlug};
use idbridge_store::{
    AuthorizationCodeRecord, DatabaseUrl, DirectoryUser, OidcClient, PoolSettings, SignInEvent,
    Tenant, UserSource, WriteContext,
};
use time::OffsetDateTime;
use uuid::Uuid;

const CALLBACK: &str = "https://app.example.com/auth/callback";

#[derive(Parser)]
struct Args {
    #[arg(long)]
    database_url: String,
    #[arg(long, default_value_t = 30_000)]
    codes: usize,
    /// Distinct users the codes sign in.
    #[arg(long, default_value_t = 1_000)]
    users: usize,
    #[arg(long)]
    out: PathBuf,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    std::fs::create_dir_all(&args.out)?;
    let url = DatabaseUrl::parse(&args.database_url).context("--database-url")?;
    let store = idbridge_store::connect(&url, &PoolSettings::default())?;
    store.migrate().await?;
    let now = OffsetDateTime::now_utc();
    let tenant = Tenant {
        id: Uuid::now_v7(),
        slug: TenantSlug::parse("bench-oidc")?,
        name: "Bench OIDC".into(),
        sso_required: true,
        jit_enabled: true,
        require_verified_domains: false,
        invite_new_users: false,
        default_role: None,
        role_policy: RolePolicy::Highest,
        created_at: now,
        updated_at: now,
    };
    store.create_tenant(&tenant, None).await?;
    let secret = ClientSecret::generate();
    let client = OidcClient {
        id: Uuid::now_v7(),
        name: "bench app".into(),
        redirect_uris: vec![RedirectUri::parse(CALLBACK)?],
        is_public: false,
        id_token_alg: "RS256".into(),
        created_at: now,
    };
    store
        .create_client(&client, Some(&secret.hash()), None)
        .await?;

    let started = std::time::Instant::now();
    let mut users = Vec::with_capacity(args.users);
    for i in 0..args.users.max(1) {
        let email = format!("user{i}@bench.example.com");
        let mut document = serde_json::Map::new();
        document.insert("userName".into(), email.clone().into());
        document.insert("displayName".into(), format!("User {i}").into());
        document.insert(
            "emails".into(),
            serde_json::json!([{"value": email, "primary": true}]),
        );
        let user = DirectoryUser {
            id: Uuid::now_v7(),
            tenant_id: tenant.id,
            user_name: email,
            external_id: None,
            active: true,
            document,
            source: UserSource::Jit,
            created_at: now,
            updated_at: now,
            version: 1,
        };
        let ctx = WriteContext {
            now,
            events: Vec::new(),
            log: None,
            audit: None,
            mail: None,
        };
        store.create_user(&user, &ctx).await?;
        users.push(user.id);
    }

    let mut bodies = std::io::BufWriter::new(std::fs::File::create(args.out.join("bodies"))?);
    for i in 0..args.codes {
        let user_id = users[i % users.len()];
        let code = AuthorizationCode::generate();
        let record = AuthorizationCodeRecord {
            client_id: client.id,
            redirect_uri: CALLBACK.into(),
            tenant_id: tenant.id,
            user_id,
            nonce: Some(format!("n{i}")),
            code_challenge: None,
            scope: "openid email profile".into(),
            auth_time: now,
            created_at: now,
            expires_at: now + time::Duration::hours(1),
            connection_id: None,
        };
        let sign_in = SignInEvent {
            id: Uuid::now_v7(),
            tenant_id: tenant.id,
            occurred_at: now,
            success: true,
            reason: None,
            detail: None,
            email: None,
            user_id: Some(user_id),
            test: false,
            request_id: None,
            connection_id: None,
        };
        store
            .record_sign_in(&sign_in, Some((&code.hash(), &record)))
            .await?;
        let body = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "authorization_code")
            .append_pair("code", code.expose_secret())
            .append_pair("redirect_uri", CALLBACK)
            .append_pair("client_id", &client.id.to_string())
            .append_pair("client_secret", secret.expose_secret())
            .finish();
        writeln!(bodies, "{body}")?;
    }
    bodies.flush()?;
    store.close().await;
    eprintln!(
        "stored {} users and {} codes in {:.1} s",
        users.len(),
        args.codes,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
