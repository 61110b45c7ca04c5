//! PATCH paths (RFC 7644 §3.5.2): `attrPath` or `valuePath [ "." subAttr ]`, e.g.
//! `name.familyName`, `members[value eq "2819c223"]`, `emails[type eq "work"].value`,
//! `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager`.

use std::fmt;

use crate::filter::grammar::parse_patch_path;
use crate::filter::{
    AttrPath, Filter, FilterError, MAX_FILTER_DEPTH, MAX_FILTER_TERMS, check_depth, syntax_error,
};

/// Longest PATCH path accepted, in bytes.
pub const MAX_PATH_LEN: usize = 1024;

#[derive(Debug, Clone, PartialEq)]
pub enum PatchPath {
    Attr(AttrPath),
    /// `path[filter]` or `path[filter].sub_attr`; `path` has no `sub_attr` of its own.
    Filtered {
        path: AttrPath,
        filter: Filter,
        sub_attr: Option<String>,
    },
}

pub type PathError = FilterError;

impl PatchPath {
    pub fn parse(input: &str) -> Result<PatchPath, PathError> {
        let input = input.trim();
        if input.len() > MAX_PATH_LEN {
            return Err(FilterError::TooLong { max: MAX_PATH_LEN });
        }
        check_depth(input, MAX_FILTER_DEPTH)?;
        let path = parse_patch_path(input).map_err(|e| syntax_error(input, &e))?;
        if let PatchPath::Filtered { filter, .. } = &path
            && filter.terms() > MAX_FILTER_TERMS
        {
            return Err(FilterError::TooManyTerms {
                max: MAX_FILTER_TERMS,
            });
        }
        Ok(path)
    }
}

impl std::str::FromStr for PatchPath {
    type Err = PathError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PatchPath::parse(s)
    }
}

impl fmt::Display for PatchPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PatchPath::Attr(path) => write!(f, "{path}"),
            PatchPath::Filtered {
                path,
                filter,
                sub_attr,
            } => {
                write!(f, "{path}[{filter}]")?;
                if let Some(sub) = sub_attr {
                    write!(f, ".{sub}")?;
                }
                Ok(())
            }
        }
    }
}
