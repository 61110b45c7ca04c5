//! `bench-idp`: the OpenID provider `scripts/bench-oidc-callback` signs in through.
//! It answers the token endpoint from ID tokens `prepare-oidc` signed in advance,
//! so its own cost per request is a map lookup and a small JSON body: the
//! benchmark measures idbridge, not the provider. One tokio thread, so it takes as
//! little CPU from the server under test as it can.
//!
//!     bench-idp --listen 127.0.0.1:0 --write-addr-to /tmp/oidc/idp-addr \
//!         --tokens /tmp/oidc/tokens --jwks /tmp/oidc/jwks.json
//!
//! It binds first (the issuer is its address, which `prepare-oidc` needs), and
//! reads the tokens and the JWKS on the first request that needs them, once they
//! exist.
//!
//! - `POST /token`: HTTP Basic `bench-client:bench-secret`, a form with
//!   `grant_type=authorization_code`, `code` and `code_verifier`; answers the
//!   code's ID token. Codes can be exchanged any number of times.
//! - `GET /jwks`, `GET /.well-known/openid-configuration`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use clap::Parser;
use serde_json::json;

#[derive(Parser)]
struct Args {
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Where to write the bound address once listening.
    #[arg(long)]
    write_addr_to: Option<PathBuf>,
    /// `code id_token` per line (`prepare-oidc`'s `<out>/tokens`).
    #[arg(long)]
    tokens: PathBuf,
    /// The JWKS (`prepare-oidc`'s `<out>/jwks.json`).
    #[arg(long)]
    jwks: PathBuf,
}

struct Idp {
    issuer: String,
    /// `Authorization` header value the token endpoint accepts.
    basic: String,
    tokens_path: PathBuf,
    jwks_path: PathBuf,
    tokens: Mutex<Option<Arc<HashMap<String, String>>>>,
}

impl Idp {
    /// The tokens, read on first use; `None` while the file does not exist yet.
    fn tokens(&self) -> Option<Arc<HashMap<String, String>>> {
        let mut loaded = self.tokens.lock().ok()?;
        if loaded.is_none() {
            let text = std::fs::read_to_string(&self.tokens_path).ok()?;
            let map = text
                .lines()
                .filter_map(|line| line.split_once(' '))
                .map(|(code, token)| (code.to_owned(), token.to_owned()))
                .collect();
            *loaded = Some(Arc::new(map));
        }
        loaded.clone()
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    let addr = listener.local_addr()?;
    let idp = Arc::new(Idp {
        issuer: format!("http://{addr}"),
        basic: format!("Basic {}", STANDARD.encode("bench-client:bench-secret")),
        tokens_path: args.tokens,
        jwks_path: args.jwks,
        tokens: Mutex::new(None),
    });
    let app = Router::new()
        .route("/token", post(token))
        .route("/jwks", get(jwks))
        .route("/.well-known/openid-configuration", get(discovery))
        .with_state(idp);
    if let Some(path) = &args.write_addr_to {
        std::fs::write(path, addr.to_string())?;
    }
    axum::serve(listener, app).await?;
    Ok(())
}

fn json_response(status: StatusCode, body: String) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
}

fn token_error(status: StatusCode, error: &str) -> Response {
    json_response(status, json!({ "error": error }).to_string())
}

async fn token(State(idp): State<Arc<Idp>>, headers: HeaderMap, body: Bytes) -> Response {
    if headers
        .get(header::AUTHORIZATION)
        .is_none_or(|v| v.as_bytes() != idp.basic.as_bytes())
    {
        return token_error(StatusCode::UNAUTHORIZED, "invalid_client");
    }
    let (mut grant, mut code, mut verifier) = (false, None, false);
    for (name, value) in url::form_urlencoded::parse(&body) {
        match &*name {
            "grant_type" => grant = value == "authorization_code",
            "code" => code = Some(value),
            "code_verifier" => verifier = !value.is_empty(),
            _ => {}
        }
    }
    let Some(code) = code.filter(|_| grant && verifier) else {
        return token_error(StatusCode::BAD_REQUEST, "invalid_request");
    };
    let Some(tokens) = idp.tokens() else {
        return token_error(StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable");
    };
    match tokens.get(&*code) {
        // The token is base64url and dots: nothing in it needs escaping in JSON.
        Some(id_token) => json_response(
            StatusCode::OK,
            format!(
                r#"{{"access_token":"at","token_type":"Bearer","expires_in":3600,"id_token":"{id_token}"}}"#
            ),
        ),
        None => token_error(StatusCode::BAD_REQUEST, "invalid_grant"),
    }
}

async fn jwks(State(idp): State<Arc<Idp>>) -> Response {
    match std::fs::read_to_string(&idp.jwks_path) {
        Ok(body) => json_response(StatusCode::OK, body),
        Err(_) => StatusCode::SERVICE_UNAVAILABLE.into_response(),
    }
}

async fn discovery(State(idp): State<Arc<Idp>>) -> Response {
    let issuer = &idp.issuer;
    json_response(
        StatusCode::OK,
        json!({
            "issuer": issuer,
            "authorization_endpoint": format!("{issuer}/authorize"),
            "token_endpoint": format!("{issuer}/token"),
            "jwks_uri": format!("{issuer}/jwks"),
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic"],
            "code_challenge_methods_supported": ["S256"],
            "authorization_response_iss_parameter_supported": true,
        })
        .to_string(),
    )
}
