//! Filters on the two logs an operator reads (sign-ins, provisioning) and the page
//! queries that apply them. Each filter has an index that serves it together with
//! the newest-first keyset order (`0022_log_filters.sql`), so a filtered page costs
//! what an unfiltered one does, however long the log. The SQL text is built only
//! from the fixed fragments here; every value is bound.

use uuid::Uuid;

use crate::PageRequest;
use crate::scim_sql::{Bind, Dialect, Sql};

/// Which sign-in attempts to list; `None` fields do not filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SignInFilter {
    /// `Some(true)`: successful sign-ins only; `Some(false)`: refused ones only.
    pub success: Option<bool>,
    /// The machine-readable reason, exactly (`audience_mismatch`, …).
    pub reason: Option<String>,
    /// The whole address, compared case-insensitively.
    pub email: Option<String>,
}

/// Which provisioning requests to list; `None` fields do not filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProvisioningFilter {
    /// The HTTP method (the SCIM operation), upper case: `POST`, `PUT`, `PATCH`,
    /// `DELETE`, `GET`.
    pub method: Option<String>,
    /// `Some(true)`: answered below 400; `Some(false)`: 400 and above.
    pub success: Option<bool>,
}

/// The common tail: the tenant, the cursor, then the filters' terms, newest first.
fn page_query(
    dialect: Dialect,
    table: &'static str,
    tenant_id: Uuid,
    page: PageRequest,
    terms: impl FnOnce(&mut Sql),
) -> Sql {
    let mut sql = Sql::new(dialect);
    sql.push("SELECT * FROM ")
        .push(table)
        .push(" WHERE tenant_id = ")
        .bind(Bind::Uuid(tenant_id));
    if let Some(after) = page.after {
        sql.push(" AND id < ").bind(Bind::Uuid(after));
    }
    terms(&mut sql);
    sql.push(" ORDER BY id DESC LIMIT ")
        .bind(Bind::Int(i64::from(page.effective_limit()) + 1));
    sql
}

/// A page of the sign-in log: `sign_in_events_outcome_idx`,
/// `sign_in_events_reason_idx` and `sign_in_events_email_idx` serve the filters.
pub(crate) fn sign_in_page_query(
    dialect: Dialect,
    tenant_id: Uuid,
    filter: &SignInFilter,
    page: PageRequest,
) -> Sql {
    page_query(dialect, "sign_in_events", tenant_id, page, |sql| {
        if let Some(success) = filter.success {
            let outcome = if success { "success" } else { "failure" };
            sql.push(" AND outcome = ")
                .bind(Bind::Text(outcome.to_owned()));
        }
        if let Some(reason) = &filter.reason {
            sql.push(" AND reason = ").bind(Bind::Text(reason.clone()));
        }
        if let Some(email) = &filter.email {
            // lower() on both sides of the index's expression; the value is lowered
            // here the way SQLite's lower() does (ASCII), so both backends agree on
            // which rows match.
            sql.push(" AND lower(email) = ")
                .bind(Bind::Text(email.to_ascii_lowercase()));
        }
    })
}

/// A page of the provisioning log: `provisioning_log_method_idx`, and the partial
/// indexes `provisioning_log_failed_idx` / `provisioning_log_succeeded_idx`, whose
/// predicates the status terms repeat word for word (SQLite matches a partial index
/// only on the same term).
pub(crate) fn provisioning_page_query(
    dialect: Dialect,
    tenant_id: Uuid,
    filter: &ProvisioningFilter,
    page: PageRequest,
) -> Sql {
    page_query(dialect, "provisioning_log", tenant_id, page, |sql| {
        if let Some(method) = &filter.method {
            sql.push(" AND method = ").bind(Bind::Text(method.clone()));
        }
        match filter.success {
            Some(true) => {
                sql.push(" AND status < 400");
            }
            Some(false) => {
                sql.push(" AND status >= 400");
            }
            None => {}
        }
    })
}

/// Each single filter and the index that must serve it, for the backends'
/// `index_tests`.
#[cfg(test)]
pub(crate) fn indexed_filters() -> Vec<(&'static str, Sql, &'static str)> {
    let tenant = Uuid::nil();
    let page = PageRequest {
        limit: 50,
        after: Some(Uuid::max()),
    };
    let mut out = Vec::new();
    for dialect in [Dialect::Sqlite, Dialect::Postgres] {
        let sign_in = |filter: SignInFilter| sign_in_page_query(dialect, tenant, &filter, page);
        let provisioning =
            |filter: ProvisioningFilter| provisioning_page_query(dialect, tenant, &filter, page);
        out.push((
            "refused sign-ins",
            sign_in(SignInFilter {
                success: Some(false),
                ..SignInFilter::default()
            }),
            "sign_in_events_outcome_idx",
        ));
        out.push((
            "sign-ins by reason",
            sign_in(SignInFilter {
                reason: Some("rare_reason".into()),
                ..SignInFilter::default()
            }),
            "sign_in_events_reason_idx",
        ));
        out.push((
            "sign-ins by email",
            sign_in(SignInFilter {
                email: Some("Someone@Example.com".into()),
                ..SignInFilter::default()
            }),
            "sign_in_events_email_idx",
        ));
        out.push((
            "provisioning by method",
            provisioning(ProvisioningFilter {
                method: Some("DELETE".into()),
                ..ProvisioningFilter::default()
            }),
            "provisioning_log_method_idx",
        ));
        out.push((
            "failed provisioning",
            provisioning(ProvisioningFilter {
                success: Some(false),
                ..ProvisioningFilter::default()
            }),
            "provisioning_log_failed_idx",
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_bound_and_terms_are_fixed_fragments() {
        let filter = SignInFilter {
            success: Some(false),
            reason: Some("x' OR '1'='1".into()),
            email: Some("Ada@Example.COM".into()),
        };
        let sql = sign_in_page_query(
            Dialect::Postgres,
            Uuid::nil(),
            &filter,
            PageRequest::first(10),
        );
        assert_eq!(
            sql.text,
            "SELECT * FROM sign_in_events WHERE tenant_id = $1 AND outcome = $2 \
             AND reason = $3 AND lower(email) = $4 ORDER BY id DESC LIMIT $5"
        );
        assert!(sql.binds.contains(&Bind::Text("ada@example.com".into())));
        let sql = provisioning_page_query(
            Dialect::Sqlite,
            Uuid::nil(),
            &ProvisioningFilter {
                method: Some("PATCH".into()),
                success: Some(true),
            },
            PageRequest {
                limit: 5,
                after: Some(Uuid::nil()),
            },
        );
        assert_eq!(
            sql.text,
            "SELECT * FROM provisioning_log WHERE tenant_id = ? AND id < ? AND method = ? \
             AND status < 400 ORDER BY id DESC LIMIT ?"
        );
        assert_eq!(sql.binds.last(), Some(&Bind::Int(6)));
    }
}
