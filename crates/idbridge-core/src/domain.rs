//! Email domains a tenant claims, and the DNS TXT proof that it owns them.
//!
//! Pure: what a domain name may be, how it is written once normalised, which domains
//! are public mailbox providers (nobody owns `gmail.com`), what the TXT record must
//! say and how a DNS answer is judged. The lookup itself is the server's.
//!
//! A verified domain routes sign-ins (`login_hint`, `/api/v1/lookup`) to a tenant, so
//! the one spelling stored and compared is the lowercase ASCII (punycode) form:
//! `Exämple.COM.` and `xn--exmple-cua.com` are the same domain and must not become two
//! rows that two tenants could each verify.

use std::fmt;
use std::net::IpAddr;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// The longest domain name DNS carries, without the trailing dot (RFC 1035 §2.3.4).
pub const MAX_DOMAIN_LEN: usize = 253;
/// The longest label (RFC 1035 §2.3.4).
pub const MAX_LABEL_LEN: usize = 63;
/// The longest email address accepted for a lookup (RFC 3696 errata: 254; a little
/// slack for what people paste).
pub const MAX_EMAIL_LEN: usize = 320;
/// The label under the domain where the proof lives.
pub const TXT_RECORD_LABEL: &str = "_idbridge-verification";
/// What the TXT record's value starts with, before the token.
pub const TXT_VALUE_PREFIX: &str = "idbridge-verification=";
/// Random bytes in a verification token. Not a secret (it is published in DNS); it
/// only has to be unguessable so that nobody can pre-publish another tenant's proof.
const TOKEN_BYTES: usize = 24;

/// A hostname in its one stored spelling: lowercase ASCII, punycode for
/// internationalised labels, no trailing dot, at least two labels.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DomainName(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidDomain {
    #[error("the domain is empty")]
    Empty,
    #[error("the domain is an IP address; a domain name such as example.com is needed")]
    IpLiteral,
    #[error("the domain is longer than {MAX_DOMAIN_LEN} characters")]
    TooLong,
    #[error("the domain needs at least two labels, such as example.com")]
    SingleLabel,
    #[error("the domain has an empty label (two dots in a row, or a leading dot)")]
    EmptyLabel,
    #[error("a label of the domain is longer than {MAX_LABEL_LEN} characters")]
    LabelTooLong,
    #[error("a label of the domain starts or ends with '-'")]
    HyphenAtEdge,
    #[error(
        "the domain may contain only letters, digits, '-' and '.'; found {0:?} \
         (internationalised names are converted to punycode when they are valid IDNA)"
    )]
    BadCharacter(char),
    #[error("the internationalised domain name is not valid IDNA")]
    InvalidIdna,
    #[error("the last label of the domain is numeric, so this is no domain name")]
    NumericTld,
}

impl DomainName {
    /// Trims, lowercases, drops one trailing dot, converts internationalised names to
    /// punycode (IDNA), then checks what is left is a hostname of two labels or more.
    pub fn parse(input: &str) -> Result<Self, InvalidDomain> {
        let trimmed = input.trim();
        let trimmed = trimmed.strip_suffix('.').unwrap_or(trimmed);
        if trimmed.is_empty() {
            return Err(InvalidDomain::Empty);
        }
        let unbracketed = trimmed
            .strip_prefix('[')
            .and_then(|s| s.strip_suffix(']'))
            .unwrap_or(trimmed);
        if unbracketed.parse::<IpAddr>().is_ok() {
            return Err(InvalidDomain::IpLiteral);
        }
        let ascii = if trimmed.is_ascii() {
            trimmed.to_ascii_lowercase()
        } else {
            // UTS 46 mapping and punycode; refuses what IDNA refuses (mixed scripts
            // aside, which registries police, not us).
            idna::domain_to_ascii(trimmed).map_err(|_| InvalidDomain::InvalidIdna)?
        };
        Self::check_ascii(&ascii)?;
        Ok(Self(ascii))
    }

    /// [`Self::parse`] of what people paste for a domain: an address
    /// (`https://acme.example/login`), an email address or its `@acme.example` part,
    /// a `*.` wildcard. The host is taken out of them; a port, a path or a query never
    /// make a domain.
    pub fn from_pasted(input: &str) -> Result<Self, InvalidDomain> {
        let mut s = input.trim();
        for scheme in ["https://", "http://"] {
            if s.len() >= scheme.len() && s[..scheme.len()].eq_ignore_ascii_case(scheme) {
                s = &s[scheme.len()..];
            }
        }
        // The host ends where a path, query or fragment begins.
        let s = s.split(['/', '?', '#']).next().unwrap_or_default();
        // user@host (an email address, or credentials in a URL) keeps the host.
        let s = s.rsplit('@').next().unwrap_or_default();
        // A port, unless the host is a bracketed IPv6 literal (refused by `parse`).
        let s = match s.rsplit_once(':') {
            Some((host, port))
                if !host.contains(']') && port.bytes().all(|b| b.is_ascii_digit()) =>
            {
                host
            }
            _ => s,
        };
        let s = s.strip_prefix("*.").unwrap_or(s);
        Self::parse(s)
    }

    fn check_ascii(name: &str) -> Result<(), InvalidDomain> {
        if name.is_empty() {
            return Err(InvalidDomain::Empty);
        }
        if let Some(bad) = name
            .chars()
            .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-' || *c == '.'))
        {
            return Err(InvalidDomain::BadCharacter(bad));
        }
        if name.len() > MAX_DOMAIN_LEN {
            return Err(InvalidDomain::TooLong);
        }
        let labels: Vec<&str> = name.split('.').collect();
        if labels.iter().any(|l| l.is_empty()) {
            return Err(InvalidDomain::EmptyLabel);
        }
        if labels.len() < 2 {
            return Err(InvalidDomain::SingleLabel);
        }
        for label in &labels {
            if label.len() > MAX_LABEL_LEN {
                return Err(InvalidDomain::LabelTooLong);
            }
            if label.starts_with('-') || label.ends_with('-') {
                return Err(InvalidDomain::HyphenAtEdge);
            }
        }
        // `10.0.0.1` in another form (`010.0.0.1`, `1.2.3.4.5`): a numeric top-level
        // label never names a domain, and resolvers treat such strings as addresses.
        if labels
            .last()
            .is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(InvalidDomain::NumericTld);
        }
        Ok(())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Where the proof is published: `_idbridge-verification.<domain>`.
    pub fn txt_record_name(&self) -> String {
        format!("{TXT_RECORD_LABEL}.{}", self.0)
    }

    /// Whether this is (or is under) a public mailbox provider's domain: anyone can
    /// have an address there, so nobody may claim it for a tenant.
    pub fn is_public_mail_domain(&self) -> bool {
        is_public_mail_domain(&self.0)
    }
}

impl fmt::Display for DomainName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for DomainName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DomainName({})", self.0)
    }
}

/// Public mailbox providers, matched as the domain itself or any domain under it.
/// Not exhaustive (nothing can be); these are the providers whose addresses turn up
/// in B2B sign-ups. Documented in docs/integration-guide.md.
pub const PUBLIC_MAIL_DOMAINS: &[&str] = &[
    // Google, Microsoft, Apple, Yahoo, AOL
    "gmail.com",
    "googlemail.com",
    "outlook.com",
    "hotmail.com",
    "live.com",
    "msn.com",
    "passport.com",
    "icloud.com",
    "me.com",
    "mac.com",
    "yahoo.com",
    "ymail.com",
    "rocketmail.com",
    "aol.com",
    "aim.com",
    // Privacy-oriented and independent providers
    "proton.me",
    "protonmail.com",
    "protonmail.ch",
    "pm.me",
    "tutanota.com",
    "tutanota.de",
    "tuta.io",
    "tuta.com",
    "fastmail.com",
    "fastmail.fm",
    "hey.com",
    "zoho.com",
    "zohomail.com",
    "mail.com",
    "email.com",
    "inbox.com",
    // Europe
    "web.de",
    "t-online.de",
    "freenet.de",
    "posteo.de",
    "mailbox.org",
    "orange.fr",
    "wanadoo.fr",
    "free.fr",
    "laposte.net",
    "sfr.fr",
    "libero.it",
    "virgilio.it",
    "tiscali.it",
    "seznam.cz",
    "wp.pl",
    "o2.pl",
    "interia.pl",
    "onet.pl",
    // Russia and neighbours
    "mail.ru",
    "inbox.ru",
    "list.ru",
    "bk.ru",
    "ya.ru",
    "rambler.ru",
    "ukr.net",
    // Asia
    "qq.com",
    "foxmail.com",
    "163.com",
    "126.com",
    "yeah.net",
    "sina.com",
    "sina.cn",
    "sohu.com",
    "aliyun.com",
    "naver.com",
    "daum.net",
    "hanmail.net",
    "rediffmail.com",
    // North American ISPs
    "comcast.net",
    "verizon.net",
    "att.net",
    "sbcglobal.net",
    "cox.net",
    "charter.net",
];

/// Providers present under many country domains (`gmx.de`, `yahoo.co.uk`,
/// `yandex.com.tr`): the provider's label followed by a top-level domain, or by a
/// two-level country suffix.
pub const PUBLIC_MAIL_FAMILIES: &[&str] = &[
    "gmx",
    "yandex",
    "yahoo",
    "hotmail",
    "outlook",
    "live",
    "windowslive",
];

fn is_public_mail_domain(domain: &str) -> bool {
    if PUBLIC_MAIL_DOMAINS
        .iter()
        .any(|d| domain == *d || domain.strip_suffix(d).is_some_and(|s| s.ends_with('.')))
    {
        return true;
    }
    let labels: Vec<&str> = domain.split('.').collect();
    // Only the registrable domain itself: `gmx.net`, `yahoo.co.uk`, not
    // `gmx.example.com` (a company's own host that happens to start with "gmx").
    let suffix = &labels[1..];
    PUBLIC_MAIL_FAMILIES.contains(&labels[0])
        && (1..=2).contains(&suffix.len())
        && suffix.iter().all(|l| l.len() <= 3)
}

/// An email address reduced to what a lookup needs: its domain.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidEmail {
    #[error("the email address is longer than {MAX_EMAIL_LEN} characters")]
    TooLong,
    #[error("the email address has no '@'")]
    NoAt,
    #[error("the email address has nothing before the '@'")]
    EmptyLocalPart,
    #[error("the email address's domain is not valid: {0}")]
    Domain(#[from] InvalidDomain),
}

/// The normalised domain of `email` (the part after the last `@`; local parts may
/// quote an `@`, domains never contain one).
pub fn email_domain(email: &str) -> Result<DomainName, InvalidEmail> {
    let email = email.trim();
    if email.len() > MAX_EMAIL_LEN {
        return Err(InvalidEmail::TooLong);
    }
    let (local, domain) = email.rsplit_once('@').ok_or(InvalidEmail::NoAt)?;
    if local.is_empty() {
        return Err(InvalidEmail::EmptyLocalPart);
    }
    Ok(DomainName::parse(domain)?)
}

/// A new verification token: random, base64url. One per tenant and domain, kept for
/// the life of the claim so that re-verifying never asks the admin to edit DNS again.
///
/// # Panics
/// If the OS has no entropy source (as for every secret idbridge issues).
pub fn new_verification_token() -> String {
    let mut bytes = [0u8; TOKEN_BYTES];
    #[allow(clippy::expect_used)]
    getrandom::fill(&mut bytes).expect("the operating system's random source failed");
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The TXT value that proves the claim: `idbridge-verification=<token>`.
pub fn txt_record_value(token: &str) -> String {
    format!("{TXT_VALUE_PREFIX}{token}")
}

/// Whether one of the TXT records at the verification name carries `expected`.
///
/// A TXT record is a list of character-strings of at most 255 bytes each; DNS hosting
/// panels split long values and some split short ones too, so each record's strings
/// are joined before comparing (RFC 7208 §3.3 reads SPF the same way). Surrounding
/// whitespace is ignored, the token's case is not (base64url is case-sensitive).
pub fn txt_records_match<R, S>(records: R, expected: &str) -> bool
where
    R: IntoIterator,
    R::Item: IntoIterator<Item = S>,
    S: AsRef<[u8]>,
{
    records.into_iter().any(|strings| {
        let joined: Vec<u8> = strings
            .into_iter()
            .flat_map(|s| s.as_ref().to_vec())
            .collect();
        std::str::from_utf8(&joined).is_ok_and(|text| text.trim() == expected)
    })
}

/// What a DNS check of the verification record found, as the admin API reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DnsCheck {
    /// A TXT record at the name carries the expected value.
    Found,
    /// The name exists (or has other records) but no TXT record carries the value.
    TxtRecordNotFound,
    /// The name does not exist.
    NxDomain,
    /// No answer in time.
    Timeout,
    /// Another DNS failure (SERVFAIL, refused, unreachable resolver).
    DnsError,
}

impl DnsCheck {
    /// The stable `verification_error` code; `None` for [`DnsCheck::Found`].
    pub fn reason(self) -> Option<&'static str> {
        match self {
            DnsCheck::Found => None,
            DnsCheck::TxtRecordNotFound => Some("txt_record_not_found"),
            DnsCheck::NxDomain => Some("nxdomain"),
            DnsCheck::Timeout => Some("dns_timeout"),
            DnsCheck::DnsError => Some("dns_error"),
        }
    }

    /// Whether the answer says the record is really absent, as opposed to DNS not
    /// answering: only an absence may take a verified domain away.
    pub fn is_definite_absence(self) -> bool {
        matches!(self, DnsCheck::TxtRecordNotFound | DnsCheck::NxDomain)
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn pasted_addresses_become_their_domain() {
        for pasted in [
            "acme.example",
            "https://acme.example/",
            "HTTPS://Acme.Example/login?x=1#top",
            "http://acme.example:8443/path",
            "ada@acme.example",
            "@acme.example",
            " *.acme.example ",
            "acme.example.",
        ] {
            assert_eq!(
                DomainName::from_pasted(pasted).map(|d| d.to_string()),
                Ok("acme.example".to_owned()),
                "{pasted:?}"
            );
        }
        for refused in [
            "https://",
            "http://10.0.0.1/",
            "[::1]:443",
            "@",
            "https://localhost/",
        ] {
            assert!(DomainName::from_pasted(refused).is_err(), "{refused:?}");
        }
    }

    use super::*;

    #[test]
    fn normalises_case_whitespace_trailing_dot_and_idna() {
        for (input, expected) in [
            ("example.com", "example.com"),
            ("  Example.COM.  ", "example.com"),
            ("sub.example.co.uk", "sub.example.co.uk"),
            ("bücher.example", "xn--bcher-kva.example"),
            ("BÜCHER.example.", "xn--bcher-kva.example"),
            ("xn--bcher-kva.example", "xn--bcher-kva.example"),
            ("a-b.c0.io", "a-b.c0.io"),
        ] {
            assert_eq!(
                DomainName::parse(input).map(|d| d.to_string()),
                Ok(expected.to_owned()),
                "{input}"
            );
        }
    }

    #[test]
    fn refuses_what_is_no_hostname() {
        let long_label = format!("{}.com", "a".repeat(64));
        let too_long = format!("{}.com", ["abcdefghij"; 25].join("."));
        for (input, error) in [
            ("", InvalidDomain::Empty),
            ("   ", InvalidDomain::Empty),
            (".", InvalidDomain::Empty),
            ("localhost", InvalidDomain::SingleLabel),
            ("com", InvalidDomain::SingleLabel),
            ("192.168.1.10", InvalidDomain::IpLiteral),
            ("::1", InvalidDomain::IpLiteral),
            ("[2001:db8::1]", InvalidDomain::IpLiteral),
            ("1.2.3.4.5", InvalidDomain::NumericTld),
            ("example..com", InvalidDomain::EmptyLabel),
            (".example.com", InvalidDomain::EmptyLabel),
            ("-example.com", InvalidDomain::HyphenAtEdge),
            ("example-.com", InvalidDomain::HyphenAtEdge),
            ("exa_mple.com", InvalidDomain::BadCharacter('_')),
            ("user@example.com", InvalidDomain::BadCharacter('@')),
            ("http://example.com", InvalidDomain::BadCharacter(':')),
            ("example.com/path", InvalidDomain::BadCharacter('/')),
            ("exa mple.com", InvalidDomain::BadCharacter(' ')),
            (long_label.as_str(), InvalidDomain::LabelTooLong),
            (too_long.as_str(), InvalidDomain::TooLong),
        ] {
            assert_eq!(DomainName::parse(input), Err(error), "{input:?}");
        }
        assert!(DomainName::parse("\u{200b}.com").is_err());
    }

    #[test]
    fn public_mail_domains_are_recognised_and_company_domains_are_not() {
        for public in [
            "gmail.com",
            "GMAIL.com",
            "outlook.com",
            "hotmail.co.uk",
            "yahoo.co.jp",
            "yahoo.com",
            "icloud.com",
            "proton.me",
            "aol.com",
            "gmx.de",
            "gmx.net",
            "gmx.at",
            "mail.ru",
            "yandex.ru",
            "yandex.com.tr",
            "qq.com",
            "163.com",
            "eu.gmail.com",
        ] {
            let domain = DomainName::parse(public).expect(public);
            assert!(domain.is_public_mail_domain(), "{public}");
        }
        for company in [
            "example.com",
            "acme.io",
            "gmx.example.com",
            "notgmail.com",
            "mygmail.com",
            "yahoo-inc.com",
            "mail.example.ru",
            "yandex.example.org",
        ] {
            let domain = DomainName::parse(company).expect(company);
            assert!(!domain.is_public_mail_domain(), "{company}");
        }
    }

    #[test]
    fn email_domain_takes_the_part_after_the_last_at() {
        assert_eq!(
            email_domain(" Jane.Doe@Example.COM ").map(|d| d.to_string()),
            Ok("example.com".to_owned())
        );
        assert_eq!(
            email_domain("\"a@b\"@example.com").map(|d| d.to_string()),
            Ok("example.com".to_owned())
        );
        assert_eq!(email_domain("example.com"), Err(InvalidEmail::NoAt));
        assert_eq!(
            email_domain("@example.com"),
            Err(InvalidEmail::EmptyLocalPart)
        );
        assert!(matches!(
            email_domain("jane@"),
            Err(InvalidEmail::Domain(InvalidDomain::Empty))
        ));
        assert!(matches!(
            email_domain("jane@localhost"),
            Err(InvalidEmail::Domain(InvalidDomain::SingleLabel))
        ));
        let long = format!("{}@example.com", "a".repeat(400));
        assert_eq!(email_domain(&long), Err(InvalidEmail::TooLong));
    }

    #[test]
    fn tokens_are_random_and_url_safe() {
        let a = new_verification_token();
        let b = new_verification_token();
        assert_ne!(a, b);
        assert_eq!(a.len(), 32);
        assert!(
            a.bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        );
        assert_eq!(txt_record_value("tok"), "idbridge-verification=tok");
        let domain = DomainName::parse("example.com").expect("domain");
        assert_eq!(
            domain.txt_record_name(),
            "_idbridge-verification.example.com"
        );
    }

    #[test]
    fn txt_matching_joins_character_strings_of_each_record() {
        let expected = "idbridge-verification=abc123";
        let whole: Vec<Vec<&str>> = vec![vec!["v=spf1 -all"], vec![expected]];
        assert!(txt_records_match(whole, expected));
        let split: Vec<Vec<&str>> = vec![vec!["idbridge-verif", "ication=abc123"]];
        assert!(txt_records_match(split, expected));
        let padded: Vec<Vec<&str>> = vec![vec![" idbridge-verification=abc123 "]];
        assert!(txt_records_match(padded, expected));
        // Strings of different records are never joined together.
        let across: Vec<Vec<&str>> = vec![vec!["idbridge-verif"], vec!["ication=abc123"]];
        assert!(!txt_records_match(across, expected));
        let wrong_case: Vec<Vec<&str>> = vec![vec!["idbridge-verification=ABC123"]];
        assert!(!txt_records_match(wrong_case, expected));
        let prefix_only: Vec<Vec<&str>> = vec![vec!["idbridge-verification=abc12"]];
        assert!(!txt_records_match(prefix_only, expected));
        let none: Vec<Vec<&str>> = vec![];
        assert!(!txt_records_match(none, expected));
        let binary: Vec<Vec<&[u8]>> = vec![vec![&[0xff, 0xfe][..]]];
        assert!(!txt_records_match(binary, expected));
    }

    #[test]
    fn only_a_definite_absence_unverifies() {
        assert!(DnsCheck::TxtRecordNotFound.is_definite_absence());
        assert!(DnsCheck::NxDomain.is_definite_absence());
        assert!(!DnsCheck::Timeout.is_definite_absence());
        assert!(!DnsCheck::DnsError.is_definite_absence());
        assert_eq!(DnsCheck::Found.reason(), None);
        assert_eq!(DnsCheck::NxDomain.reason(), Some("nxdomain"));
    }
}
