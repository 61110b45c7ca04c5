//! What an IT admin should change when a test sign-in is refused: for each reason
//! the sign-in log records, the place in the identity provider's console, in that
//! console's own words, and the value it must hold. Pure: the reason, the vendor and
//! the values idbridge expects in, the advice out.

use std::fmt;

/// Whose console the advice speaks of. Inferred from the IdP's Entity ID (SAML) or
/// issuer (OpenID Connect), which each of these vendors spells its own way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdpVendor {
    Entra,
    Okta,
    Google,
    OneLogin,
    JumpCloud,
    PingOne,
    /// Microsoft AD FS.
    Adfs,
    /// Any other IdP: the advice names the SAML or OpenID Connect concept.
    Generic,
}

impl IdpVendor {
    pub const ALL: [IdpVendor; 8] = [
        Self::Entra,
        Self::Okta,
        Self::Google,
        Self::OneLogin,
        Self::JumpCloud,
        Self::PingOne,
        Self::Adfs,
        Self::Generic,
    ];

    /// The vendor whose Entity ID or issuer `id` looks like: Entra ID's
    /// `https://sts.windows.net/{tenant}/` (SAML) or
    /// `https://login.microsoftonline.com/{tenant}/v2.0` (OIDC), Okta's
    /// `http://www.okta.com/{app}` or `https://{org}.okta.com`, Google's
    /// `https://accounts.google.com/o/saml2?idpid=…` or `https://accounts.google.com`.
    pub fn infer(id: &str) -> Self {
        let host = url::Url::parse(id)
            .ok()
            .and_then(|u| u.host_str().map(str::to_ascii_lowercase))
            .unwrap_or_default();
        let under = |domain: &str| host == domain || host.ends_with(&format!(".{domain}"));
        if host == "sts.windows.net" || host == "login.microsoftonline.com" {
            Self::Entra
        } else if host == "www.okta.com" || under("okta.com") || under("oktapreview.com") {
            Self::Okta
        } else if host == "accounts.google.com" {
            Self::Google
        } else if under("onelogin.com") {
            // `https://app.onelogin.com/saml/metadata/{app id}`, `https://{sub}.onelogin.com/oidc/2`.
            Self::OneLogin
        } else if under("jumpcloud.com") {
            Self::JumpCloud
        } else if under("pingone.com") || under("pingone.eu") || under("pingone.asia") {
            // `https://auth.pingone.com/{environment id}`.
            Self::PingOne
        } else if url::Url::parse(id).is_ok_and(|u| u.path() == "/adfs/services/trust") {
            // AD FS's Federation Service identifier: `http://{host}/adfs/services/trust`.
            Self::Adfs
        } else {
            Self::Generic
        }
    }

    /// The name an admin knows it by.
    pub fn name(self) -> &'static str {
        match self {
            Self::Entra => "Microsoft Entra ID",
            Self::Okta => "Okta",
            Self::Google => "Google Workspace",
            Self::OneLogin => "OneLogin",
            Self::JumpCloud => "JumpCloud",
            Self::PingOne => "PingOne",
            Self::Adfs => "AD FS",
            Self::Generic => "your identity provider",
        }
    }
}

impl fmt::Display for IdpVendor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What idbridge expected, for advice that names the exact value to enter.
#[derive(Debug, Clone, Default)]
pub struct FixContext {
    /// SAML: the SP Entity ID; OIDC: the connection's client id.
    pub expected_id: String,
    /// SAML: the ACS URL; OIDC: the redirect URI registered at the IdP.
    pub return_url: String,
    /// SAML: the SP metadata URL (for "Upload metadata file" and encryption).
    pub metadata_url: String,
    /// SAML: the configured IdP Entity ID; OIDC: the issuer.
    pub idp_id: String,
}

/// The advice for one refusal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fix {
    /// Where to go in the IdP's console (its menus, in its words).
    pub place: String,
    /// What to do there.
    pub action: String,
    /// The value to enter or look for, when there is exactly one.
    pub value: Option<String>,
}

impl Fix {
    fn new(place: impl Into<String>, action: impl Into<String>, value: Option<&str>) -> Self {
        Self {
            place: place.into(),
            action: action.into(),
            value: value.map(str::to_owned),
        }
    }
}

use IdpVendor::{Entra, Generic, Google, Okta};

const ENTRA_SSO: &str = "Enterprise applications → your app → Single sign-on";
const OKTA_SAML: &str = "Applications → your app → General → SAML Settings → Edit";
const GOOGLE_APP: &str = "Admin console → Apps → Web and mobile apps → your app";
const ENTRA_REG: &str = "App registrations → your app";
const OKTA_OIDC: &str = "Applications → your app → General";

/// The advice for a refusal with `reason` (as the sign-in log records it) at a
/// `vendor` IdP. `None` only for a reason this table does not know; a test holds it
/// to every reason idbridge gives.
pub fn fix(reason: &str, vendor: IdpVendor, cx: &FixContext) -> Option<Fix> {
    more_vendors(reason, vendor, cx).or_else(|| {
        // The other reasons read the same at any IdP.
        let base = match vendor {
            Entra | Okta | Google => vendor,
            _ => Generic,
        };
        table(reason, base, cx)
    })
}

const ONELOGIN_APP: &str = "Applications → Applications → your app → Configuration";
const JUMPCLOUD_SSO: &str = "SSO Applications → your app → SSO";
const PINGONE_APP: &str = "Applications → Applications → your app → Configuration";
const ADFS_TRUST: &str = "AD FS Management → Relying Party Trusts → your trust → Properties";

/// OneLogin's, JumpCloud's, PingOne's and AD FS's words for the refusals whose fix
/// is in a field of their consoles.
fn more_vendors(reason: &str, vendor: IdpVendor, cx: &FixContext) -> Option<Fix> {
    use IdpVendor::{Adfs, JumpCloud, OneLogin, PingOne};
    let entity = Some(cx.expected_id.as_str());
    let acs = Some(cx.return_url.as_str());
    let metadata = Some(cx.metadata_url.as_str());
    let fix = match (reason, vendor) {
        ("audience_mismatch", OneLogin) => Fix::new(
            ONELOGIN_APP,
            "Set \"Audience (EntityID)\" (in the SCIM Provisioner app: \"SAML Audience URL\") \
             to exactly this value.",
            entity,
        ),
        ("audience_mismatch", JumpCloud) => Fix::new(
            JUMPCLOUD_SSO,
            "Set \"SP Entity ID\" to exactly this value.",
            entity,
        ),
        ("audience_mismatch", PingOne) => Fix::new(
            PINGONE_APP,
            "Set \"Entity ID\" to exactly this value.",
            entity,
        ),
        ("audience_mismatch", Adfs) => Fix::new(
            format!("{ADFS_TRUST} → Identifiers"),
            "Add this value as a \"Relying party identifier\" (or update the trust from idbridge's federation metadata address).",
            entity,
        ),
        ("destination_mismatch" | "recipient_mismatch", OneLogin) => Fix::new(
            ONELOGIN_APP,
            "Set \"ACS (Consumer) URL\" and \"Recipient\" to exactly this value (and keep the \"ACS (Consumer) URL Validator\" matching it); in the SCIM Provisioner app it is \"SAML Consumer URL\".",
            acs,
        ),
        ("destination_mismatch" | "recipient_mismatch", JumpCloud) => Fix::new(
            JUMPCLOUD_SSO,
            "Set \"ACS URLs\" (the default one) to exactly this value.",
            acs,
        ),
        ("destination_mismatch" | "recipient_mismatch", PingOne) => {
            Fix::new(PINGONE_APP, "Set \"ACS URLs\" to exactly this value.", acs)
        }
        ("destination_mismatch" | "recipient_mismatch", Adfs) => Fix::new(
            format!("{ADFS_TRUST} → Endpoints"),
            "The SAML Assertion Consumer endpoint (POST binding) must be exactly this value: update the trust from idbridge's federation metadata address.",
            acs,
        ),
        (
            "signature_invalid"
            | "saml_not_configured"
            | "idp_sso_url_missing"
            | "idp_sso_url_invalid",
            OneLogin,
        ) => Fix::new(
            "Applications → Applications → your app → More Actions → SAML Metadata",
            "idbridge needs this app's current metadata (its X.509 certificate and SSO URL): download it, or give idbridge the Issuer URL from the SSO tab, which serves it.",
            None,
        ),
        (
            "signature_invalid"
            | "saml_not_configured"
            | "idp_sso_url_missing"
            | "idp_sso_url_invalid",
            JumpCloud,
        ) => Fix::new(
            "SSO Applications → your app → SSO → Export Metadata",
            "idbridge needs this app's current metadata (its certificate and IdP URL): export it (or copy its metadata URL) and give it to idbridge.",
            None,
        ),
        (
            "signature_invalid"
            | "saml_not_configured"
            | "idp_sso_url_missing"
            | "idp_sso_url_invalid",
            PingOne,
        ) => Fix::new(
            "Applications → Applications → your app → Configuration → Download Metadata",
            "idbridge needs this application's current metadata (its signing certificate and SSO URL): download it, or copy the IdP Metadata URL, and give it to idbridge.",
            None,
        ),
        (
            "signature_invalid"
            | "saml_not_configured"
            | "idp_sso_url_missing"
            | "idp_sso_url_invalid",
            Adfs,
        ) => Fix::new(
            "AD FS Management → Service → Certificates",
            "idbridge needs the current Token-signing certificate: give it the federation metadata at https://{your AD FS host}/FederationMetadata/2007-06/FederationMetadata.xml (after a certificate rollover, again).",
            None,
        ),
        ("status_not_success", OneLogin) => Fix::new(
            "Users → the user → Applications",
            "OneLogin refused the sign-in: assign the app to the user (or to a role they have).",
            None,
        ),
        ("status_not_success", JumpCloud) => Fix::new(
            "SSO Applications → your app → User Groups",
            "JumpCloud refused the sign-in: bind a user group the user is in to the app.",
            None,
        ),
        ("status_not_success", PingOne) => Fix::new(
            "Applications → Applications → your app → Access",
            "PingOne refused the sign-in: give the user's group access to the application.",
            None,
        ),
        ("status_not_success", Adfs) => Fix::new(
            format!("{ADFS_TRUST} → Access control policy"),
            "AD FS refused the sign-in: the trust's access control policy must permit the user (e.g. \"Permit everyone\" or their group).",
            None,
        ),
        ("email_missing", OneLogin) => Fix::new(
            "Applications → Applications → your app → Parameters",
            "Add a parameter named \"email\" with value Email, ticking \"Include in SAML assertion\".",
            Some("email"),
        ),
        ("email_missing", JumpCloud) => Fix::new(
            format!("{JUMPCLOUD_SSO} → Attributes"),
            "Add a user attribute: Service Provider Attribute Name \"email\", JumpCloud Attribute Name email.",
            Some("email"),
        ),
        ("email_missing", PingOne) => Fix::new(
            "Applications → Applications → your app → Attribute Mappings",
            "Map the attribute \"email\" to the PingOne attribute Email Address.",
            Some("email"),
        ),
        ("email_missing", Adfs) => Fix::new(
            "AD FS Management → Relying Party Trusts → your trust → Edit Claim Issuance Policy",
            "Add a rule \"Send LDAP Attributes as Claims\": Attribute store Active Directory, E-Mail-Addresses → E-Mail Address.",
            Some("email"),
        ),
        ("decryption_failed" | "encrypted_assertion_unexpected", Adfs) => Fix::new(
            format!("{ADFS_TRUST} → Encryption"),
            "The assertion was encrypted for a certificate idbridge does not hold: update the trust from idbridge's federation metadata address (below), or remove the encryption certificate.",
            metadata,
        ),
        _ => return None,
    };
    Some(fix)
}

/// The advice in Entra ID's, Okta's, Google's and generic words.
fn table(reason: &str, vendor: IdpVendor, cx: &FixContext) -> Option<Fix> {
    let entity = Some(cx.expected_id.as_str());
    let acs = Some(cx.return_url.as_str());
    let metadata = Some(cx.metadata_url.as_str());
    let idp = Some(cx.idp_id.as_str());
    let fix = match (reason, vendor) {
        // --- SAML: where the response is sent and for whom --------------------------
        ("audience_mismatch", Entra) => Fix::new(
            format!("{ENTRA_SSO} → Basic SAML Configuration → Edit"),
            "Set \"Identifier (Entity ID)\" to exactly this value, and mark it Default if there are several.",
            entity,
        ),
        ("audience_mismatch", Okta) => Fix::new(
            OKTA_SAML,
            "Set \"Audience URI (SP Entity ID)\" to exactly this value.",
            entity,
        ),
        ("audience_mismatch", Google) => Fix::new(
            format!("{GOOGLE_APP} → Service provider details"),
            "Set \"Entity ID\" to exactly this value.",
            entity,
        ),
        ("audience_mismatch", Generic) => Fix::new(
            "The application's SAML settings",
            "Set the SP Entity ID (also called Audience or Audience URI) to exactly this value.",
            entity,
        ),
        ("destination_mismatch" | "recipient_mismatch", Entra) => Fix::new(
            format!("{ENTRA_SSO} → Basic SAML Configuration → Edit"),
            "Set \"Reply URL (Assertion Consumer Service URL)\" to exactly this value, and mark it Default.",
            acs,
        ),
        ("destination_mismatch" | "recipient_mismatch", Okta) => Fix::new(
            OKTA_SAML,
            "Set \"Single sign-on URL\" to exactly this value and keep \"Use this for Recipient URL and Destination URL\" ticked.",
            acs,
        ),
        ("destination_mismatch" | "recipient_mismatch", Google) => Fix::new(
            format!("{GOOGLE_APP} → Service provider details"),
            "Set \"ACS URL\" to exactly this value.",
            acs,
        ),
        ("destination_mismatch" | "recipient_mismatch", Generic) => Fix::new(
            "The application's SAML settings",
            "Set the Assertion Consumer Service (ACS) URL, also used as Recipient and Destination, to exactly this value.",
            acs,
        ),
        // --- SAML: who signed it, and how --------------------------------------------
        ("signature_invalid", Entra) => Fix::new(
            format!("{ENTRA_SSO} → SAML Certificates"),
            "The response was signed with a certificate idbridge was not given. Download \"Federation Metadata XML\" again (or copy \"App Federation Metadata Url\") and give it to idbridge; if you added a new certificate, make sure it is the Active one.",
            None,
        ),
        ("signature_invalid", Okta) => Fix::new(
            "Applications → your app → Sign On → SAML Signing Certificates",
            "The response was signed with a certificate idbridge was not given. Under Actions of the Active certificate choose \"View IdP metadata\" and give idbridge that metadata (or its Metadata URL).",
            None,
        ),
        ("signature_invalid", Google) => Fix::new(
            format!("{GOOGLE_APP} → Google Identity Provider details"),
            "The response was signed with a certificate idbridge was not given. Choose \"Download metadata\" again and give idbridge the file; after a certificate rotation the new certificate must be selected for the app.",
            None,
        ),
        ("signature_invalid", Generic) => Fix::new(
            "The IdP's signing certificate",
            "The response was signed with a certificate idbridge was not given. Export the IdP's metadata again (it carries the current signing certificate) and give it to idbridge.",
            None,
        ),
        ("signature_missing", Entra) => Fix::new(
            format!("{ENTRA_SSO} → SAML Certificates → Edit"),
            "Set \"Signing Option\" to \"Sign SAML response and assertion\".",
            None,
        ),
        ("signature_missing", Okta) => Fix::new(
            format!("{OKTA_SAML} → Show Advanced Settings"),
            "Set \"Response\" to Signed and \"Assertion Signature\" to Signed.",
            None,
        ),
        ("signature_missing", Google) => Fix::new(
            format!("{GOOGLE_APP} → Service provider details"),
            "Tick \"Signed response\" (Google signs the assertion; this signs the whole response too).",
            None,
        ),
        ("signature_missing", Generic) => Fix::new(
            "The application's SAML signing settings",
            "Sign the SAML response, the assertion, or both, as this connection requires.",
            None,
        ),
        ("unsupported_algorithm" | "signature_structure_invalid", Entra) => Fix::new(
            format!("{ENTRA_SSO} → SAML Certificates → Edit"),
            "Set \"Signing Algorithm\" to SHA-256.",
            None,
        ),
        ("unsupported_algorithm" | "signature_structure_invalid", Okta) => Fix::new(
            format!("{OKTA_SAML} → Show Advanced Settings"),
            "Set \"Signature Algorithm\" to RSA-SHA256 and \"Digest Algorithm\" to SHA256.",
            None,
        ),
        ("unsupported_algorithm" | "signature_structure_invalid", Google | Generic) => Fix::new(
            "The application's SAML signing settings",
            "Sign with RSA-SHA256 (or ECDSA-SHA256) and a SHA-256 digest: SHA-1 is refused.",
            None,
        ),
        ("issuer_mismatch", Entra) => Fix::new(
            format!("{ENTRA_SSO} → Set up your app"),
            "The response came from another Entra ID application or tenant. Its \"Microsoft Entra Identifier\" must be the value below: download \"Federation Metadata XML\" from this application and give it to idbridge.",
            idp,
        ),
        ("issuer_mismatch", Okta) => Fix::new(
            "Applications → your app → Sign On → View SAML setup instructions",
            "The response came from another Okta application. Its \"Identity Provider Issuer\" must be the value below: give idbridge this application's IdP metadata.",
            idp,
        ),
        ("issuer_mismatch", Google) => Fix::new(
            format!("{GOOGLE_APP} → Google Identity Provider details"),
            "The response came from another Google SAML app. Its \"Entity ID\" must be the value below: download this app's metadata and give it to idbridge.",
            idp,
        ),
        ("issuer_mismatch", Generic) => Fix::new(
            "The IdP's metadata",
            "The response came from an issuer other than the one configured (below). Give idbridge the metadata of the application you signed in through.",
            idp,
        ),
        ("status_not_success", Entra) => Fix::new(
            "Enterprise applications → your app → Users and groups",
            "Entra ID refused the sign-in (most often AADSTS50105: the user is not assigned). Choose \"Add user/group\" and assign the user, or a group they are in.",
            None,
        ),
        ("status_not_success", Okta) => Fix::new(
            "Applications → your app → Assignments",
            "Okta refused the sign-in (most often: the user is not assigned to the app). Choose Assign → Assign to People (or Groups).",
            None,
        ),
        ("status_not_success", Google) => Fix::new(
            format!("{GOOGLE_APP} → User access"),
            "Google refused the sign-in (most often: the app is OFF for the user's organisational unit). Turn it ON for them and wait a few minutes.",
            None,
        ),
        ("status_not_success", Generic) => Fix::new(
            "The application's assignments at the IdP",
            "The IdP answered with an error status: check that the user may use this application.",
            None,
        ),
        // --- SAML: encryption ----------------------------------------------------------
        ("decryption_failed" | "encrypted_assertion_unexpected", Entra) => Fix::new(
            format!("{ENTRA_SSO} → Token encryption"),
            "The assertion was encrypted for a certificate idbridge does not hold. Import the encryption certificate from idbridge's SP metadata (below) and activate it, or turn token encryption off.",
            metadata,
        ),
        ("decryption_failed" | "encrypted_assertion_unexpected", Okta) => Fix::new(
            format!("{OKTA_SAML} → Show Advanced Settings"),
            "The assertion was encrypted for a certificate idbridge does not hold. Upload the certificate from idbridge's SP metadata (below) as \"Encryption Certificate\", or set \"Assertion Encryption\" to Unencrypted.",
            metadata,
        ),
        (
            "decryption_failed"
            | "encrypted_assertion_unexpected"
            | "encrypted_assertion_unsupported"
            | "encrypted_assertion_malformed"
            | "encryption_algorithm_unsupported",
            _,
        ) => Fix::new(
            "The application's encryption settings",
            "Encrypt with AES-GCM or AES-CBC to the certificate in idbridge's SP metadata (below), or turn assertion encryption off.",
            metadata,
        ),
        // --- SAML: time and the flow ----------------------------------------------------
        ("expired" | "not_yet_valid", _) => Fix::new(
            "The IdP's clock, and this test",
            "The assertion's validity window did not include now. Start the test again and sign in within a few minutes; if it happens again, the IdP's server clock is off (idbridge allows the connection's clock skew).",
            None,
        ),
        ("unknown_request" | "replayed" | "in_response_to_mismatch", _) => Fix::new(
            "This test",
            "The response answered a test sign-in that has expired (ten minutes) or was already used. Start a new test sign-in.",
            None,
        ),
        ("relay_state_mismatch", Entra) => Fix::new(
            format!("{ENTRA_SSO} → Basic SAML Configuration → Edit"),
            "Leave \"Relay State (Optional)\" empty: Entra ID then returns the RelayState idbridge sent.",
            None,
        ),
        ("relay_state_mismatch", Okta) => Fix::new(
            OKTA_SAML,
            "Leave \"Default RelayState\" empty: Okta then returns the RelayState idbridge sent.",
            None,
        ),
        ("relay_state_mismatch", Google | Generic) => Fix::new(
            "The application's SAML settings",
            "The IdP must return the RelayState it was sent: remove any fixed or default RelayState.",
            None,
        ),
        ("idp_initiated_refused", _) => Fix::new(
            "idbridge's connection settings",
            "Sign-ins started at the IdP (its app tile or \"Test\" button) are off for this connection. Start the test here instead, or ask the app's operator to allow IdP-initiated sign-in.",
            None,
        ),
        // --- SAML: the response itself -------------------------------------------------
        (
            "malformed_encoding" | "malformed_xml" | "malformed_response" | "dtd_refused"
            | "malformed_request",
            _,
        ) => Fix::new(
            "The IdP's response",
            "What arrived is not a SAML response idbridge can read. Check that the ACS URL at the IdP is idbridge's (below) and not another service's, then test again.",
            acs,
        ),
        ("saml_not_configured" | "idp_sso_url_missing" | "idp_sso_url_invalid", Entra) => Fix::new(
            format!("{ENTRA_SSO} → SAML Certificates"),
            "idbridge does not have usable metadata. Download \"Federation Metadata XML\" (or copy \"App Federation Metadata Url\") and give it to idbridge.",
            None,
        ),
        ("saml_not_configured" | "idp_sso_url_missing" | "idp_sso_url_invalid", Okta) => Fix::new(
            "Applications → your app → Sign On → SAML Signing Certificates",
            "idbridge does not have usable metadata. Under Actions of the Active certificate choose \"View IdP metadata\" and give idbridge that metadata or its URL.",
            None,
        ),
        ("saml_not_configured" | "idp_sso_url_missing" | "idp_sso_url_invalid", _) => Fix::new(
            "The IdP's metadata",
            "idbridge does not have usable metadata (it needs the IdP's SSO URL with the HTTP-Redirect or HTTP-POST binding). Export the metadata again and give it to idbridge.",
            None,
        ),
        // --- Claims ----------------------------------------------------------------------
        ("email_missing", Entra) => Fix::new(
            format!("{ENTRA_SSO} → Attributes & Claims → Edit → Add new claim"),
            "Add a claim named \"email\" with Source attribute user.mail (or make the Unique User Identifier user.mail). Users need a mail address in Entra ID.",
            Some("email"),
        ),
        ("email_missing", Okta) => Fix::new(
            format!("{OKTA_SAML} → Attribute Statements"),
            "Add an attribute statement: Name \"email\", Value user.email.",
            Some("email"),
        ),
        ("email_missing", Google) => Fix::new(
            format!("{GOOGLE_APP} → SAML attribute mapping"),
            "Map Google Directory attribute \"Primary email\" to the app attribute \"email\" (or set Name ID to Basic Information > Primary email).",
            Some("email"),
        ),
        ("email_missing", Generic) => Fix::new(
            "The application's attribute or claim settings",
            "Send the user's email address as an attribute named \"email\" (or as an email-format NameID; for OpenID Connect, the email claim with the email scope).",
            Some("email"),
        ),
        ("email_domain_not_verified" | "hosted_domain_not_verified", _) => Fix::new(
            "Email domains (in this setup)",
            "This organisation accepts sign-ins only at domains it has verified. Verify the user's email domain in the Email domains step, or sign in as a user at a verified domain.",
            None,
        ),
        ("email_not_verified_by_idp", _) => Fix::new(
            "The user's account at the IdP",
            "The IdP says this user's email address is not verified. Verify it at the IdP, or test with another user.",
            None,
        ),
        // --- Users (not reached by a test, which stops before the directory) -------
        ("user_inactive" | "user_deleted" | "user_not_provisioned", _) => Fix::new(
            "Provisioning",
            "The user is not active in this organisation's directory: assign them to the application so provisioning creates (or reactivates) them.",
            None,
        ),
        // --- OpenID Connect ----------------------------------------------------------------
        ("id_token_audience_mismatch" | "id_token_azp_mismatch", Entra) => Fix::new(
            format!("{ENTRA_REG} → Overview"),
            "The ID token was issued to another application. The connection's client ID must be this registration's \"Application (client) ID\".",
            entity,
        ),
        ("id_token_audience_mismatch" | "id_token_azp_mismatch", Okta) => Fix::new(
            format!("{OKTA_OIDC} → Client Credentials"),
            "The ID token was issued to another application. The connection's client ID must be this app's \"Client ID\".",
            entity,
        ),
        ("id_token_audience_mismatch" | "id_token_azp_mismatch", _) => Fix::new(
            "The OAuth client at the IdP",
            "The ID token was issued to another client. The connection's client ID must be this client's ID.",
            entity,
        ),
        (
            "id_token_issuer_mismatch"
            | "callback_issuer_mismatch"
            | "callback_issuer_missing"
            | "discovery_issuer_mismatch",
            Entra,
        ) => Fix::new(
            format!("{ENTRA_REG} → Endpoints"),
            "The issuer must be \"https://login.microsoftonline.com/{tenant ID}/v2.0\" for a single-tenant app (the value below is what the connection has). Set \"accessTokenAcceptedVersion\" to 2 in the Manifest if tokens come from sts.windows.net.",
            idp,
        ),
        (
            "id_token_issuer_mismatch"
            | "callback_issuer_mismatch"
            | "callback_issuer_missing"
            | "discovery_issuer_mismatch",
            _,
        ) => Fix::new(
            "The connection's issuer",
            "The issuer must be exactly the IdP's issuer URL as its discovery document spells it (the connection has the value below).",
            idp,
        ),
        ("token_refused" | "secret_unavailable", Entra) => Fix::new(
            format!("{ENTRA_REG} → Certificates & secrets"),
            "The client secret was refused or has expired. Create a new client secret and give its Value (not its Secret ID) to idbridge.",
            None,
        ),
        ("token_refused" | "secret_unavailable", Okta) => Fix::new(
            format!("{OKTA_OIDC} → Client Credentials"),
            "The client secret was refused. Generate a new secret (client authentication: Client secret) and give it to idbridge.",
            None,
        ),
        ("token_refused" | "secret_unavailable", _) => Fix::new(
            "The OAuth client's credentials",
            "The IdP refused the client ID and secret. Create a new client secret and give it to idbridge.",
            None,
        ),
        ("idp_error", Entra) => Fix::new(
            "Enterprise applications → your app → Users and groups",
            "Entra ID refused the sign-in (see the message). If it says the user is not assigned, assign them; if consent is required, grant admin consent under API permissions.",
            None,
        ),
        ("idp_error", Okta) => Fix::new(
            "Applications → your app → Assignments",
            "Okta refused the sign-in (see the message). Most often the user is not assigned to the app.",
            None,
        ),
        ("idp_error", _) => Fix::new(
            "The IdP's sign-in",
            "The IdP refused the sign-in or it was cancelled (see the message). Check the user may use the application.",
            None,
        ),
        (
            "callback_malformed"
            | "id_token_malformed"
            | "id_token_missing_claim"
            | "id_token_nonce_mismatch",
            _,
        ) => Fix::new(
            "The redirect URI at the IdP",
            "The IdP's answer could not be read. The redirect URI registered at the IdP must be idbridge's (below); then test again.",
            acs,
        ),
        (
            "id_token_algorithm_not_allowed"
            | "id_token_unknown_key"
            | "id_token_bad_key"
            | "id_token_signature_invalid"
            | "discovery_no_usable_algorithm",
            _,
        ) => Fix::new(
            "The IdP's signing keys",
            "The ID token is not signed with a key the IdP publishes, or with an algorithm idbridge accepts (RS256, ES256, PS256 …). Check the issuer is right and test again.",
            idp,
        ),
        ("id_token_claim_invalid", _) => Fix::new(
            "The IdP's claims for this user",
            "A claim the IdP sent (named in the message) holds a NUL character, which no identity attribute may. Check that attribute's value for this user at the IdP (often a custom attribute or a claim built by an expression) and test again.",
            None,
        ),
        ("id_token_expired" | "id_token_not_yet_valid" | "id_token_issued_in_future", _) => {
            Fix::new(
                "The IdP's clock, and this test",
                "The ID token's validity window did not include now. Start the test again; if it happens again, the IdP's clock is off.",
                None,
            )
        }
        (
            "provider_unreachable"
            | "discovery_malformed"
            | "discovery_bad_endpoint"
            | "discovery_no_pkce",
            _,
        ) => Fix::new(
            "The connection's issuer",
            "idbridge could not read the IdP's discovery document or keys at this issuer. Check the issuer URL (its /.well-known/openid-configuration must answer) and test again.",
            idp,
        ),
        ("unknown_connection", _) => Fix::new(
            "This setup",
            "The connection was removed while the test was under way. Reload the setup and start a new test.",
            None,
        ),
        // --- The service -------------------------------------------------------------------
        ("user_busy" | "unavailable" | "rate_limited", _) => Fix::new(
            "Nothing at the IdP",
            "The service was briefly unavailable. Wait a moment and start the test again.",
            None,
        ),
        _ => return None,
    };
    Some(fix)
}

#[cfg(test)]
mod tests {
    use super::*;
    use IdpVendor::{Adfs, JumpCloud, OneLogin, PingOne};

    /// Every reason a sign-in can be refused with, as the sign-in log records it.
    pub(crate) const REASONS: &[&str] = &[
        // idbridge_saml
        "malformed_encoding",
        "dtd_refused",
        "malformed_xml",
        "signature_invalid",
        "signature_missing",
        "encrypted_assertion_unsupported",
        "issuer_mismatch",
        "status_not_success",
        "destination_mismatch",
        "audience_mismatch",
        "recipient_mismatch",
        "expired",
        "not_yet_valid",
        "in_response_to_mismatch",
        "malformed_response",
        "unsupported_algorithm",
        "signature_structure_invalid",
        "encrypted_assertion_unexpected",
        "encrypted_assertion_malformed",
        "encryption_algorithm_unsupported",
        "decryption_failed",
        // SignInRefusal
        "saml_not_configured",
        "idp_sso_url_missing",
        "idp_sso_url_invalid",
        "malformed_request",
        "unknown_request",
        "relay_state_mismatch",
        "idp_initiated_refused",
        "replayed",
        "email_domain_not_verified",
        "email_missing",
        "user_inactive",
        "user_not_provisioned",
        "user_deleted",
        "user_busy",
        "unavailable",
        "unknown_connection",
        "idp_error",
        "provider_unreachable",
        "token_refused",
        "secret_unavailable",
        "email_not_verified_by_idp",
        "hosted_domain_not_verified",
        // idbridge_oidc::upstream
        "discovery_malformed",
        "discovery_issuer_mismatch",
        "discovery_bad_endpoint",
        "discovery_no_usable_algorithm",
        "discovery_no_pkce",
        "callback_malformed",
        "callback_issuer_mismatch",
        "callback_issuer_missing",
        "id_token_malformed",
        "id_token_algorithm_not_allowed",
        "id_token_unknown_key",
        "id_token_bad_key",
        "id_token_signature_invalid",
        "id_token_issuer_mismatch",
        "id_token_audience_mismatch",
        "id_token_azp_mismatch",
        "id_token_expired",
        "id_token_not_yet_valid",
        "id_token_issued_in_future",
        "id_token_nonce_mismatch",
        "id_token_missing_claim",
        "id_token_claim_invalid",
    ];

    #[test]
    fn vendors_are_told_apart_by_their_entity_ids_and_issuers() {
        for (id, vendor) in [
            (
                "https://sts.windows.net/72f988bf-86f1-41af-91ab-2d7cd011db47/",
                Entra,
            ),
            ("https://login.microsoftonline.com/72f988bf/v2.0", Entra),
            ("http://www.okta.com/exk1fcia6d6EMsf331d8", Okta),
            ("https://acme.okta.com", Okta),
            ("https://acme.oktapreview.com/oauth2/default", Okta),
            ("https://accounts.google.com/o/saml2?idpid=C01abc", Google),
            ("https://accounts.google.com", Google),
            ("https://idp.acme.example/saml", Generic),
            ("https://evil.example/sts.windows.net/", Generic),
            ("https://app.onelogin.com/saml/metadata/1234567", OneLogin),
            (
                "https://auth.pingone.com/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
                PingOne,
            ),
            ("https://sso.jumpcloud.com/saml2/acme", JumpCloud),
            ("http://adfs.acme.example/adfs/services/trust", Adfs),
            ("https://acme.example/adfs/other", Generic),
            ("https://notokta.com", Generic),
            ("urn:acme:idp", Generic),
        ] {
            assert_eq!(IdpVendor::infer(id), vendor, "{id}");
        }
    }

    /// Every reason gets advice for every vendor (the issue's "every reason in the
    /// sign-in log gets such a fix text").
    #[test]
    fn every_reason_has_advice_for_every_vendor() {
        let cx = FixContext::default();
        let missing: Vec<String> = REASONS
            .iter()
            .flat_map(|r| IdpVendor::ALL.iter().map(move |v| (*r, *v)))
            .filter(|(r, v)| fix(r, *v, &cx).is_none())
            .map(|(r, v)| format!("{r} for {v:?}"))
            .collect();
        assert!(missing.is_empty(), "no advice: {missing:?}");
    }

    #[test]
    fn advice_names_the_consoles_field_and_the_exact_value() {
        let cx = FixContext {
            expected_id: "https://id.example/saml/acme".into(),
            return_url: "https://id.example/saml/acme/acs".into(),
            metadata_url: "https://id.example/saml/acme/metadata".into(),
            idp_id: "https://sts.windows.net/t/".into(),
        };
        let entra = fix("audience_mismatch", Entra, &cx).expect("advice");
        assert!(entra.action.contains("\"Identifier (Entity ID)\""));
        assert!(entra.place.contains("Basic SAML Configuration"));
        assert_eq!(entra.value.as_deref(), Some("https://id.example/saml/acme"));
        let okta = fix("audience_mismatch", Okta, &cx).expect("advice");
        assert!(okta.action.contains("\"Audience URI (SP Entity ID)\""));
        let acs = fix("recipient_mismatch", Okta, &cx).expect("advice");
        assert!(acs.action.contains("\"Single sign-on URL\""));
        assert_eq!(
            acs.value.as_deref(),
            Some("https://id.example/saml/acme/acs")
        );
        let claim = fix("email_missing", Entra, &cx).expect("advice");
        assert!(claim.place.contains("Attributes & Claims") && claim.action.contains("user.mail"));
        let claim = fix("email_missing", Okta, &cx).expect("advice");
        assert!(claim.place.contains("Attribute Statements"));
        let adfs = fix("email_missing", IdpVendor::Adfs, &cx).expect("advice");
        assert!(adfs.action.contains("Send LDAP Attributes as Claims"));
        let onelogin = fix("audience_mismatch", IdpVendor::OneLogin, &cx).expect("advice");
        assert!(onelogin.action.contains("\"Audience (EntityID)\""));
        // What reads the same at any IdP falls back to the generic words.
        assert_eq!(
            fix("expired", IdpVendor::PingOne, &cx),
            fix("expired", Generic, &cx)
        );
        let cert = fix("signature_invalid", Entra, &cx).expect("advice");
        assert!(cert.action.contains("Federation Metadata XML"));
        assert_eq!(fix("no_such_reason", Entra, &cx), None);
    }
}
