//! SCIM filters (RFC 7644 §3.4.2.2): the AST, and a parser with limits that make a
//! hostile filter cheap to refuse.

mod ast;
pub(crate) mod grammar;

pub use ast::{AttrPath, CompValue, CompareOp, Filter};

/// Longest filter accepted, in bytes (checked before parsing).
pub const MAX_FILTER_LEN: usize = 4096;
/// Deepest nesting of parentheses and value filters.
pub const MAX_FILTER_DEPTH: usize = 16;
/// Most comparisons and presence tests in one filter.
pub const MAX_FILTER_TERMS: usize = 100;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FilterError {
    #[error("the filter is longer than {max} bytes")]
    TooLong { max: usize },
    #[error("the filter nests deeper than {max} levels")]
    TooDeep { max: usize },
    #[error("the filter has more than {max} comparisons")]
    TooManyTerms { max: usize },
    #[error("the filter is malformed at byte {position} (near {near:?}): expected {expected}")]
    Syntax {
        position: usize,
        near: String,
        expected: String,
    },
}

impl Filter {
    pub fn parse(input: &str) -> Result<Filter, FilterError> {
        if input.len() > MAX_FILTER_LEN {
            return Err(FilterError::TooLong {
                max: MAX_FILTER_LEN,
            });
        }
        check_depth(input, MAX_FILTER_DEPTH)?;
        let filter = grammar::parse_filter(input).map_err(|e| syntax_error(input, &e))?;
        if filter.terms() > MAX_FILTER_TERMS {
            return Err(FilterError::TooManyTerms {
                max: MAX_FILTER_TERMS,
            });
        }
        Ok(filter)
    }

    /// Comparisons and presence tests in this filter.
    pub fn terms(&self) -> usize {
        match self {
            Filter::Compare { .. } | Filter::Present(_) => 1,
            Filter::And(a, b) | Filter::Or(a, b) => a.terms() + b.terms(),
            Filter::Not(inner) | Filter::ValuePath { filter: inner, .. } => inner.terms(),
        }
    }
}

impl std::str::FromStr for Filter {
    type Err = FilterError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Filter::parse(s)
    }
}

/// Refuses deep nesting before the recursive parser sees it, so no input can
/// exhaust the stack. Brackets inside string literals do not count.
pub(crate) fn check_depth(input: &str, max: usize) -> Result<(), FilterError> {
    let bytes = input.as_bytes();
    let (mut depth, mut at) = (0usize, 0);
    while let Some(&byte) = bytes.get(at) {
        match byte {
            // A string that does not end holds the rest: the parser says so.
            b'"' => match crate::stored::string_end(bytes, at) {
                Some((end, _)) => {
                    at = end;
                    continue;
                }
                None => break,
            },
            b'(' | b'[' => {
                depth += 1;
                if depth > max {
                    return Err(FilterError::TooDeep { max });
                }
            }
            b')' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
        at += 1;
    }
    Ok(())
}

pub(crate) fn syntax_error(
    input: &str,
    err: &peg::error::ParseError<peg::str::LineCol>,
) -> FilterError {
    let position = err.location.offset;
    let near: String = input
        .get(position..)
        .unwrap_or_default()
        .chars()
        .take(24)
        .collect();
    FilterError::Syntax {
        position,
        near,
        expected: err.expected.to_string(),
    }
}

#[cfg(test)]
mod tests;
