//! Fetching URLs that come from outside (IdP metadata URLs) and posting to them
//! (webhook endpoints), without letting them reach the operator's private network.
//!
//! The check sits in the DNS resolver reqwest connects through: every address a
//! host name resolves to is checked against [`idbridge_core::net::is_public`] at
//! connection time, for the first request and for every redirect, so a name that
//! resolves to a public address when checked and a private one when used (DNS
//! rebinding) still cannot get through. IP-literal hosts bypass resolvers, so they
//! are checked on the URL, again for every redirect.

use std::error::Error as StdError;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use idbridge_core::net::is_public;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::redirect::Policy;
use url::{Host, Url};

const MAX_REDIRECTS: usize = 3;
const TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    #[error("{0:?} is not an absolute URL")]
    BadUrl(String),
    #[error("only https URLs are fetched (--allow-private-urls also allows http)")]
    NotHttps,
    #[error(
        "{0} is a private or reserved address, which idbridge does not fetch (--allow-private-urls lifts this)"
    )]
    PrivateAddress(String),
    #[error("{0}")]
    Refused(&'static str),
    #[error("more than {MAX_REDIRECTS} redirects")]
    TooManyRedirects,
    #[error("the server answered HTTP {0}")]
    Status(u16),
    #[error("the document is larger than {0} bytes")]
    TooLarge(usize),
    #[error("no answer within {} seconds", TIMEOUT.as_secs())]
    Timeout,
    #[error("the request failed: {0}")]
    Transport(String),
}

/// An HTTP client for outside URLs.
#[derive(Debug, Clone)]
pub struct Fetcher {
    client: reqwest::Client,
    /// For webhook deliveries: the same address checks, no redirects (a receiver
    /// that redirects has moved, and following would re-send a signed body to a
    /// place the operator never registered).
    poster: reqwest::Client,
    allow_private: bool,
}

/// What the receiver of a POST answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PostOutcome {
    pub status: u16,
}

impl Fetcher {
    pub fn new(allow_private: bool) -> Self {
        let client = reqwest::Client::builder()
            .dns_resolver(Arc::new(GuardedResolver { allow_private }))
            .redirect(Policy::custom(move |attempt| {
                if attempt.previous().len() >= MAX_REDIRECTS {
                    return attempt.error(FetchError::TooManyRedirects);
                }
                match check_url(attempt.url(), allow_private) {
                    Ok(()) => attempt.follow(),
                    Err(e) => attempt.error(e),
                }
            }))
            .timeout(TIMEOUT)
            .connect_timeout(TIMEOUT)
            // A proxy from the environment would make the address checks moot.
            .no_proxy()
            .user_agent(concat!("idbridge/", env!("CARGO_PKG_VERSION")))
            .build();
        let poster = reqwest::Client::builder()
            .dns_resolver(Arc::new(GuardedResolver { allow_private }))
            .redirect(Policy::none())
            .timeout(TIMEOUT)
            .connect_timeout(TIMEOUT)
            .no_proxy()
            .user_agent(concat!("idbridge-webhooks/", env!("CARGO_PKG_VERSION")))
            .build();
        // Only fails if the TLS backend cannot initialise. Falling back to a default
        // client would drop the address checks above, so there is no fallback.
        #[allow(clippy::expect_used)]
        let client = client.expect("the HTTP client for outside URLs cannot be built");
        #[allow(clippy::expect_used)]
        let poster = poster.expect("the HTTP client for webhooks cannot be built");
        Self {
            client,
            poster,
            allow_private,
        }
    }

    /// Whether `url` may be a webhook endpoint: absolute, https (http only with
    /// `--allow-private-urls`), no credentials or fragment, and not an IP literal
    /// of a private network. Names are checked again at every connection.
    pub fn check_webhook_url(&self, url: &str) -> Result<Url, FetchError> {
        let parsed = Url::parse(url).map_err(|_| FetchError::BadUrl(url.to_owned()))?;
        if !parsed.username().is_empty()
            || parsed.password().is_some()
            || parsed.fragment().is_some()
        {
            return Err(FetchError::Refused(
                "a webhook URL carries no credentials or fragment (the receiver checks the signature instead)",
            ));
        }
        check_url(&parsed, self.allow_private)?;
        Ok(parsed)
    }

    /// POSTs a JSON `body` with `headers`; a 2xx answer is success, anything else
    /// (including a redirect) is [`FetchError::Status`]. The answer's body is
    /// read (up to 64 KiB, so the connection can be reused) and dropped.
    pub async fn post_json(
        &self,
        url: &str,
        headers: &[(&'static str, String)],
        body: Vec<u8>,
    ) -> Result<PostOutcome, FetchError> {
        let parsed = self.check_webhook_url(url)?;
        let mut request = self
            .poster
            .post(parsed)
            .header(reqwest::header::CONTENT_TYPE, "application/json");
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let mut response = request.body(body).send().await.map_err(classify)?;
        let status = response.status().as_u16();
        let mut drained = 0usize;
        while drained < 64 * 1024 {
            match response.chunk().await {
                Ok(Some(chunk)) => drained += chunk.len(),
                Ok(None) | Err(_) => break,
            }
        }
        if (200..300).contains(&status) {
            Ok(PostOutcome { status })
        } else {
            Err(FetchError::Status(status))
        }
    }

    /// GETs `url` and returns its body, at most `max_bytes` of it.
    pub async fn get(&self, url: &str, max_bytes: usize) -> Result<Vec<u8>, FetchError> {
        self.get_authorized(url, None, max_bytes).await
    }

    /// GETs `url` with an `Authorization` header (an OpenID provider's userinfo,
    /// with the access token it gave), at most `max_bytes` of its body.
    pub async fn get_authorized(
        &self,
        url: &str,
        authorization: Option<&str>,
        max_bytes: usize,
    ) -> Result<Vec<u8>, FetchError> {
        let parsed = Url::parse(url).map_err(|_| FetchError::BadUrl(url.to_owned()))?;
        check_url(&parsed, self.allow_private)?;
        let mut request = self
            .client
            .get(parsed)
            .header(reqwest::header::ACCEPT, "application/json");
        if let Some(value) = authorization {
            request = request.header(reqwest::header::AUTHORIZATION, value);
        }
        let response = request.send().await.map_err(classify)?;
        if !response.status().is_success() {
            return Err(FetchError::Status(response.status().as_u16()));
        }
        read_body(response, max_bytes).await
    }

    /// POSTs a form (an OpenID provider's token endpoint), without following
    /// redirects, and returns the status and body whatever the status: a token
    /// endpoint says what went wrong in a JSON body with a 400.
    pub async fn post_form(
        &self,
        url: &str,
        authorization: Option<&str>,
        form: &[(&'static str, String)],
        max_bytes: usize,
    ) -> Result<(u16, Vec<u8>), FetchError> {
        let parsed = Url::parse(url).map_err(|_| FetchError::BadUrl(url.to_owned()))?;
        check_url(&parsed, self.allow_private)?;
        let body: String = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form.iter().map(|(k, v)| (*k, v.as_str())))
            .finish();
        let mut request = self
            .poster
            .post(parsed)
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .header(reqwest::header::ACCEPT, "application/json");
        if let Some(value) = authorization {
            request = request.header(reqwest::header::AUTHORIZATION, value);
        }
        let response = request.body(body).send().await.map_err(classify)?;
        let status = response.status().as_u16();
        Ok((status, read_body(response, max_bytes).await?))
    }
}

/// At most `max_bytes` of a response's body.
async fn read_body(
    mut response: reqwest::Response,
    max_bytes: usize,
) -> Result<Vec<u8>, FetchError> {
    if response
        .content_length()
        .is_some_and(|n| n > max_bytes as u64)
    {
        return Err(FetchError::TooLarge(max_bytes));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(classify)? {
        if body.len() + chunk.len() > max_bytes {
            return Err(FetchError::TooLarge(max_bytes));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn check_url(url: &Url, allow_private: bool) -> Result<(), FetchError> {
    match url.scheme() {
        "https" => {}
        "http" if allow_private => {}
        _ => return Err(FetchError::NotHttps),
    }
    let ip = match url.host() {
        Some(Host::Ipv4(v4)) => IpAddr::V4(v4),
        Some(Host::Ipv6(v6)) => IpAddr::V6(v6),
        Some(Host::Domain(_)) => return Ok(()),
        None => return Err(FetchError::BadUrl(url.to_string())),
    };
    if allow_private || is_public(ip) {
        Ok(())
    } else {
        Err(FetchError::PrivateAddress(ip.to_string()))
    }
}

/// Turns reqwest's error into ours, finding our own errors in its source chain.
fn classify(err: reqwest::Error) -> FetchError {
    if err.is_timeout() {
        return FetchError::Timeout;
    }
    let mut source: Option<&(dyn StdError + 'static)> = Some(&err);
    while let Some(e) = source {
        if let Some(ours) = e.downcast_ref::<FetchError>() {
            return ours.clone();
        }
        source = e.source();
    }
    FetchError::Transport(err.without_url().to_string())
}

/// Resolves with the system resolver, then keeps only the addresses allowed.
#[derive(Debug)]
struct GuardedResolver {
    allow_private: bool,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let resolved: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> = resolved
                .iter()
                .copied()
                .filter(|a| allow_private || is_public(a.ip()))
                .collect();
            if allowed.is_empty() && !resolved.is_empty() {
                let err: Box<dyn StdError + Send + Sync> =
                    Box::new(FetchError::PrivateAddress(host));
                return Err(err);
            }
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(url: &str, allow_private: bool) -> Result<(), FetchError> {
        check_url(&Url::parse(url).expect("url"), allow_private)
    }

    #[test]
    fn urls_are_checked_before_any_connection() {
        assert_eq!(
            check("http://login.example.com/x", false),
            Err(FetchError::NotHttps)
        );
        assert_eq!(check("file:///etc/passwd", true), Err(FetchError::NotHttps));
        assert_eq!(check("gopher://x/", true), Err(FetchError::NotHttps));
        for private in [
            "https://127.0.0.1/",
            "https://169.254.169.254/latest/meta-data/",
            "https://[::1]/",
            "https://[::ffff:10.0.0.1]/",
            "https://10.0.0.1:8443/metadata",
        ] {
            assert!(
                matches!(check(private, false), Err(FetchError::PrivateAddress(_))),
                "{private}"
            );
            assert_eq!(
                check(private, true),
                Ok(()),
                "{private} with --allow-private-urls"
            );
        }
        assert_eq!(check("https://login.microsoftonline.com/x", false), Ok(()));
        assert_eq!(check("https://20.190.128.1/x", false), Ok(()));
    }

    #[tokio::test]
    async fn names_resolving_to_private_addresses_are_refused() {
        let fetcher = Fetcher::new(false);
        // `localhost` resolves to loopback only.
        let err = fetcher
            .get("https://localhost:1/metadata", 1024)
            .await
            .expect_err("refused");
        assert!(
            matches!(err, FetchError::PrivateAddress(ref host) if host == "localhost"),
            "{err}"
        );
    }
}
