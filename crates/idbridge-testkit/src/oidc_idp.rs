//! A scriptable OpenID Provider for idbridge's relying-party tests: it issues ID
//! tokens shaped the way Microsoft Entra ID, Okta and Google Workspace issue them,
//! and, on request, hostile ones a real OP never would (`alg: none`, HS256 keyed
//! with the RSA public key, unknown or reused `kid`s, broken signatures, embedded
//! JWKs), so tests can show each one is refused.
//!
//! [`start`] serves, on `127.0.0.1:<random port>` in the current tokio runtime:
//!
//! - `GET /.well-known/openid-configuration` — discovery, with RFC 9207's
//!   `authorization_response_iss_parameter_supported`.
//! - `GET /authorize` — records the request, then answers at once with a 302 to
//!   `redirect_uri` carrying `code`, `state` and `iss` (or an error).
//! - `POST /token` — `client_secret_basic` or `client_secret_post`, single-use
//!   codes, PKCE S256, `redirect_uri` match; answers with an ID token.
//! - `GET /jwks` — the published keys (counted, for refetch rate-limit tests).
//! - `GET /userinfo` — Bearer access token; the configured claims.
//!
//! What the tokens and endpoints do is set while the server runs through
//! [`ScriptedIdp::update`] on a shared [`Behaviour`].
//!
//! Claim shapes follow the providers' documentation: Microsoft Learn "ID token
//! claims reference" (v2.0: `ver` "2.0", `oid`, `tid`, `aio`, `rh`, `uti`,
//! `preferred_username`, `roles`, `groups` as object IDs, `nbf`), Okta "ID token
//! claims" (`ver` 1, `jti` "ID.…", `amr`, `idp`, `auth_time`, `at_hash`, group
//! names in `groups`, no `typ` in the header, no `nbf`) and Google "OpenID Connect"
//! (`azp`, `hd`, `email_verified`, `at_hash`, name claims, numeric `sub`, no `nbf`).
//! The issuer is always this server's URL, not the provider's.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

/// ID token lifetime, and the `expires_in` of access tokens.
const LIFETIME: i64 = 3600;

/// Whose ID tokens to imitate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// Microsoft Entra ID, v2.0 endpoint.
    Entra,
    /// Okta (custom authorization server, groups claim configured).
    Okta,
    /// Google Workspace (a user of the `acme.example` hosted domain).
    Google,
    /// A minimal OP: `sub`, `email`, `email_verified`, `name`.
    Plain,
}

/// The relying party registered at this OP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdpClient {
    pub client_id: String,
    pub client_secret: String,
}

impl IdpClient {
    /// A fresh client, its `client_id` shaped as `profile` shapes them (a GUID
    /// application ID for Entra, `0oa…` for Okta, `….apps.googleusercontent.com`
    /// for Google).
    pub fn generate(profile: Profile) -> Self {
        let client_id = match profile {
            Profile::Entra => random_guid(),
            Profile::Okta => format!("0oa{}", random_alnum(17)),
            Profile::Google => format!(
                "{}-{}.apps.googleusercontent.com",
                random_digits(12),
                random_alnum(32).to_lowercase()
            ),
            Profile::Plain => format!("client-{}", random_alnum(8).to_lowercase()),
        };
        Self {
            client_id,
            client_secret: random_b64(32),
        }
    }
}

/// The ID token's signature algorithm (and the key that signs it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SigningAlg {
    Rs256,
    Es256,
}

impl SigningAlg {
    pub fn name(self) -> &'static str {
        match self {
            SigningAlg::Rs256 => "RS256",
            SigningAlg::Es256 => "ES256",
        }
    }

    fn algorithm(self) -> Algorithm {
        match self {
            SigningAlg::Rs256 => Algorithm::RS256,
            SigningAlg::Es256 => Algorithm::ES256,
        }
    }
}

/// How to spoil the ID token after its claims are built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Tamper {
    /// Signed properly with the published key.
    #[default]
    None,
    /// Header `alg: "none"`, empty signature (the `kid` stays).
    AlgNone,
    /// HS256, keyed with the published RSA key's public PEM (SPKI, as
    /// [`ScriptedIdp::rsa_public_key_pem`] returns it), `kid` of that key: the
    /// RS256/HS256 key-confusion attack.
    HmacWithPublicKey,
    /// Signed by a key not in the JWKS, with a `kid` not in it either.
    UnknownKid,
    /// Signed by a key not in the JWKS but claiming the published key's `kid`.
    WrongKeySameKid,
    /// Signed properly, then one byte of the signature flipped.
    BadSignature,
    /// Signed properly, without a `kid` in the header.
    NoKid,
    /// Signed by a key not in the JWKS, that key embedded in the header as `jwk`
    /// (with its own `kid`): trusting header-supplied keys is the bug.
    EmbeddedJwk,
}

/// The `iss` parameter on authorization responses (RFC 9207).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum IssParameter {
    /// This server's issuer.
    #[default]
    Correct,
    /// No `iss` parameter.
    Omit,
    /// This value instead (a mix-up attack).
    Wrong(String),
}

/// An error to answer every authorization request with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizeError {
    /// `error`, e.g. `access_denied`.
    pub error: String,
    /// `error_description`.
    pub description: String,
}

/// What the OP does; change it while running with [`ScriptedIdp::update`].
#[derive(Debug, Clone)]
pub struct Behaviour {
    /// Merged over the ID token's claims, last: a value replaces the claim, `null`
    /// removes it (`iss`, `aud`, `exp`, `nonce`, `sub`… included).
    pub claims_override: Map<String, Value>,
    pub tamper: Tamper,
    /// Algorithm and key of the ID token (default RS256).
    pub signing_alg: SigningAlg,
    /// Publish the ES256 key in the JWKS even while signing with RS256 (it is
    /// always published while signing with ES256).
    pub publish_ec_key: bool,
    /// The `issuer` in the discovery document, when not the server's URL.
    pub discovery_issuer: Option<String>,
    /// `id_token_signing_alg_values_supported` in discovery (default `["RS256"]`).
    pub id_token_signing_alg_values_supported: Vec<String>,
    /// The `iss` parameter on authorization responses.
    pub authorize_iss: IssParameter,
    /// Answer authorization requests with this error instead of a code.
    pub authorize_error: Option<AuthorizeError>,
    /// The userinfo response. `sub` is the ID token's unless set here.
    pub userinfo: Map<String, Value>,
}

impl Behaviour {
    /// The defaults for `profile`: honest tokens, the profile's userinfo claims.
    pub fn for_profile(profile: Profile) -> Self {
        Self {
            claims_override: Map::new(),
            tamper: Tamper::None,
            signing_alg: SigningAlg::Rs256,
            publish_ec_key: false,
            discovery_issuer: None,
            id_token_signing_alg_values_supported: vec!["RS256".into()],
            authorize_iss: IssParameter::Correct,
            authorize_error: None,
            userinfo: userinfo_claims(profile),
        }
    }
}

/// An authorization request as it arrived at `/authorize`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthorizationRequest {
    pub client_id: Option<String>,
    pub redirect_uri: Option<String>,
    pub response_type: Option<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub scope: Option<String>,
    pub login_hint: Option<String>,
    pub prompt: Option<String>,
    /// Every query parameter, the ones above included.
    pub params: BTreeMap<String, String>,
}

/// A running scripted OP. The server stops when this is dropped.
pub struct ScriptedIdp {
    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub issuer: String,
    pub profile: Profile,
    pub client: IdpClient,
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

/// Starts an OP imitating `profile`, with a generated client.
pub async fn start(profile: Profile) -> ScriptedIdp {
    start_with_client(profile, IdpClient::generate(profile)).await
}

/// Starts an OP imitating `profile`, for the given client.
pub async fn start_with_client(profile: Profile, client: IdpClient) -> ScriptedIdp {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the scripted OP to a loopback port");
    let port = listener.local_addr().expect("a bound address").port();
    let issuer = format!("http://127.0.0.1:{port}");
    let keys = Keys {
        rsa: KeyPair::generate(SigningAlg::Rs256, profile),
        ec: KeyPair::generate(SigningAlg::Es256, profile),
        retired: Vec::new(),
        rogue_rsa: KeyPair::generate(SigningAlg::Rs256, profile),
        rogue_ec: KeyPair::generate(SigningAlg::Es256, profile),
    };
    let shared = Arc::new(Shared {
        issuer: issuer.clone(),
        profile,
        client: client.clone(),
        behaviour: Arc::new(Mutex::new(Behaviour::for_profile(profile))),
        keys: Mutex::new(keys),
        flow: Mutex::new(Flow::default()),
        counters: Counters::default(),
    });
    let app = Router::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/authorize", get(authorize))
        .route("/token", post(token))
        .route("/jwks", get(jwks))
        .route("/userinfo", get(userinfo))
        .with_state(shared.clone());
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    ScriptedIdp {
        issuer,
        profile,
        client,
        shared,
        server,
    }
}

impl ScriptedIdp {
    /// `issuer` + `path` (`path` starting with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.issuer)
    }

    /// Changes the behaviour, from the next request on.
    pub fn update(&self, change: impl FnOnce(&mut Behaviour)) {
        change(&mut lock(&self.shared.behaviour));
    }

    /// A copy of the current behaviour.
    pub fn behaviour(&self) -> Behaviour {
        lock(&self.shared.behaviour).clone()
    }

    pub fn set_tamper(&self, tamper: Tamper) {
        self.update(|b| b.tamper = tamper);
    }

    /// Sets one entry of [`Behaviour::claims_override`] (`Value::Null` removes the
    /// claim from tokens).
    pub fn override_claim(&self, name: &str, value: Value) {
        self.update(|b| {
            b.claims_override.insert(name.to_owned(), value);
        });
    }

    /// The last request `/authorize` received.
    pub fn last_authorization_request(&self) -> Option<AuthorizationRequest> {
        lock(&self.shared.flow).last_authorization.clone()
    }

    /// Replaces the signing key of the current [`Behaviour::signing_alg`] with a
    /// new one under a new `kid`, published from now on; the old key stays in the
    /// JWKS when `keep_old`, else it is dropped. Returns the new `kid`.
    pub fn rotate_key(&self, keep_old: bool) -> String {
        let alg = self.behaviour().signing_alg;
        let fresh = KeyPair::generate(alg, self.profile);
        let kid = fresh.kid.clone();
        let mut keys = lock(&self.shared.keys);
        let slot = match alg {
            SigningAlg::Rs256 => &mut keys.rsa,
            SigningAlg::Es256 => &mut keys.ec,
        };
        let old = std::mem::replace(slot, fresh);
        if keep_old {
            keys.retired.push(old);
        }
        kid
    }

    /// The `kid` honest tokens carry now (of the current signing algorithm).
    pub fn current_kid(&self) -> String {
        let alg = self.behaviour().signing_alg;
        let keys = lock(&self.shared.keys);
        match alg {
            SigningAlg::Rs256 => keys.rsa.kid.clone(),
            SigningAlg::Es256 => keys.ec.kid.clone(),
        }
    }

    /// The published RSA key, SPKI PEM (`-----BEGIN PUBLIC KEY-----`): the HMAC
    /// secret of [`Tamper::HmacWithPublicKey`].
    pub fn rsa_public_key_pem(&self) -> String {
        lock(&self.shared.keys).rsa.public_pem.clone()
    }

    /// The JWKS as `/jwks` serves it now (without counting a fetch).
    pub fn jwks(&self) -> Value {
        self.shared.jwks()
    }

    /// An ID token minted as `/token` would mint it (current behaviour), without
    /// an authorization flow; no `at_hash`.
    pub fn mint_id_token(&self, nonce: Option<&str>) -> String {
        self.shared.mint_id_token(nonce, None).0
    }

    pub fn discovery_fetches(&self) -> usize {
        self.shared.counters.discovery.load(Ordering::SeqCst)
    }

    pub fn authorize_requests(&self) -> usize {
        self.shared.counters.authorize.load(Ordering::SeqCst)
    }

    /// Every `POST /token`, the refused ones included.
    pub fn token_requests(&self) -> usize {
        self.shared.counters.token.load(Ordering::SeqCst)
    }

    pub fn jwks_fetches(&self) -> usize {
        self.shared.counters.jwks.load(Ordering::SeqCst)
    }

    /// Every `GET /userinfo`, the refused ones included.
    pub fn userinfo_calls(&self) -> usize {
        self.shared.counters.userinfo.load(Ordering::SeqCst)
    }

    pub fn reset_counters(&self) {
        let c = &self.shared.counters;
        for counter in [&c.discovery, &c.authorize, &c.token, &c.jwks, &c.userinfo] {
            counter.store(0, Ordering::SeqCst);
        }
    }
}

impl Drop for ScriptedIdp {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// The PKCE S256 challenge of `verifier`.
pub fn s256_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// A JWT's header and payload, decoded without any verification.
pub fn decode_unverified(jwt: &str) -> (Value, Value) {
    let mut parts = jwt.split('.');
    let mut part = |what: &str| -> Value {
        let encoded = parts
            .next()
            .unwrap_or_else(|| panic!("the JWT has no {what}"));
        let bytes = URL_SAFE_NO_PAD
            .decode(encoded)
            .unwrap_or_else(|e| panic!("the JWT {what} is not base64url: {e}"));
        serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("the JWT {what} is not JSON: {e}"))
    };
    let header = part("header");
    let payload = part("payload");
    (header, payload)
}

// ---------------------------------------------------------------------------
// State

struct Shared {
    issuer: String,
    profile: Profile,
    client: IdpClient,
    behaviour: Arc<Mutex<Behaviour>>,
    keys: Mutex<Keys>,
    flow: Mutex<Flow>,
    counters: Counters,
}

#[derive(Default)]
struct Counters {
    discovery: AtomicUsize,
    authorize: AtomicUsize,
    token: AtomicUsize,
    jwks: AtomicUsize,
    userinfo: AtomicUsize,
}

#[derive(Default)]
struct Flow {
    last_authorization: Option<AuthorizationRequest>,
    /// Unredeemed codes.
    codes: HashMap<String, Grant>,
    /// Issued access tokens → the `sub` of the ID token issued with them.
    access_tokens: HashMap<String, Option<Value>>,
}

struct Grant {
    client_id: String,
    redirect_uri: String,
    nonce: Option<String>,
    scope: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
}

struct Keys {
    rsa: KeyPair,
    ec: KeyPair,
    /// Rotated out but still published.
    retired: Vec<KeyPair>,
    /// Never published.
    rogue_rsa: KeyPair,
    rogue_ec: KeyPair,
}

struct KeyPair {
    alg: SigningAlg,
    kid: String,
    encoding: EncodingKey,
    /// The public JWK, `kid` included.
    jwk: Value,
    /// SPKI PEM.
    public_pem: String,
}

impl KeyPair {
    fn generate(alg: SigningAlg, profile: Profile) -> Self {
        use openssl::pkey::PKey;
        let (pkey, params, thumbprint_input) = match alg {
            SigningAlg::Rs256 => {
                let rsa = openssl::rsa::Rsa::generate(2048).expect("generate an RSA key");
                let n = URL_SAFE_NO_PAD.encode(rsa.n().to_vec());
                let e = URL_SAFE_NO_PAD.encode(rsa.e().to_vec());
                // RFC 7638: the required members, lexicographic order, no spaces.
                let thumb = format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#);
                let params = json!({ "kty": "RSA", "n": n, "e": e });
                (
                    PKey::from_rsa(rsa).expect("wrap the RSA key"),
                    params,
                    thumb,
                )
            }
            SigningAlg::Es256 => {
                use openssl::bn::{BigNum, BigNumContext};
                use openssl::ec::{EcGroup, EcKey};
                let group = EcGroup::from_curve_name(openssl::nid::Nid::X9_62_PRIME256V1)
                    .expect("the P-256 group");
                let ec = EcKey::generate(&group).expect("generate a P-256 key");
                let mut ctx = BigNumContext::new().expect("a bignum context");
                let (mut x, mut y) = (
                    BigNum::new().expect("a bignum"),
                    BigNum::new().expect("a bignum"),
                );
                ec.public_key()
                    .affine_coordinates(&group, &mut x, &mut y, &mut ctx)
                    .expect("the public point's coordinates");
                let x = URL_SAFE_NO_PAD.encode(x.to_vec_padded(32).expect("x in 32 bytes"));
                let y = URL_SAFE_NO_PAD.encode(y.to_vec_padded(32).expect("y in 32 bytes"));
                let thumb = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
                let params = json!({ "kty": "EC", "crv": "P-256", "x": x, "y": y });
                (
                    PKey::from_ec_key(ec).expect("wrap the EC key"),
                    params,
                    thumb,
                )
            }
        };
        let spki_der = pkey.public_key_to_der().expect("SPKI DER");
        // Each provider's kid style: Entra the base64url SHA-1 thumbprint of its
        // certificate (27 characters), Google 40 hex digits, Okta the RFC 7638
        // thumbprint (43 characters).
        let kid = match profile {
            Profile::Entra => URL_SAFE_NO_PAD.encode(openssl::sha::sha1(&spki_der)),
            Profile::Google => hex(&openssl::sha::sha1(&spki_der)),
            Profile::Okta | Profile::Plain => {
                URL_SAFE_NO_PAD.encode(Sha256::digest(thumbprint_input.as_bytes()))
            }
        };
        let mut jwk = params;
        let obj = jwk.as_object_mut().expect("a JWK is an object");
        obj.insert("use".into(), json!("sig"));
        obj.insert("kid".into(), json!(kid));
        // Entra's JWKS carries no `alg`; Okta's and Google's do.
        if profile != Profile::Entra {
            obj.insert("alg".into(), json!(alg.name()));
        }
        let private_pem = pkey
            .private_key_to_pem_pkcs8()
            .expect("PKCS#8 PEM of the private key");
        let encoding = match alg {
            SigningAlg::Rs256 => EncodingKey::from_rsa_pem(&private_pem),
            SigningAlg::Es256 => EncodingKey::from_ec_pem(&private_pem),
        }
        .expect("jsonwebtoken reads the generated key");
        let public_pem =
            String::from_utf8(pkey.public_key_to_pem().expect("SPKI PEM")).expect("PEM is ASCII");
        Self {
            alg,
            kid,
            encoding,
            jwk,
            public_pem,
        }
    }
}

impl Shared {
    fn jwks(&self) -> Value {
        let publish_ec = {
            let b = lock(&self.behaviour);
            b.publish_ec_key || b.signing_alg == SigningAlg::Es256
        };
        let keys = lock(&self.keys);
        let mut list = vec![keys.rsa.jwk.clone()];
        if publish_ec {
            list.push(keys.ec.jwk.clone());
        }
        list.extend(keys.retired.iter().map(|k| k.jwk.clone()));
        json!({ "keys": list })
    }

    /// The ID token, and its `sub` (after overrides).
    fn mint_id_token(
        &self,
        nonce: Option<&str>,
        access_token: Option<&str>,
    ) -> (String, Option<Value>) {
        let behaviour = lock(&self.behaviour).clone();
        let now = unix_now();
        let mut claims = profile_claims(self.profile, &self.client, now);
        claims.insert("iss".into(), json!(self.issuer));
        claims.insert("aud".into(), json!(self.client.client_id));
        claims.insert("iat".into(), json!(now));
        if matches!(self.profile, Profile::Entra | Profile::Plain) {
            claims.insert("nbf".into(), json!(now));
        }
        claims.insert("exp".into(), json!(now + LIFETIME));
        if let Some(nonce) = nonce {
            claims.insert("nonce".into(), json!(nonce));
        }
        if let Some(access_token) = access_token
            && matches!(self.profile, Profile::Okta | Profile::Google)
        {
            // OIDC Core 3.1.3.6: the left half of the SHA-256 hash (RS256, ES256).
            let digest = Sha256::digest(access_token.as_bytes());
            claims.insert(
                "at_hash".into(),
                json!(URL_SAFE_NO_PAD.encode(&digest[..16])),
            );
        }
        for (name, value) in &behaviour.claims_override {
            if value.is_null() {
                claims.remove(name);
            } else {
                claims.insert(name.clone(), value.clone());
            }
        }
        let sub = claims.get("sub").cloned();
        let keys = lock(&self.keys);
        (sign(&keys, self.profile, &behaviour, &claims), sub)
    }
}

fn sign(
    keys: &Keys,
    profile: Profile,
    behaviour: &Behaviour,
    claims: &Map<String, Value>,
) -> String {
    let alg = behaviour.signing_alg;
    let (current, rogue) = match alg {
        SigningAlg::Rs256 => (&keys.rsa, &keys.rogue_rsa),
        SigningAlg::Es256 => (&keys.ec, &keys.rogue_ec),
    };
    debug_assert_eq!(current.alg, alg);
    let mut header = Map::new();
    // Okta's ID token headers carry only `kid` and `alg`.
    if profile != Profile::Okta {
        header.insert("typ".into(), json!("JWT"));
    }
    header.insert("alg".into(), json!(alg.name()));
    header.insert("kid".into(), json!(current.kid));
    let payload = b64_json(&Value::Object(claims.clone()));
    let finish = |header: &Map<String, Value>, key: Option<(&EncodingKey, Algorithm)>| {
        let message = format!("{}.{payload}", b64_json(&Value::Object(header.clone())));
        let signature = match key {
            Some((key, alg)) => {
                jsonwebtoken::crypto::sign(message.as_bytes(), key, alg).expect("sign the ID token")
            }
            None => String::new(),
        };
        format!("{message}.{signature}")
    };
    let honest = Some((&current.encoding, alg.algorithm()));
    match behaviour.tamper {
        Tamper::None => finish(&header, honest),
        Tamper::NoKid => {
            header.remove("kid");
            finish(&header, honest)
        }
        Tamper::AlgNone => {
            header.insert("alg".into(), json!("none"));
            finish(&header, None)
        }
        Tamper::HmacWithPublicKey => {
            header.insert("alg".into(), json!("HS256"));
            header.insert("kid".into(), json!(keys.rsa.kid));
            let secret = EncodingKey::from_secret(keys.rsa.public_pem.as_bytes());
            finish(&header, Some((&secret, Algorithm::HS256)))
        }
        Tamper::UnknownKid => {
            header.insert("kid".into(), json!(random_b64(20)));
            finish(&header, Some((&rogue.encoding, alg.algorithm())))
        }
        Tamper::WrongKeySameKid => finish(&header, Some((&rogue.encoding, alg.algorithm()))),
        Tamper::EmbeddedJwk => {
            header.insert("kid".into(), json!(rogue.kid));
            header.insert("jwk".into(), rogue.jwk.clone());
            finish(&header, Some((&rogue.encoding, alg.algorithm())))
        }
        Tamper::BadSignature => {
            let token = finish(&header, honest);
            let (message, signature) = token.rsplit_once('.').expect("a signed JWT");
            let mut bytes = URL_SAFE_NO_PAD
                .decode(signature)
                .expect("our own signature is base64url");
            let middle = bytes.len() / 2;
            bytes[middle] ^= 0x01;
            format!("{message}.{}", URL_SAFE_NO_PAD.encode(bytes))
        }
    }
}

// ---------------------------------------------------------------------------
// Profiles

/// Fixed identifiers of the test user and tenant (made up, shaped like the real
/// ones).
const ENTRA_TENANT_ID: &str = "6e1c2a4f-8b3d-4f7e-9a52-1d0c7b8e3f94";
const ENTRA_OBJECT_ID: &str = "b2f7c9e1-4a6d-4e38-8c15-3f9a0d7e6b21";
const ENTRA_SUB: &str = "Xq3vB8nT2kLwR5yH0pDmJ7cF4sGzA9uE6iO1tNbVhKc";
const ENTRA_GROUPS: [&str; 2] = [
    "5d8a3f1c-0b7e-4c29-a6d4-2e9f1b8c7a03",
    "c41e7b92-6f3a-4d85-b0c7-9a2d5e8f1b46",
];
const OKTA_SUB: &str = "00u8k2mQ4xZ7vN3pR5w6";
const OKTA_ORG_ID: &str = "00o1fJ6tY9hL2cD8s4e7";
const GOOGLE_SUB: &str = "104729318562047193856";

fn profile_claims(profile: Profile, client: &IdpClient, now: i64) -> Map<String, Value> {
    let value = match profile {
        Profile::Entra => json!({
            "ver": "2.0",
            "sub": ENTRA_SUB,
            "oid": ENTRA_OBJECT_ID,
            "tid": ENTRA_TENANT_ID,
            "name": "Ada Lovelace",
            "preferred_username": "ada.lovelace@acme.example",
            "email": "ada.lovelace@acme.example",
            "roles": ["Idbridge.Admin"],
            "groups": ENTRA_GROUPS,
            "aio": format!("AXQAi/8ZAAAA{}", random_b64(66)),
            "rh": format!("1.AQsA{}AA.", random_b64(48)),
            "uti": random_b64(16),
        }),
        Profile::Okta => json!({
            "sub": OKTA_SUB,
            "name": "Ada Lovelace",
            "email": "ada.lovelace@acme.example",
            "ver": 1,
            "jti": format!("ID.{}", random_b64(32)),
            "amr": ["pwd"],
            "idp": OKTA_ORG_ID,
            "preferred_username": "ada.lovelace@acme.example",
            "auth_time": now - 5,
            "groups": ["Everyone", "idbridge-admins"],
        }),
        Profile::Google => json!({
            "azp": client.client_id,
            "sub": GOOGLE_SUB,
            "hd": "acme.example",
            "email": "ada.lovelace@acme.example",
            "email_verified": true,
            "name": "Ada Lovelace",
            "picture": "https://lh3.googleusercontent.com/a/ACg8ocKx3Vb9qWm2TzR7nY4pLdF0sJ6hG1cE8uA5oB2iN9kQ=s96-c",
            "given_name": "Ada",
            "family_name": "Lovelace",
        }),
        Profile::Plain => json!({
            "sub": "user-1",
            "email": "ada.lovelace@acme.example",
            "email_verified": true,
            "name": "Ada Lovelace",
        }),
    };
    match value {
        Value::Object(map) => map,
        _ => unreachable!("profile claims are an object"),
    }
}

/// The profile's userinfo response, without `sub`.
fn userinfo_claims(profile: Profile) -> Map<String, Value> {
    let value = match profile {
        // Entra's userinfo (graph.microsoft.com/oidc/userinfo).
        Profile::Entra => json!({
            "name": "Ada Lovelace",
            "family_name": "Lovelace",
            "given_name": "Ada",
            "email": "ada.lovelace@acme.example",
        }),
        Profile::Okta => json!({
            "name": "Ada Lovelace",
            "locale": "en_US",
            "email": "ada.lovelace@acme.example",
            "preferred_username": "ada.lovelace@acme.example",
            "given_name": "Ada",
            "family_name": "Lovelace",
            "zoneinfo": "America/Los_Angeles",
            "email_verified": true,
        }),
        Profile::Google => json!({
            "name": "Ada Lovelace",
            "given_name": "Ada",
            "family_name": "Lovelace",
            "picture": "https://lh3.googleusercontent.com/a/ACg8ocKx3Vb9qWm2TzR7nY4pLdF0sJ6hG1cE8uA5oB2iN9kQ=s96-c",
            "email": "ada.lovelace@acme.example",
            "email_verified": true,
            "hd": "acme.example",
        }),
        Profile::Plain => json!({
            "email": "ada.lovelace@acme.example",
            "email_verified": true,
            "name": "Ada Lovelace",
        }),
    };
    match value {
        Value::Object(map) => map,
        _ => unreachable!("userinfo claims are an object"),
    }
}

// ---------------------------------------------------------------------------
// Endpoints

async fn discovery(State(s): State<Arc<Shared>>) -> Response {
    s.counters.discovery.fetch_add(1, Ordering::SeqCst);
    let b = lock(&s.behaviour).clone();
    let base = &s.issuer;
    let subject_types = match s.profile {
        Profile::Entra => json!(["pairwise"]),
        _ => json!(["public"]),
    };
    json_response(
        StatusCode::OK,
        json!({
            "issuer": b.discovery_issuer.as_deref().unwrap_or(base),
            "authorization_endpoint": format!("{base}/authorize"),
            "token_endpoint": format!("{base}/token"),
            "jwks_uri": format!("{base}/jwks"),
            "userinfo_endpoint": format!("{base}/userinfo"),
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code"],
            "subject_types_supported": subject_types,
            "scopes_supported": ["openid", "profile", "email"],
            "id_token_signing_alg_values_supported": b.id_token_signing_alg_values_supported,
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "code_challenge_methods_supported": ["S256"],
            "authorization_response_iss_parameter_supported": true,
        }),
    )
}

async fn authorize(
    State(s): State<Arc<Shared>>,
    Query(params): Query<BTreeMap<String, String>>,
) -> Response {
    s.counters.authorize.fetch_add(1, Ordering::SeqCst);
    let get = |name: &str| params.get(name).cloned();
    let request = AuthorizationRequest {
        client_id: get("client_id"),
        redirect_uri: get("redirect_uri"),
        response_type: get("response_type"),
        state: get("state"),
        nonce: get("nonce"),
        code_challenge: get("code_challenge"),
        code_challenge_method: get("code_challenge_method"),
        scope: get("scope"),
        login_hint: get("login_hint"),
        prompt: get("prompt"),
        params: params.clone(),
    };
    lock(&s.flow).last_authorization = Some(request.clone());

    // Like a real OP, never redirect for an unknown client or a bad redirect_uri.
    if request.client_id.as_deref() != Some(s.client.client_id.as_str()) {
        return (StatusCode::BAD_REQUEST, "unknown client_id").into_response();
    }
    let Some(mut location) = request
        .redirect_uri
        .as_deref()
        .and_then(|r| url::Url::parse(r).ok())
    else {
        return (StatusCode::BAD_REQUEST, "missing or invalid redirect_uri").into_response();
    };

    let b = lock(&s.behaviour).clone();
    {
        let mut query = location.query_pairs_mut();
        let error = b.authorize_error.clone().or_else(|| {
            (request.response_type.as_deref() != Some("code")).then(|| AuthorizeError {
                error: "unsupported_response_type".into(),
                description: "only response_type=code is supported".into(),
            })
        });
        match error {
            Some(e) => {
                query.append_pair("error", &e.error);
                query.append_pair("error_description", &e.description);
            }
            None => {
                let code = random_b64(32);
                lock(&s.flow).codes.insert(
                    code.clone(),
                    Grant {
                        client_id: s.client.client_id.clone(),
                        redirect_uri: request.redirect_uri.clone().unwrap_or_default(),
                        nonce: request.nonce.clone(),
                        scope: request.scope.clone(),
                        code_challenge: request.code_challenge.clone(),
                        code_challenge_method: request.code_challenge_method.clone(),
                    },
                );
                query.append_pair("code", &code);
            }
        }
        if let Some(state) = &request.state {
            query.append_pair("state", state);
        }
        match &b.authorize_iss {
            IssParameter::Correct => {
                query.append_pair("iss", &s.issuer);
            }
            IssParameter::Omit => {}
            IssParameter::Wrong(iss) => {
                query.append_pair("iss", iss);
            }
        }
    }
    (
        StatusCode::FOUND,
        [(header::LOCATION, location.to_string())],
    )
        .into_response()
}

async fn token(State(s): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    s.counters.token.fetch_add(1, Ordering::SeqCst);
    let form: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();

    // Client authentication: HTTP Basic (RFC 6749 2.3.1: form-encoded id and
    // secret), else client_secret_post.
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .map(|v| {
            STANDARD
                .decode(v.trim())
                .ok()
                .and_then(|raw| String::from_utf8(raw).ok())
                .and_then(|pair| {
                    pair.split_once(':')
                        .map(|(id, secret)| (form_decode(id), form_decode(secret)))
                })
        });
    let credentials = match basic {
        Some(parsed) => parsed,
        None => form
            .get("client_id")
            .cloned()
            .zip(form.get("client_secret").cloned()),
    };
    let authenticated = credentials
        .is_some_and(|(id, secret)| id == s.client.client_id && secret == s.client.client_secret);
    if !authenticated {
        let mut response = json_response(
            StatusCode::UNAUTHORIZED,
            json!({ "error": "invalid_client", "error_description": "client authentication failed" }),
        );
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"scripted-op\""),
        );
        return response;
    }

    let invalid_grant = |why: &str| {
        json_response(
            StatusCode::BAD_REQUEST,
            json!({ "error": "invalid_grant", "error_description": why }),
        )
    };
    if form.get("grant_type").map(String::as_str) != Some("authorization_code") {
        return json_response(
            StatusCode::BAD_REQUEST,
            json!({ "error": "unsupported_grant_type" }),
        );
    }
    // Single use: the code is gone whatever happens next.
    let grant = form
        .get("code")
        .and_then(|code| lock(&s.flow).codes.remove(code));
    let Some(grant) = grant else {
        return invalid_grant("unknown or already used code");
    };
    if grant.client_id != s.client.client_id {
        return invalid_grant("code issued to another client");
    }
    if form.get("redirect_uri") != Some(&grant.redirect_uri) {
        return invalid_grant("redirect_uri does not match the authorization request");
    }
    match (&grant.code_challenge, form.get("code_verifier")) {
        (Some(challenge), Some(verifier)) => {
            if grant.code_challenge_method.as_deref() != Some("S256")
                || &s256_challenge(verifier) != challenge
            {
                return invalid_grant("code_verifier does not match the code_challenge");
            }
        }
        (Some(_), None) => return invalid_grant("code_verifier missing"),
        (None, Some(_)) => return invalid_grant("code_verifier without a code_challenge"),
        (None, None) => {}
    }

    let access_token = random_b64(32);
    let (id_token, sub) = s.mint_id_token(grant.nonce.as_deref(), Some(&access_token));
    lock(&s.flow)
        .access_tokens
        .insert(access_token.clone(), sub);
    let mut answer = json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": LIFETIME,
        "id_token": id_token,
    });
    if let Some(scope) = grant.scope {
        answer["scope"] = json!(scope);
    }
    let mut response = json_response(StatusCode::OK, answer);
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

async fn jwks(State(s): State<Arc<Shared>>) -> Response {
    s.counters.jwks.fetch_add(1, Ordering::SeqCst);
    json_response(StatusCode::OK, s.jwks())
}

async fn userinfo(State(s): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    s.counters.userinfo.fetch_add(1, Ordering::SeqCst);
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let sub = token.and_then(|t| lock(&s.flow).access_tokens.get(t).cloned());
    let Some(sub) = sub else {
        let mut response = json_response(
            StatusCode::UNAUTHORIZED,
            json!({ "error": "invalid_token" }),
        );
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer error=\"invalid_token\""),
        );
        return response;
    };
    let mut claims = Map::new();
    if let Some(sub) = sub {
        claims.insert("sub".into(), sub);
    }
    claims.extend(lock(&s.behaviour).userinfo.clone());
    json_response(StatusCode::OK, Value::Object(claims))
}

// ---------------------------------------------------------------------------
// Helpers

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn json_response(status: StatusCode, body: Value) -> Response {
    (status, axum::Json(body)).into_response()
}

fn b64_json(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).expect("JSON serialises"))
}

fn unix_now() -> i64 {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_secs();
    i64::try_from(secs).expect("seconds fit in i64")
}

fn random_bytes(len: usize) -> Vec<u8> {
    let mut bytes = vec![0u8; len];
    openssl::rand::rand_bytes(&mut bytes).expect("OpenSSL's CSPRNG");
    bytes
}

fn random_b64(len: usize) -> String {
    URL_SAFE_NO_PAD.encode(random_bytes(len))
}

fn random_alnum(len: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    random_bytes(len)
        .iter()
        .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
        .collect()
}

fn random_digits(len: usize) -> String {
    random_bytes(len)
        .iter()
        .map(|b| char::from(b'0' + b % 10))
        .collect()
}

fn random_guid() -> String {
    let bytes: [u8; 16] = random_bytes(16).try_into().expect("16 bytes");
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .to_string()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Decodes `application/x-www-form-urlencoded` text (`+` is a space).
fn form_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let pair = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match pair.and_then(|p| u8::from_str_radix(p, 16).ok()) {
                    Some(byte) => {
                        out.push(byte);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
