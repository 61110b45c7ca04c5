//! The keys that sign ID tokens: generated here, stored by the server, published in
//! JWKS.
//!
//! A key is its PKCS#8 DER. The key id (`kid`) is the RFC 7638 thumbprint of the
//! public JWK, so it names the key itself and two processes can never disagree about
//! which key a token names.

use aws_lc_rs::encoding::AsDer;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use jsonwebtoken::jwk::{Jwk, PublicKeyUse, ThumbprintHash};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use secrecy::{ExposeSecret, SecretSlice};
use serde::Serialize;

/// The JWS algorithms idbridge signs with. RS256 is the default: OIDC Core requires
/// every relying party to accept it. ES256 is smaller and faster, for apps that ask.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SigningAlgorithm {
    Rs256,
    Es256,
}

impl SigningAlgorithm {
    pub const ALL: [SigningAlgorithm; 2] = [SigningAlgorithm::Rs256, SigningAlgorithm::Es256];

    pub fn as_str(self) -> &'static str {
        match self {
            SigningAlgorithm::Rs256 => "RS256",
            SigningAlgorithm::Es256 => "ES256",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "RS256" => Some(SigningAlgorithm::Rs256),
            "ES256" => Some(SigningAlgorithm::Es256),
            _ => None,
        }
    }

    fn jwt(self) -> Algorithm {
        match self {
            SigningAlgorithm::Rs256 => Algorithm::RS256,
            SigningAlgorithm::Es256 => Algorithm::ES256,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("generating a {0} key failed")]
    Generate(&'static str),
    #[error("the stored {alg} key cannot be used: {source}")]
    Unusable {
        alg: &'static str,
        source: jsonwebtoken::errors::Error,
    },
    #[error("signing failed: {0}")]
    Sign(jsonwebtoken::errors::Error),
}

/// A private signing key with its id and public JWK.
pub struct SigningKey {
    kid: String,
    algorithm: SigningAlgorithm,
    pkcs8: SecretSlice<u8>,
    encoding: EncodingKey,
    public_jwk: serde_json::Value,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// A new key from the operating system's CSPRNG: RSA-2048 or P-256.
    pub fn generate(algorithm: SigningAlgorithm) -> Result<Self, KeyError> {
        let pkcs8: Vec<u8> = match algorithm {
            SigningAlgorithm::Rs256 => {
                let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
                    .map_err(|_| KeyError::Generate("RSA"))?;
                pair.as_der()
                    .map_err(|_| KeyError::Generate("RSA"))?
                    .as_ref()
                    .to_vec()
            }
            SigningAlgorithm::Es256 => {
                let pair = aws_lc_rs::signature::EcdsaKeyPair::generate(
                    &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                )
                .map_err(|_| KeyError::Generate("P-256"))?;
                pair.to_pkcs8v1()
                    .map_err(|_| KeyError::Generate("P-256"))?
                    .as_ref()
                    .to_vec()
            }
        };
        Self::from_pkcs8(algorithm, pkcs8)
    }

    /// A stored key. Refuses bytes that are not a key of `algorithm`.
    pub fn from_pkcs8(algorithm: SigningAlgorithm, pkcs8: Vec<u8>) -> Result<Self, KeyError> {
        let unusable = |source| KeyError::Unusable {
            alg: algorithm.as_str(),
            source,
        };
        let encoding = match algorithm {
            // jsonwebtoken takes RSA keys as PKCS#1 DER, or PKCS#8 through PEM.
            SigningAlgorithm::Rs256 => {
                let pem = format!(
                    "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
                    STANDARD.encode(&pkcs8)
                );
                EncodingKey::from_rsa_pem(pem.as_bytes()).map_err(unusable)?
            }
            SigningAlgorithm::Es256 => EncodingKey::from_ec_der(&pkcs8),
        };
        let mut jwk = Jwk::from_encoding_key(&encoding, algorithm.jwt()).map_err(unusable)?;
        let kid = jwk.thumbprint(ThumbprintHash::SHA256).map_err(unusable)?;
        jwk.common.key_id = Some(kid.clone());
        jwk.common.public_key_use = Some(PublicKeyUse::Signature);
        let public_jwk = serde_json::to_value(&jwk).map_err(|e| unusable(e.into()))?;
        Ok(SigningKey {
            kid,
            algorithm,
            pkcs8: pkcs8.into(),
            encoding,
            public_jwk,
        })
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn algorithm(&self) -> SigningAlgorithm {
        self.algorithm
    }

    /// The private key, to store. Never to log or send.
    pub fn pkcs8(&self) -> &[u8] {
        self.pkcs8.expose_secret()
    }

    /// The public half as a JWK (`kty`, `kid`, `use`, `alg`, and `n`/`e` or `crv`/`x`/`y`).
    pub fn public_jwk(&self) -> &serde_json::Value {
        &self.public_jwk
    }

    /// A compact JWS of `claims`, with `kid` and `typ: JWT` in the header.
    pub fn sign<T: Serialize>(&self, claims: &T) -> Result<String, KeyError> {
        let mut header = Header::new(self.algorithm.jwt());
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding).map_err(KeyError::Sign)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{DecodingKey, Validation};

    #[derive(Serialize, serde::Deserialize, Debug, PartialEq)]
    struct Claims {
        sub: String,
        aud: String,
        exp: i64,
    }

    fn round_trip(alg: SigningAlgorithm) {
        let key = SigningKey::generate(alg).unwrap();
        let claims = Claims {
            sub: "u1".into(),
            aud: "c1".into(),
            exp: 4_000_000_000,
        };
        let token = key.sign(&claims).unwrap();
        let header = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!(header.kid.as_deref(), Some(key.kid()));
        let jwk: Jwk = serde_json::from_value(key.public_jwk().clone()).unwrap();
        let decoding = DecodingKey::from_jwk(&jwk).unwrap();
        let mut validation = Validation::new(alg.jwt());
        validation.set_audience(&["c1"]);
        let decoded = jsonwebtoken::decode::<Claims>(&token, &decoding, &validation).unwrap();
        assert_eq!(decoded.claims, claims);
        // The same bytes load back to the same key id.
        let again = SigningKey::from_pkcs8(alg, key.pkcs8().to_vec()).unwrap();
        assert_eq!(again.kid(), key.kid());
        assert!(!format!("{key:?}").contains("pkcs8"));
    }

    #[test]
    fn rs256_signs_and_its_jwk_verifies() {
        round_trip(SigningAlgorithm::Rs256);
    }

    #[test]
    fn es256_signs_and_its_jwk_verifies() {
        round_trip(SigningAlgorithm::Es256);
    }

    #[test]
    fn jwk_has_only_public_parameters() {
        let key = SigningKey::generate(SigningAlgorithm::Rs256).unwrap();
        let jwk = key.public_jwk();
        assert_eq!(jwk["kty"], "RSA");
        assert_eq!(jwk["use"], "sig");
        assert_eq!(jwk["alg"], "RS256");
        for private in ["d", "p", "q", "dp", "dq", "qi"] {
            assert!(jwk.get(private).is_none(), "{private} leaked");
        }
        let ec = SigningKey::generate(SigningAlgorithm::Es256).unwrap();
        assert_eq!(ec.public_jwk()["crv"], "P-256");
        assert!(ec.public_jwk().get("d").is_none());
    }

    #[test]
    fn garbage_is_not_a_key() {
        assert!(SigningKey::from_pkcs8(SigningAlgorithm::Rs256, vec![1, 2, 3]).is_err());
        let ec = SigningKey::generate(SigningAlgorithm::Es256).unwrap();
        assert!(SigningKey::from_pkcs8(SigningAlgorithm::Rs256, ec.pkcs8().to_vec()).is_err());
    }
}
