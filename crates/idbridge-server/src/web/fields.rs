//! Refusals said beside the form field they belong to, in the words of the person
//! who filled it in: shared by the setup portal and the console.

use idbridge_app::setup_links::Provider;

/// A refusal that belongs to one form field (its `id`), in the admin's words.
pub(crate) struct FieldError {
    pub(crate) field: &'static str,
    pub(crate) text: String,
}

/// What went wrong with the metadata an admin gave, in their words and their
/// console's: `None` when the refusal is not about the metadata.
pub(crate) fn metadata_problem(e: &idbridge_app::Error, guide: Provider) -> Option<String> {
    use idbridge_app::Error;
    use idbridge_saml::MetadataError as M;
    use idbridge_saml::xml::XmlError as X;
    let where_to_find = match guide {
        Provider::Entra => {
            "In Entra ID, open the application's Single sign-on page: under SAML Certificates, copy the App Federation Metadata Url (or download Federation Metadata XML and paste the whole file)."
        }
        Provider::Okta => {
            "In Okta, open the application's Sign On tab and copy the Metadata URL (or open it and paste the whole XML)."
        }
        _ => {
            "Export the SAML 2.0 metadata of the application from your identity provider and paste its URL or the whole XML file."
        }
    };
    let text = match e {
        Error::InvalidMetadata(M::NotMetadata(root)) if root.eq_ignore_ascii_case("html") => {
            format!("This is a web page, not Federation Metadata XML. {where_to_find}")
        }
        Error::InvalidMetadata(M::NotMetadata(_)) => {
            format!("This XML is not SAML metadata (it should start with an EntityDescriptor). {where_to_find}")
        }
        Error::InvalidMetadata(M::Xml(X::Dtd)) => {
            "This file declares a DOCTYPE, which idbridge never reads. Paste the metadata as your identity provider exports it.".to_owned()
        }
        Error::InvalidMetadata(M::Xml(_)) => {
            format!("This is not complete XML: paste the whole file, from its first line to the last closing tag. {where_to_find}")
        }
        Error::InvalidMetadata(M::NoIdentityProvider) => {
            format!("This metadata describes a service provider (perhaps idbridge's own values), not your identity provider. {where_to_find}")
        }
        Error::InvalidMetadata(M::SeveralIdentityProviders(n)) => {
            format!("This file describes {n} identity providers (a federation's list). {where_to_find}")
        }
        Error::InvalidMetadata(M::NoSigningCertificate) => match guide {
            Provider::Entra => "This metadata has no signing certificate. Under SAML Certificates, make sure a certificate is Active, then copy the metadata again.".to_owned(),
            _ => "This metadata has no signing certificate: idbridge never accepts unsigned sign-ins. Add or activate a signing certificate for the application, then export the metadata again.".to_owned(),
        },
        Error::InvalidMetadata(other) => {
            format!("idbridge cannot use this metadata: {other}. {where_to_find}")
        }
        Error::MetadataFetch(why) => format!(
            "idbridge could not download the metadata from this address ({why}). It must open without signing in; {}",
            match guide {
                Provider::Entra => "use the App Federation Metadata Url, not the address of the Entra admin center page.",
                Provider::Okta => "use the Metadata URL from the Sign On tab, not the Okta admin page's address.",
                _ => "use the metadata URL itself, or paste the XML instead.",
            }
        ),
        _ => return None,
    };
    Some(text)
}
