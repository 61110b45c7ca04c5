//! The one way XML enters idbridge: size-capped, DTD-free, depth-capped.
//!
//! `roxmltree` never expands entities it was not given and, with `allow_dtd` off,
//! refuses any document that has a DOCTYPE at all: no XXE, no billion laughs, no
//! external fetches. It builds the tree without recursion; the depth limit here
//! keeps later recursive walks (ours and the signature library's) bounded.

use roxmltree::{Document, Node, ParsingOptions};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_bytes: usize,
    pub max_depth: usize,
    pub max_nodes: u32,
}

/// IdP metadata: Entra ID's federation metadata is about 20 KB, Okta's about 4 KB.
pub const METADATA_LIMITS: Limits = Limits {
    max_bytes: 1024 * 1024,
    max_depth: 32,
    max_nodes: 50_000,
};

/// A SAML response, after base64 decoding. Real ones are 5 to 20 KB; 256 KB leaves
/// room for an IdP that sends many group claims.
pub const RESPONSE_LIMITS: Limits = Limits {
    max_bytes: 256 * 1024,
    max_depth: 24,
    max_nodes: 20_000,
};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum XmlError {
    #[error("the document is larger than {max} bytes")]
    TooLarge { max: usize },
    #[error("the document nests deeper than {max} elements")]
    TooDeep { max: usize },
    #[error("the document has more than {max} nodes")]
    TooManyNodes { max: u32 },
    #[error("the document has a DTD (DOCTYPE), which is never accepted")]
    Dtd,
    #[error("the document is not UTF-8")]
    NotUtf8,
    #[error("the document is not well-formed XML: {0}")]
    Malformed(String),
}

/// Parses `bytes` under `limits`.
pub fn parse<'a>(bytes: &'a [u8], limits: &Limits) -> Result<Document<'a>, XmlError> {
    if bytes.len() > limits.max_bytes {
        return Err(XmlError::TooLarge {
            max: limits.max_bytes,
        });
    }
    let text = std::str::from_utf8(bytes).map_err(|_| XmlError::NotUtf8)?;
    parse_str(text, limits)
}

/// Parses `text` under `limits`.
pub fn parse_str<'a>(text: &'a str, limits: &Limits) -> Result<Document<'a>, XmlError> {
    if text.len() > limits.max_bytes {
        return Err(XmlError::TooLarge {
            max: limits.max_bytes,
        });
    }
    let options = ParsingOptions {
        allow_dtd: false,
        nodes_limit: limits.max_nodes,
    };
    let document = Document::parse_with_options(text, options).map_err(|e| match e {
        roxmltree::Error::DtdDetected => XmlError::Dtd,
        roxmltree::Error::NodesLimitReached => XmlError::TooManyNodes {
            max: limits.max_nodes,
        },
        other => XmlError::Malformed(other.to_string()),
    })?;
    if depth(document.root()) > limits.max_depth {
        return Err(XmlError::TooDeep {
            max: limits.max_depth,
        });
    }
    Ok(document)
}

/// Element depth below `root`, without recursion: nodes come in document order, so a
/// parent's depth is known before its children's.
fn depth(root: Node<'_, '_>) -> usize {
    let mut depths: Vec<usize> = Vec::new();
    let mut deepest = 0;
    for node in root.descendants() {
        let index = node.id().get_usize();
        if depths.len() <= index {
            depths.resize(index + 1, 0);
        }
        let parent = node
            .parent()
            .map(|p| depths.get(p.id().get_usize()).copied().unwrap_or(0))
            .unwrap_or(0);
        let own = parent + usize::from(node.is_element());
        depths[index] = own;
        deepest = deepest.max(own);
    }
    deepest
}

/// All text inside `node`, concatenated, in document order. Reading only the first
/// text node is how comment injection (`admin@x.com<!---->.evil.com`) changes an
/// identity; this reads every one.
pub fn text_of(node: Node<'_, '_>) -> String {
    node.descendants()
        .filter(|n| n.is_text())
        .filter_map(|n| n.text())
        .collect()
}

/// The element children of `node` named `local` in namespace `ns`.
pub fn children<'a, 'input: 'a>(
    node: Node<'a, 'input>,
    ns: &'a str,
    local: &'a str,
) -> impl Iterator<Item = Node<'a, 'input>> + 'a {
    node.children()
        .filter(move |c| c.is_element() && is(*c, ns, local))
}

/// Whether `node` is the element `local` in namespace `ns`.
pub fn is(node: Node<'_, '_>, ns: &str, local: &str) -> bool {
    let name = node.tag_name();
    name.name() == local && name.namespace() == Some(ns)
}

/// Escapes text for an XML attribute value or element content.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dtds_are_refused_whatever_they_declare() {
        for doc in [
            r#"<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]><a>&x;</a>"#,
            r#"<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]><a>&lol2;</a>"#,
            r#"<!DOCTYPE a SYSTEM "http://127.0.0.1:1/evil.dtd"><a/>"#,
            r#"<!DOCTYPE a><a/>"#,
        ] {
            assert_eq!(
                parse_str(doc, &RESPONSE_LIMITS).err(),
                Some(XmlError::Dtd),
                "{doc}"
            );
        }
    }

    #[test]
    fn undeclared_entities_are_malformed() {
        assert!(matches!(
            parse_str("<a>&xxe;</a>", &RESPONSE_LIMITS),
            Err(XmlError::Malformed(_))
        ));
    }

    #[test]
    fn limits_hold() {
        let big = format!("<a>{}</a>", "x".repeat(RESPONSE_LIMITS.max_bytes));
        assert_eq!(
            parse_str(&big, &RESPONSE_LIMITS).err(),
            Some(XmlError::TooLarge {
                max: RESPONSE_LIMITS.max_bytes
            })
        );
        let deep = format!("{}{}", "<a>".repeat(100), "</a>".repeat(100));
        assert_eq!(
            parse_str(&deep, &RESPONSE_LIMITS).err(),
            Some(XmlError::TooDeep {
                max: RESPONSE_LIMITS.max_depth
            })
        );
        let wide = format!("<a>{}</a>", "<b/>".repeat(30_000));
        assert_eq!(
            parse_str(&wide, &RESPONSE_LIMITS).err(),
            Some(XmlError::TooManyNodes {
                max: RESPONSE_LIMITS.max_nodes
            })
        );
        assert_eq!(
            parse(b"<a>\xff</a>", &RESPONSE_LIMITS).err(),
            Some(XmlError::NotUtf8)
        );
    }

    #[test]
    fn text_of_reads_around_comments() {
        let doc = parse_str(
            "<n>admin@example.com<!-- a comment -->.evil.test</n>",
            &RESPONSE_LIMITS,
        )
        .expect("parses");
        assert_eq!(text_of(doc.root_element()), "admin@example.com.evil.test");
    }

    #[test]
    fn escape_covers_markup() {
        assert_eq!(escape(r#"a&b<c>"d'"#), "a&amp;b&lt;c&gt;&quot;d&apos;");
    }
}
