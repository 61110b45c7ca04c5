//! `prepare-oidc`: sets up a tenant whose default connection is an OpenID provider
//! (the bench IdP, `bench-idp`, at `--issuer`) and an app to land on, then records N
//! upstream sign-ins in flight, as `/oidc/{slug}/callback`'s redirect would find
//! them, for `scripts/bench-oidc-callback` to complete. Flows are distinct because
//! each is taken once; their users come from a pool, so most sign-ins find an
//! existing user, as in production, and the first of each creates it just in time.
//!
//! The provider's discovery document and JWKS are stored in the connection's cache,
//! as a first sign-in would have left them, so the run measures the callback alone:
//! the flow taken, the code exchanged at the bench IdP's token endpoint
//! (client_secret_basic with the flow's PKCE verifier), the RS256 ID token verified,
//! the user found or created, and the app's code issued.
//!
//!     prepare-oidc --database-url sqlite:///tmp/oidc.db --issuer http://127.0.0.1:4000 \
//!         --secret-key "$(idbridge secret-key generate)" --flows 40000 --out /tmp/oidc
//!
//! Writes `<out>/paths` (one callback path and query per line, each usable once),
//! `<out>/tokens` (`code id_token` per line: what the bench IdP answers for each
//! code) and `<out>/jwks.json` (the key the tokens are signed with).

#[path = "prepared.rs"]
mod prepared;

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use clap::Parser;
use futures::TryStreamExt;
use idbridge_core::sealed::Keyring;
use idbridge_core::secret::{SecretHash, random_bytes};
use idbridge_oidc::keys::{SigningAlgorithm, SigningKey};
use idbridge_oidc::upstream::{self, ProviderMetadata};
use idbridge_store::{ConnectionKind, ConnectionRecord, OidcFlow, OidcRequestState, OidcSettings};
use serde_json::json;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

const SLUG: &str = "bench-oidc";
const CALLBACK: &str = "https://app.example.com/auth/callback";
/// The client idbridge is at the bench IdP (`bench-idp` checks the same pair).
const CLIENT_ID: &str = "bench-client";
const CLIENT_SECRET: &str = "bench-secret";
/// Flows and ID tokens outlive the preparation and the run (both take minutes).
const FLOW_TTL: Duration = Duration::hours(1);
const TOKEN_TTL: Duration = Duration::hours(2);

#[derive(Parser)]
struct Args {
    #[arg(long)]
    database_url: String,
    /// The bench IdP's issuer, e.g. `http://127.0.0.1:4000` (its address).
    #[arg(long)]
    issuer: String,
    /// The `--secret-key` the server will run with (seals the client secret).
    #[arg(long)]
    secret_key: String,
    #[arg(long, default_value_t = 40_000)]
    flows: usize,
    /// Distinct users the sign-ins are for (as `prepare-acs`).
    #[arg(long, default_value_t = 2_000)]
    users: usize,
    #[arg(long)]
    out: PathBuf,
}

/// One sign-in in flight and what the IdP will answer for its code.
struct Prepared {
    state: String,
    flow: OidcFlow,
    id_token: String,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    std::fs::create_dir_all(&args.out)?;
    let keyring = Keyring::parse(&args.secret_key).context("--secret-key")?;
    let issuer = args.issuer.clone();
    let base = issuer.trim_end_matches('/');
    let store = prepared::open(&args.database_url).await?;
    let now = OffsetDateTime::now_utc();
    let (tenant, client) =
        prepared::tenant_with_app(store.as_ref(), SLUG, "Bench OIDC", CALLBACK, now).await?;

    let key = SigningKey::generate(SigningAlgorithm::Rs256)?;
    let jwks = json!({ "keys": [key.public_jwk()] });
    let metadata = ProviderMetadata {
        issuer: issuer.clone(),
        authorization_endpoint: format!("{base}/authorize"),
        token_endpoint: format!("{base}/token"),
        jwks_uri: format!("{base}/jwks"),
        userinfo_endpoint: None,
        id_token_signing_alg_values_supported: vec!["RS256".into()],
        token_endpoint_auth_methods_supported: Some(vec!["client_secret_basic".into()]),
        code_challenge_methods_supported: Some(vec!["S256".into()]),
        authorization_response_iss_parameter_supported: true,
    };
    // What the server will read back from the cache must parse as it does there.
    ProviderMetadata::parse(&serde_json::to_vec(&metadata)?, &issuer)
        .context("the bench provider's metadata")?;
    upstream::parse_jwks(jwks.to_string().as_bytes()).context("the bench provider's JWKS")?;

    let connection_id = Uuid::now_v7();
    store
        .create_connection(
            &ConnectionRecord {
                id: connection_id,
                tenant_id: tenant.id,
                kind: ConnectionKind::Oidc,
                name: "Bench IdP".into(),
                domains: Vec::new(),
                is_default: true,
                oidc: Some(OidcSettings {
                    issuer: issuer.clone(),
                    client_id: CLIENT_ID.into(),
                    sealed_secret: Some(
                        keyring.seal(CLIENT_SECRET.as_bytes(), connection_id.as_bytes()),
                    ),
                    scopes: vec!["openid".into(), "email".into(), "profile".into()],
                    provider_cache: None,
                    provider_fetched_at: None,
                }),
                created_at: now,
                updated_at: now,
            },
            None,
        )
        .await?;
    store
        .cache_provider(
            connection_id,
            &json!({ "metadata": metadata, "jwks": jwks }),
            now,
        )
        .await?;

    // Sign the ID tokens on every core: RSA signing is most of the preparation.
    let started = std::time::Instant::now();
    let users = args.users.max(1);
    let flow_for = |i: usize| -> anyhow::Result<Prepared> {
        let state = random_token();
        let nonce = random_token();
        let user = i % users;
        let claims = json!({
            "iss": issuer,
            "aud": CLIENT_ID,
            "sub": format!("user-{user}"),
            "email": format!("user{user}@bench.example.com"),
            "name": format!("User {user}"),
            "iat": now.unix_timestamp(),
            "exp": (now + TOKEN_TTL).unix_timestamp(),
            "nonce": nonce,
        });
        let id_token = key.sign(&claims)?;
        Ok(Prepared {
            state,
            flow: OidcFlow {
                tenant_id: tenant.id,
                connection_id,
                nonce,
                code_verifier: random_token(),
                test: false,
                redirect_uri: Some(CALLBACK.into()),
                app: Some(OidcRequestState {
                    client_id: client.id,
                    state: Some("s".into()),
                    nonce: Some("n".into()),
                    code_challenge: None,
                    scope: "openid email profile".into(),
                }),
                created_at: now,
                expires_at: now + FLOW_TTL,
            },
            id_token,
        })
    };
    let workers = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let prepared: Vec<Prepared> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|w| {
                let flow_for = &flow_for;
                scope.spawn(move || {
                    (w..args.flows)
                        .step_by(workers)
                        .map(|i| flow_for(i).map(|p| (i, p)))
                        .collect::<anyhow::Result<Vec<_>>>()
                })
            })
            .collect();
        let mut all = Vec::with_capacity(args.flows);
        for handle in handles {
            all.extend(
                handle
                    .join()
                    .map_err(|_| anyhow::anyhow!("a signing thread panicked"))??,
            );
        }
        all.sort_by_key(|(i, _)| *i);
        Ok::<_, anyhow::Error>(all.into_iter().map(|(_, p)| p).collect())
    })?;
    let signed = started.elapsed();

    futures::stream::iter(prepared.iter().map(Ok))
        .try_for_each_concurrent(8, |p| {
            let store = &store;
            async move {
                store
                    .create_oidc_flow(&SecretHash::of(&p.state), &p.flow)
                    .await
            }
        })
        .await?;
    store.close().await;

    let iss: String = url::form_urlencoded::byte_serialize(issuer.as_bytes()).collect();
    let mut paths = std::io::BufWriter::new(std::fs::File::create(args.out.join("paths"))?);
    let mut tokens = std::io::BufWriter::new(std::fs::File::create(args.out.join("tokens"))?);
    for (i, p) in prepared.iter().enumerate() {
        // The state is base64url: nothing in it needs escaping in a query.
        writeln!(
            paths,
            "/oidc/{SLUG}/callback?code=c{i}&state={}&iss={iss}",
            p.state
        )?;
        writeln!(tokens, "c{i} {}", p.id_token)?;
    }
    paths.flush()?;
    tokens.flush()?;
    std::fs::write(args.out.join("jwks.json"), jwks.to_string())?;
    eprintln!(
        "signed {} ID tokens in {:.1} s, stored the flows in {:.1} s",
        args.flows,
        signed.as_secs_f64(),
        (started.elapsed() - signed).as_secs_f64()
    );
    Ok(())
}

/// A `state`, nonce or PKCE verifier: 32 random bytes, base64url (43 characters).
fn random_token() -> String {
    URL_SAFE_NO_PAD.encode(random_bytes::<32>())
}
