//! Compiles a resolved SCIM query ([`idbridge_scim::query::Query`]) into SQL for
//! either backend. The SQL text is assembled only from the fixed fragments in this
//! file; every value that came from a request (literals, attribute names, JSON paths)
//! travels as a bound parameter. Columns with indexes answer what IdPs filter on
//! (`userName`, `externalId`, `displayName`, `emails.value`, `meta.lastModified`);
//! anything else is read out of the stored JSON document.

use idbridge_scim::filter::{CompValue, CompareOp};
use idbridge_scim::query::{Field, ListRequest, Query, SortOrder};
use idbridge_scim::schema::AttrType;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

use crate::StoreError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    Sqlite,
    Postgres,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Table {
    Users,
    Groups,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Bind {
    Text(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Uuid(Uuid),
    Time(OffsetDateTime),
    /// A PostgreSQL `text[]` (JSON paths).
    TextArray(Vec<String>),
    /// A digest (BLOB on SQLite, `bytea` on PostgreSQL).
    Bytes(Vec<u8>),
}

/// The tenant whose rows a condition reads: a bound id, or a column of a row the
/// statement has already joined (the caller's token's, see
/// [`page_of_one_as_caller_query`]).
#[derive(Debug, Clone, Copy)]
pub(crate) enum TenantOf {
    Id(Uuid),
    Column(&'static str),
}

/// SQL under construction: text from fixed fragments, values as binds.
pub(crate) struct Sql {
    pub dialect: Dialect,
    pub text: String,
    pub binds: Vec<Bind>,
}

impl Sql {
    pub fn new(dialect: Dialect) -> Self {
        Self {
            dialect,
            text: String::new(),
            binds: Vec::new(),
        }
    }

    pub fn push(&mut self, fragment: &str) -> &mut Self {
        self.text.push_str(fragment);
        self
    }

    /// Appends a placeholder for `bind`.
    pub fn bind(&mut self, bind: Bind) -> &mut Self {
        self.binds.push(bind);
        match self.dialect {
            Dialect::Sqlite => self.text.push('?'),
            Dialect::Postgres => {
                self.text.push('$');
                self.text.push_str(&self.binds.len().to_string());
            }
        }
        self
    }

    /// Appends the tenant's id: a placeholder, or the column holding it.
    pub fn tenant(&mut self, tenant: TenantOf) -> &mut Self {
        match tenant {
            TenantOf::Id(id) => self.bind(Bind::Uuid(id)),
            TenantOf::Column(column) => self.push(column),
        }
    }
}

fn invalid(detail: impl Into<String>) -> StoreError {
    StoreError::InvalidQuery(detail.into())
}

/// What a comparison is made against.
#[derive(Clone)]
enum Expr {
    /// A column of the row (`r.…`) or of an email row (`e.…`). `lowered`: it holds a
    /// lowercased copy, so literals are lowercased to match.
    Column {
        sql: &'static str,
        ty: ColumnType,
        lowered: bool,
    },
    /// A value inside the row's JSON document: `path` from the document root.
    Doc { path: Vec<String> },
    /// A field of one element of a JSON array being iterated (`j`).
    Elem { key: String },
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum ColumnType {
    Text,
    Bool,
    Time,
    Uuid,
}

/// `WHERE` conditions for `query` on `table`, rows aliased `r`.
pub(crate) fn condition(
    sql: &mut Sql,
    table: Table,
    tenant: TenantOf,
    query: &Query,
) -> Result<(), StoreError> {
    match query {
        Query::Const(true) => {
            sql.push("1=1");
        }
        Query::Const(false) => {
            sql.push("1=0");
        }
        Query::And(a, b) | Query::Or(a, b) => {
            sql.push("(");
            condition(sql, table, tenant, a)?;
            sql.push(if matches!(query, Query::And(..)) {
                " AND "
            } else {
                " OR "
            });
            condition(sql, table, tenant, b)?;
            sql.push(")");
        }
        Query::Not(inner) => {
            sql.push("NOT (");
            condition(sql, table, tenant, inner)?;
            sql.push(")");
        }
        Query::HasExtension(urn) => match sql.dialect {
            Dialect::Sqlite => {
                sql.push("json_type(r.document, ")
                    .bind(Bind::Text(json_path(std::slice::from_ref(urn))?))
                    .push(") = 'object'");
            }
            Dialect::Postgres => {
                sql.push("json_typeof(r.document -> ")
                    .bind(Bind::Text(urn.clone()))
                    .push(") = 'object'");
            }
        },
        Query::MemberOf(group) | Query::HasMember(group) => {
            let Ok(id) = Uuid::parse_str(group) else {
                sql.push("1=0");
                return Ok(());
            };
            // `r.id IN (…)` lets both planners start from the membership index
            // instead of probing it once per row.
            let (selected, given) = match (table, query) {
                (Table::Users, Query::MemberOf(_)) => ("m.member_id", "m.group_id"),
                (Table::Groups, Query::HasMember(_)) => ("m.group_id", "m.member_id"),
                (Table::Groups, _) => ("m.member_id", "m.group_id"),
                (Table::Users, _) => return Err(invalid("users have no members")),
            };
            sql.push("r.id IN (SELECT ")
                .push(selected)
                .push(" FROM directory_group_members m WHERE ")
                .push(given)
                .push(" = ")
                .bind(Bind::Uuid(id))
                .push(")");
        }
        Query::Present(field) => {
            let expr = expression(table, field)?;
            present(sql, &expr);
        }
        Query::Compare { field, op, value } => {
            if *field == Field::Id {
                return compare_id(sql, *op, value);
            }
            let expr = expression(table, field)?;
            compare(sql, &expr, field, *op, value)?;
        }
        Query::Any { field, inner } => any(sql, table, tenant, field, inner)?,
    }
    Ok(())
}

fn expression(table: Table, field: &Field) -> Result<Expr, StoreError> {
    Ok(match field {
        Field::Id => Expr::Column {
            sql: "r.id",
            ty: ColumnType::Uuid,
            lowered: false,
        },
        Field::Created => Expr::Column {
            sql: "r.created_at",
            ty: ColumnType::Time,
            lowered: false,
        },
        Field::LastModified => Expr::Column {
            sql: "r.updated_at",
            ty: ColumnType::Time,
            lowered: false,
        },
        Field::Attr {
            urn: None,
            name,
            sub: None,
            ..
        } => match (table, name.as_str()) {
            (Table::Users, "userName") => Expr::Column {
                sql: "r.user_name_lower",
                ty: ColumnType::Text,
                lowered: true,
            },
            (Table::Users, "active") => Expr::Column {
                sql: "r.active",
                ty: ColumnType::Bool,
                lowered: false,
            },
            (_, "externalId") => Expr::Column {
                sql: "r.external_id",
                ty: ColumnType::Text,
                lowered: false,
            },
            (_, "displayName") => Expr::Column {
                sql: "r.display_name_lower",
                ty: ColumnType::Text,
                lowered: true,
            },
            _ => Expr::Doc {
                path: vec![name.clone()],
            },
        },
        Field::Attr {
            urn,
            name,
            sub,
            multi_valued,
            ..
        } => {
            let mut path = Vec::new();
            path.extend(urn.iter().cloned());
            path.push(name.clone());
            if *multi_valued {
                // Outside a value filter (only sorting gets here), a multi-valued
                // attribute stands for its first value.
                path.push("0".into());
            }
            path.extend(sub.iter().cloned());
            Expr::Doc { path }
        }
    })
}

/// A JSON path for SQLite: `$."a"."b"`, with array indexes as `[0]`.
fn json_path(keys: &[String]) -> Result<String, StoreError> {
    let mut out = String::from("$");
    for key in keys {
        if key.contains('"') || key.contains('\\') {
            return Err(invalid(
                "attribute names cannot contain quotes or backslashes",
            ));
        }
        if !key.is_empty() && key.bytes().all(|b| b.is_ascii_digit()) {
            out.push('[');
            out.push_str(key);
            out.push(']');
        } else {
            out.push_str(".\"");
            out.push_str(key);
            out.push('"');
        }
    }
    Ok(out)
}

/// Pushes the SQL value of `expr` as text (or the column itself).
fn value_sql(sql: &mut Sql, expr: &Expr) -> Result<(), StoreError> {
    match (expr, sql.dialect) {
        (Expr::Column { sql: column, .. }, _) => {
            sql.push(column);
        }
        (Expr::Doc { path }, Dialect::Sqlite) => {
            let path = json_path(path)?;
            sql.push("json_extract(r.document, ")
                .bind(Bind::Text(path))
                .push(")");
        }
        (Expr::Doc { path }, Dialect::Postgres) => {
            sql.push("(r.document #>> ")
                .bind(Bind::TextArray(path.clone()))
                .push("::text[])");
        }
        (Expr::Elem { key }, Dialect::Sqlite) if key.is_empty() => {
            sql.push("j.value");
        }
        (Expr::Elem { key }, Dialect::Postgres) if key.is_empty() => {
            sql.push("(j.v #>> '{}')");
        }
        (Expr::Elem { key }, Dialect::Sqlite) => {
            let path = json_path(std::slice::from_ref(key))?;
            sql.push("json_extract(j.value, ")
                .bind(Bind::Text(path))
                .push(")");
        }
        (Expr::Elem { key }, Dialect::Postgres) => {
            sql.push("(j.v ->> ")
                .bind(Bind::Text(key.clone()))
                .push(")");
        }
    }
    Ok(())
}

fn present(sql: &mut Sql, expr: &Expr) {
    // An empty string is as good as absent (RFC 7644 §3.4.2.2 `pr`).
    sql.push("COALESCE(");
    let _ = value_sql_text(sql, expr);
    sql.push(", '') <> ''");
}

/// Like [`value_sql`], but always text (booleans and numbers too), for `pr`.
fn value_sql_text(sql: &mut Sql, expr: &Expr) -> Result<(), StoreError> {
    match (expr, sql.dialect) {
        (
            Expr::Column {
                ty: ColumnType::Text,
                ..
            },
            _,
        )
        | (Expr::Doc { .. } | Expr::Elem { .. }, Dialect::Postgres) => value_sql(sql, expr),
        _ => {
            sql.push("CAST(");
            value_sql(sql, expr)?;
            sql.push(" AS TEXT)");
            Ok(())
        }
    }
}

fn compare_id(sql: &mut Sql, op: CompareOp, value: &CompValue) -> Result<(), StoreError> {
    let id = match value {
        CompValue::Str(s) => Uuid::parse_str(s).ok(),
        _ => None,
    };
    match (op, id) {
        (CompareOp::Eq, Some(id)) => {
            sql.push("r.id = ").bind(Bind::Uuid(id));
        }
        (CompareOp::Ne, Some(id)) => {
            sql.push("r.id <> ").bind(Bind::Uuid(id));
        }
        // No resource has an id that is not a UUID.
        (CompareOp::Eq, None) => {
            sql.push("1=0");
        }
        (CompareOp::Ne, None) => {
            sql.push("1=1");
        }
        _ => return Err(invalid("id supports only eq and ne")),
    }
    Ok(())
}

fn compare(
    sql: &mut Sql,
    expr: &Expr,
    field: &Field,
    op: CompareOp,
    value: &CompValue,
) -> Result<(), StoreError> {
    if let CompValue::Null = value {
        match op {
            CompareOp::Eq => {
                sql.push("(");
                value_sql(sql, expr)?;
                sql.push(") IS NULL");
            }
            CompareOp::Ne => {
                sql.push("(");
                value_sql(sql, expr)?;
                sql.push(") IS NOT NULL");
            }
            _ => {
                sql.push("1=0");
            }
        }
        return Ok(());
    }
    if op == CompareOp::Ne {
        // `ne` holds for a resource without the attribute too.
        sql.push("(");
        value_sql(sql, expr)?;
        sql.push(" IS NULL OR NOT (");
        compare(sql, expr, field, CompareOp::Eq, value)?;
        sql.push("))");
        return Ok(());
    }
    let case_fold = !field.case_exact();
    let column_type = match expr {
        Expr::Column { ty, .. } => Some(*ty),
        _ => None,
    };
    match (column_type, field.ty(), value) {
        (Some(ColumnType::Time), _, CompValue::Str(text)) => {
            let at = OffsetDateTime::parse(text, &Rfc3339)
                .map_err(|_| invalid(format!("{text:?} is not an RFC 3339 date-time")))?;
            value_sql(sql, expr)?;
            sql.push(operator(op)?).bind(Bind::Time(at));
        }
        (Some(ColumnType::Bool), _, CompValue::Bool(b)) => {
            value_sql(sql, expr)?;
            sql.push(operator(op)?).bind(Bind::Bool(*b));
        }
        (None, AttrType::Boolean, CompValue::Bool(b)) => {
            value_sql(sql, expr)?;
            match sql.dialect {
                // json_extract gives 1/0 for JSON true/false.
                Dialect::Sqlite => sql.push(operator(op)?).bind(Bind::Int(i64::from(*b))),
                Dialect::Postgres => sql.push(operator(op)?).bind(Bind::Text(b.to_string())),
            };
        }
        (None, AttrType::Integer | AttrType::Decimal, CompValue::Num(n)) => match sql.dialect {
            Dialect::Sqlite => {
                value_sql(sql, expr)?;
                let bind = n
                    .as_i64()
                    .map(Bind::Int)
                    .or_else(|| n.as_f64().map(Bind::Float));
                sql.push(operator(op)?)
                    .bind(bind.ok_or_else(|| invalid("number out of range"))?);
            }
            Dialect::Postgres => {
                let Expr::Doc { path } = expr else {
                    return Err(invalid("numbers compare only with document attributes"));
                };
                // `json` has no order of its own: `jsonb`'s (numbers by value).
                sql.push("CAST(r.document #> ")
                    .bind(Bind::TextArray(path.clone()))
                    .push("::text[] AS jsonb)");
                sql.push(operator(op)?)
                    .bind(Bind::Text(n.to_string()))
                    .push("::jsonb");
            }
        },
        (Some(ColumnType::Text) | None, _, literal) => {
            let text = match literal {
                CompValue::Str(s) => s.clone(),
                // A number or boolean compared with a string attribute compares its text.
                CompValue::Num(n) => n.to_string(),
                CompValue::Bool(b) => b.to_string(),
                CompValue::Null => String::new(),
            };
            let lowered_column = matches!(expr, Expr::Column { lowered: true, .. });
            let text = if case_fold || lowered_column {
                text.to_lowercase()
            } else {
                text
            };
            let fold_expr = case_fold && !lowered_column;
            string_compare(sql, expr, fold_expr, op, text)?;
        }
        _ => return Err(invalid("the value does not fit the attribute's type")),
    }
    Ok(())
}

fn operator(op: CompareOp) -> Result<&'static str, StoreError> {
    Ok(match op {
        CompareOp::Eq => " = ",
        CompareOp::Gt => " > ",
        CompareOp::Ge => " >= ",
        CompareOp::Lt => " < ",
        CompareOp::Le => " <= ",
        CompareOp::Ne | CompareOp::Co | CompareOp::Sw | CompareOp::Ew => {
            return Err(invalid("this operator does not apply to this attribute"));
        }
    })
}

fn string_compare(
    sql: &mut Sql,
    expr: &Expr,
    fold: bool,
    op: CompareOp,
    text: String,
) -> Result<(), StoreError> {
    let lhs = |sql: &mut Sql| -> Result<(), StoreError> {
        if fold {
            sql.push("lower(");
            value_sql_text(sql, expr)?;
            sql.push(")");
            Ok(())
        } else {
            value_sql_text(sql, expr)
        }
    };
    match op {
        CompareOp::Co => match sql.dialect {
            Dialect::Sqlite => {
                sql.push("instr(");
                lhs(sql)?;
                sql.push(", ").bind(Bind::Text(text)).push(") > 0");
            }
            Dialect::Postgres => {
                sql.push("strpos(");
                lhs(sql)?;
                sql.push(", ").bind(Bind::Text(text)).push(") > 0");
            }
        },
        CompareOp::Sw => {
            let len = text.chars().count() as i64;
            sql.push("substr(");
            lhs(sql)?;
            sql.push(", 1, ").bind(Bind::Int(len));
            if sql.dialect == Dialect::Postgres {
                sql.push("::int");
            }
            sql.push(") = ").bind(Bind::Text(text));
        }
        CompareOp::Ew => {
            let len = text.chars().count() as i64;
            match sql.dialect {
                Dialect::Sqlite => {
                    sql.push("substr(");
                    lhs(sql)?;
                    sql.push(", -")
                        .bind(Bind::Int(len))
                        .push(") = ")
                        .bind(Bind::Text(text));
                }
                Dialect::Postgres => {
                    sql.push("right(");
                    lhs(sql)?;
                    sql.push(", ")
                        .bind(Bind::Int(len))
                        .push("::int) = ")
                        .bind(Bind::Text(text));
                }
            }
        }
        other => {
            lhs(sql)?;
            sql.push(operator(other)?).bind(Bind::Text(text));
        }
    }
    Ok(())
}

/// `EXISTS` over the values of a multi-valued attribute.
fn any(
    sql: &mut Sql,
    table: Table,
    tenant: TenantOf,
    field: &Field,
    inner: &Query,
) -> Result<(), StoreError> {
    let Field::Attr { urn, name, .. } = field else {
        return Err(invalid("not a multi-valued attribute"));
    };
    if table == Table::Users && urn.is_none() && name == "emails" && email_columns_suffice(inner) {
        // Through the (tenant_id, value_lower) index, not once per user row.
        sql.push("r.id IN (SELECT e.user_id FROM directory_user_emails e WHERE e.tenant_id = ")
            .tenant(tenant)
            .push(" AND ");
        email_condition(sql, inner)?;
        sql.push(")");
        return Ok(());
    }
    let mut path: Vec<String> = urn.iter().cloned().collect();
    path.push(name.clone());
    match sql.dialect {
        Dialect::Sqlite => {
            sql.push("EXISTS (SELECT 1 FROM json_each(r.document, ")
                .bind(Bind::Text(json_path(&path)?))
                .push(") j WHERE json_type(j.value) = 'object' AND ");
        }
        Dialect::Postgres => {
            sql.push(
                "EXISTS (SELECT 1 FROM json_array_elements(CASE WHEN json_typeof(r.document #> ",
            )
            .bind(Bind::TextArray(path.clone()))
            .push("::text[]) = 'array' THEN r.document #> ")
            .bind(Bind::TextArray(path))
            .push("::text[] ELSE '[]'::json END) AS j(v) WHERE json_typeof(j.v) = 'object' AND ");
        }
    }
    element_condition(sql, inner)?;
    sql.push(")");
    Ok(())
}

fn element_condition(sql: &mut Sql, query: &Query) -> Result<(), StoreError> {
    match query {
        Query::And(a, b) | Query::Or(a, b) => {
            sql.push("(");
            element_condition(sql, a)?;
            sql.push(if matches!(query, Query::And(..)) {
                " AND "
            } else {
                " OR "
            });
            element_condition(sql, b)?;
            sql.push(")");
        }
        Query::Not(inner) => {
            sql.push("NOT (");
            element_condition(sql, inner)?;
            sql.push(")");
        }
        Query::Const(b) => {
            sql.push(if *b { "1=1" } else { "1=0" });
        }
        Query::Present(field) => present(sql, &element_expr(field)?),
        Query::Compare { field, op, value } => {
            compare(sql, &element_expr(field)?, field, *op, value)?
        }
        _ => return Err(invalid("unsupported condition inside a value filter")),
    }
    Ok(())
}

fn element_expr(field: &Field) -> Result<Expr, StoreError> {
    match field {
        Field::Attr { sub: Some(sub), .. } => Ok(Expr::Elem { key: sub.clone() }),
        // A multi-valued attribute of simple values: the element itself.
        Field::Attr { sub: None, .. } => Ok(Expr::Elem { key: String::new() }),
        _ => Err(invalid("not a sub-attribute")),
    }
}

fn email_columns_suffice(query: &Query) -> bool {
    match query {
        Query::And(a, b) | Query::Or(a, b) => email_columns_suffice(a) && email_columns_suffice(b),
        Query::Not(inner) => email_columns_suffice(inner),
        Query::Const(_) => true,
        Query::Present(field) | Query::Compare { field, .. } => {
            matches!(field, Field::Attr { sub: Some(s), .. } if s == "value" || s == "type" || s == "primary")
        }
        _ => false,
    }
}

fn email_condition(sql: &mut Sql, query: &Query) -> Result<(), StoreError> {
    match query {
        Query::And(a, b) | Query::Or(a, b) => {
            sql.push("(");
            email_condition(sql, a)?;
            sql.push(if matches!(query, Query::And(..)) {
                " AND "
            } else {
                " OR "
            });
            email_condition(sql, b)?;
            sql.push(")");
        }
        Query::Not(inner) => {
            sql.push("NOT (");
            email_condition(sql, inner)?;
            sql.push(")");
        }
        Query::Const(b) => {
            sql.push(if *b { "1=1" } else { "1=0" });
        }
        Query::Present(field) | Query::Compare { field, .. } => {
            let Field::Attr { sub: Some(sub), .. } = field else {
                return Err(invalid("not an email field"));
            };
            let expr = match sub.as_str() {
                "value" => Expr::Column {
                    sql: "e.value_lower",
                    ty: ColumnType::Text,
                    lowered: true,
                },
                "type" => Expr::Column {
                    sql: "e.type_lower",
                    ty: ColumnType::Text,
                    lowered: true,
                },
                _ => Expr::Column {
                    sql: "e.is_primary",
                    ty: ColumnType::Bool,
                    lowered: false,
                },
            };
            match query {
                Query::Present(_) => {
                    // Every indexed email has a value; type may be missing.
                    match sub.as_str() {
                        "type" => sql.push("e.type_lower IS NOT NULL"),
                        _ => sql.push("1=1"),
                    };
                }
                Query::Compare { op, value, .. } => compare(sql, &expr, field, *op, value)?,
                _ => {}
            }
        }
        _ => return Err(invalid("unsupported condition inside an email filter")),
    }
    Ok(())
}

/// `ORDER BY` for a sort (then by id, so pages are stable).
///
/// `index_free` (SQLite) marks each term with unary `+`, which keeps SQLite from
/// answering the ORDER BY from an index: with a filter, the index that matters is
/// the filter's, and without statistics SQLite would otherwise walk the tenant's
/// `(tenant_id, id)` index in order and test every row to avoid sorting one match.
pub(crate) fn order_by(
    sql: &mut Sql,
    table: Table,
    sort: Option<&(Field, SortOrder)>,
    index_free: bool,
) -> Result<(), StoreError> {
    let term_prefix = if index_free && sql.dialect == Dialect::Sqlite {
        "+"
    } else {
        ""
    };
    sql.push(" ORDER BY ");
    if let Some((field, order)) = sort {
        let expr = expression(table, field)?;
        sql.push(term_prefix);
        if field.ty() == AttrType::String
            && !field.case_exact()
            && !matches!(expr, Expr::Column { lowered: true, .. })
        {
            sql.push("lower(");
            value_sql_text(sql, &expr)?;
            sql.push(")");
        } else {
            value_sql(sql, &expr)?;
        }
        sql.push(match order {
            SortOrder::Ascending => " ASC NULLS LAST, ",
            SortOrder::Descending => " DESC NULLS LAST, ",
        });
    }
    sql.push(term_prefix).push("r.id");
    Ok(())
}

fn table_name(table: Table) -> &'static str {
    match table {
        Table::Users => "directory_users",
        Table::Groups => "directory_groups",
    }
}

/// The page of a SCIM list: matching rows of the tenant, sorted, `count` of them from
/// `start_index`. `None` when the request asks for no rows (`count=0`).
pub(crate) fn page_query(
    dialect: Dialect,
    table: Table,
    tenant_id: Uuid,
    request: &ListRequest,
) -> Result<Option<Sql>, StoreError> {
    if request.count == 0 {
        return Ok(None);
    }
    let offset = request.start_index.saturating_sub(1);
    let filtered = request.filter.is_some();
    let mut sql = Sql::new(dialect);
    sql.push("SELECT r.* FROM ");
    if offset > 0 {
        // A deep page (Okta's import walks every page) skips `offset` matches. Skipping
        // them inside a subquery that selects only ids lets the database skip index
        // entries instead of whole rows; only the page's rows are then read.
        sql.push(table_name(table))
            .push(" r WHERE r.id IN (SELECT r.id FROM ");
    }
    if filtered && dialect == Dialect::Postgres {
        // `OFFSET 0` keeps PostgreSQL from pulling the filter up into the ordered
        // scan: the filter's index finds the matches, then they are sorted. (SQLite
        // gets the same effect from `order_by`'s index-free terms.)
        sql.push("(SELECT * FROM ").push(table_name(table));
    } else {
        sql.push(table_name(table));
    }
    sql.push(" r WHERE r.tenant_id = ")
        .bind(Bind::Uuid(tenant_id));
    if let Some(filter) = &request.filter {
        sql.push(" AND ");
        condition(&mut sql, table, TenantOf::Id(tenant_id), filter)?;
        if dialect == Dialect::Postgres {
            sql.push(" OFFSET 0) r");
        }
    }
    order_by(&mut sql, table, request.sort.as_ref(), filtered)?;
    // LIMIT is a literal (a validated integer, never client text): SQLite re-prepares
    // a statement whenever a bound LIMIT or OFFSET is rebound, which cost an IdP's
    // `userName eq` lookup a fresh parse every time. A non-zero offset stays bound, so
    // random pages do not each become a statement in the cache.
    sql.push(&format!(" LIMIT {}", request.count));
    if offset > 0 {
        sql.push(" OFFSET ").bind(Bind::Int(offset as i64));
        sql.push(")");
        order_by(&mut sql, table, request.sort.as_ref(), false)?;
    }
    Ok(Some(sql))
}

/// The `member_of` column of a query over users `r`: the user's direct groups, a
/// JSON array of `[id, displayName]` pairs, NULL for none. The aggregate is
/// started only for a user some group holds: for one in none, an index probe
/// costs about a third of an empty aggregate's setup (SQLite, measured on a page
/// of 100 users in no group: 176 → 126 µs a statement).
pub(crate) fn member_of_column(dialect: Dialect) -> &'static str {
    match dialect {
        // SQLite keeps ids as 16-byte blobs: as hex, which `Uuid` reads.
        Dialect::Sqlite => {
            "CASE WHEN EXISTS (SELECT 1 FROM directory_group_members e WHERE e.member_id = r.id) \
             THEN (SELECT json_group_array(json_array(hex(g.id), g.display_name)) \
             FROM directory_group_members m JOIN directory_groups g ON g.id = m.group_id \
             WHERE m.member_id = r.id AND m.tenant_id = r.tenant_id) END AS member_of"
        }
        Dialect::Postgres => {
            "CASE WHEN EXISTS (SELECT 1 FROM directory_group_members e WHERE e.member_id = r.id) \
             THEN (SELECT CAST(json_agg(json_build_array(g.id, g.display_name)) AS TEXT) \
             FROM directory_group_members m JOIN directory_groups g ON g.id = m.group_id \
             WHERE m.member_id = r.id AND m.tenant_id = r.tenant_id) END AS member_of"
        }
    }
}

/// What a list statement reads around its page (see [`project`]).
pub(crate) struct Projection<'a> {
    pub table: Table,
    /// The columns of `r`, the page's rows, that the rows are read from.
    pub columns: &'a str,
    /// Each user's direct groups in a `member_of` column ([`member_of_column`]).
    pub member_of: bool,
    /// The table's maintained count for the tenant, in a `listed_total` column
    /// (NULL when not asked for, or when the tenant is gone).
    pub total_of: Option<Uuid>,
}

/// The filter of a list that is a lookup of at most one row read whole: a first
/// page, asking for rows, whose filter [`matches_at_most_one`]. Such a page is one
/// plain statement ([`page_of_one_query`], [`page_of_one_as_caller_query`]).
pub(crate) fn one_row_lookup(table: Table, request: &ListRequest) -> Option<&Query> {
    request.filter.as_ref().filter(|filter| {
        request.start_index <= 1 && request.count > 0 && matches_at_most_one(table, filter)
    })
}

/// Whether `filter` matches at most one row of a tenant: an equality on a column
/// unique within it, the row's `id` or a user's `userName` (unique lowered, as
/// it is compared). An IdP's lookup before each create or update is one of these.
pub(crate) fn matches_at_most_one(table: Table, filter: &Query) -> bool {
    let Query::Compare {
        field,
        op: CompareOp::Eq,
        ..
    } = filter
    else {
        return false;
    };
    match field {
        Field::Id => true,
        Field::Attr {
            urn: None,
            name,
            sub: None,
            ..
        } => table == Table::Users && name == "userName",
        _ => false,
    }
}

/// The first page of a list whose filter matches at most one row
/// ([`matches_at_most_one`]), read as `projection` says in a single query: with
/// one row there is nothing to order, so nothing is wrapped or sorted (SQLite, a
/// `userName eq` lookup: about 15 → 13 µs a statement against [`project`]).
pub(crate) fn page_of_one_query(
    dialect: Dialect,
    projection: &Projection<'_>,
    tenant_id: Uuid,
    filter: &Query,
) -> Result<Sql, StoreError> {
    debug_assert!(matches_at_most_one(projection.table, filter));
    let mut sql = tenant_rows_projected(dialect, projection, tenant_id);
    sql.push(" AND ");
    condition(&mut sql, projection.table, TenantOf::Id(tenant_id), filter)?;
    Ok(sql)
}

/// The caller's columns of [`page_of_one_as_caller_query`]: its token's row `s`
/// and its tenant's `n`, named apart from the page's.
pub(crate) const CALLER_COLUMNS: &str = "s.id AS caller_token_id, \
     s.tenant_id AS caller_tenant_id, s.last_used_at AS caller_last_used_at, \
     n.slug AS caller_slug, n.require_verified_domains AS caller_require_verified_domains, \
     n.invite_new_users AS caller_invite_new_users, ";

/// [`page_of_one_query`] for the caller whose SCIM token has digest `token_hash`,
/// the token checked in the page's own statement: one round trip for an IdP's
/// lookup instead of two. The active token's row (and its tenant's) comes first in
/// each row, the page's row `r` joined to it, so the statement answers no row for
/// an unknown or revoked token, and one row whose page columns are NULL when no
/// user matches or the token is another tenant's than `slug`'s: a directory row
/// is read only for a token of the tenant named in the request.
pub(crate) fn page_of_one_as_caller_query(
    dialect: Dialect,
    projection: &Projection<'_>,
    token_hash: &[u8],
    slug: &str,
    filter: &Query,
) -> Result<Sql, StoreError> {
    debug_assert!(matches_at_most_one(projection.table, filter));
    debug_assert!(projection.total_of.is_none());
    let mut sql = Sql::new(dialect);
    select_projected(&mut sql, CALLER_COLUMNS, projection);
    sql.push("scim_tokens s JOIN tenants n ON n.id = s.tenant_id LEFT JOIN ")
        .push(table_name(projection.table))
        .push(" r ON r.tenant_id = s.tenant_id AND n.slug = ")
        .bind(Bind::Text(slug.to_owned()))
        .push(" AND ");
    condition(
        &mut sql,
        projection.table,
        TenantOf::Column("s.tenant_id"),
        filter,
    )?;
    sql.push(" WHERE s.token_hash = ")
        .bind(Bind::Bytes(token_hash.to_vec()))
        .push(" AND s.revoked_at IS NULL");
    Ok(sql)
}

/// A page (from [`page_query`], [`page_within_query`] or [`page_from_end_query`])
/// read as `projection` says, in one statement: only the columns the rows are read
/// from (every column of a row is copied out of SQLite whether read or not), the
/// users' groups with them, so an IdP's lookup costs one round trip fewer, and the
/// tenant's count beside them, so a full first page needs no second statement for
/// its `totalResults` (and reads it in the page's own snapshot). The page is
/// ordered again outside (a subquery's order is not the outer query's): the groups
/// are so aggregated for the page's rows only, never for every match a sort reads
/// (a page in index order needs none of this: [`page_in_order_query`]).
pub(crate) fn project(
    page: Sql,
    projection: &Projection<'_>,
    sort: Option<&(Field, SortOrder)>,
) -> Result<Sql, StoreError> {
    let mut sql = Sql::new(page.dialect);
    select_projected(&mut sql, "", projection);
    sql.push("(");
    // The page's placeholders keep their numbers: nothing is bound before them.
    sql.text.push_str(&page.text);
    sql.binds.extend(page.binds);
    sql.push(") r");
    join_total(&mut sql, projection);
    order_by(&mut sql, projection.table, sort, false)?;
    Ok(sql)
}

/// `SELECT`, `leading` columns (empty, or ending in `, `), and what `projection`
/// reads of each row `r`, up to `FROM`.
fn select_projected(sql: &mut Sql, leading: &str, projection: &Projection<'_>) {
    let dialect = sql.dialect;
    sql.push("SELECT ").push(leading).push(projection.columns);
    if projection.member_of {
        sql.push(", ").push(member_of_column(dialect));
    }
    sql.push(match (projection.total_of, projection.table) {
        (Some(_), Table::Users) => ", c.user_count AS listed_total",
        (Some(_), Table::Groups) => ", c.group_count AS listed_total",
        (None, _) => ", CAST(NULL AS BIGINT) AS listed_total",
    });
    sql.push(" FROM ");
}

/// The tenant's rows `r` of the projection's table read as `projection` says,
/// unwrapped, up to the tenant's term of the `WHERE` (the caller adds its own).
/// The tenant row's value is bound before the page's (SQLite binds `?` in order).
fn tenant_rows_projected(dialect: Dialect, projection: &Projection<'_>, tenant_id: Uuid) -> Sql {
    let mut sql = Sql::new(dialect);
    select_projected(&mut sql, "", projection);
    sql.push(table_name(projection.table)).push(" r");
    join_total(&mut sql, projection);
    sql.push(" WHERE r.tenant_id = ")
        .bind(Bind::Uuid(tenant_id));
    sql
}

/// The tenant row `c` whose count `projection` reads, if it does.
fn join_total(sql: &mut Sql, projection: &Projection<'_>) {
    if let Some(tenant_id) = projection.total_of {
        sql.push(" LEFT JOIN tenants c ON c.id = ")
            .bind(Bind::Uuid(tenant_id));
    }
}

/// A page of an unfiltered, unsorted list, in id order: the tenant's first `count`
/// rows, or the `count` after `after` (an id: a walk's next page, found from where
/// the last ended instead of skipping the rows before it, see `page_anchors.rs`).
/// The `(tenant_id, id)` index gives the order, so the page is read as `projection`
/// says in a single query, neither a subquery nor sorted again (SQLite, a page of
/// 100: about 160 → 110 µs a statement against [`project`]'s wrapping).
pub(crate) fn page_in_order_query(
    dialect: Dialect,
    projection: &Projection<'_>,
    tenant_id: Uuid,
    after: Option<Uuid>,
    count: usize,
) -> Sql {
    let mut sql = tenant_rows_projected(dialect, projection, tenant_id);
    if let Some(after) = after {
        sql.push(" AND r.id > ").bind(Bind::Uuid(after));
    }
    sql.push(&format!(" ORDER BY r.id LIMIT {count}"));
    sql
}

/// `count` rows of the tenant in id order, from the row `skip` rows past the first
/// whose id is `from` or above: a page deep in an unfiltered, unsorted list, found
/// from the block it starts in (see `repo/directory/rank_blocks.rs`) instead of
/// skipping every row before it.
pub(crate) fn page_within_query(
    dialect: Dialect,
    table: Table,
    tenant_id: Uuid,
    from: Uuid,
    skip: i64,
    count: usize,
) -> Sql {
    ids_then_rows(dialect, table, tenant_id, Some(from), count as i64, skip)
}

/// `limit` rows of the tenant in id order, ending `from_end` rows before the last: a
/// page deep in an unfiltered, unsorted list, skipping rows from the end (the short
/// way) rather than from the start. The same rows as [`page_query`] when the total
/// the caller counted from is the table's.
pub(crate) fn page_from_end_query(
    dialect: Dialect,
    table: Table,
    tenant_id: Uuid,
    limit: i64,
    from_end: i64,
) -> Sql {
    ids_then_rows(dialect, table, tenant_id, None, limit, from_end)
}

/// A page of the tenant's rows in id order, chosen on the `(tenant_id, id)` index
/// (skipping index entries, not rows) and then read: `limit` ids after skipping
/// `skip`, going up from `from` or, without it, down from the last.
fn ids_then_rows(
    dialect: Dialect,
    table: Table,
    tenant_id: Uuid,
    from: Option<Uuid>,
    limit: i64,
    skip: i64,
) -> Sql {
    let mut sql = Sql::new(dialect);
    sql.push("SELECT r.* FROM ")
        .push(table_name(table))
        .push(" r WHERE r.id IN (SELECT r.id FROM ")
        .push(table_name(table))
        .push(" r WHERE r.tenant_id = ")
        .bind(Bind::Uuid(tenant_id));
    match from {
        Some(from) => {
            sql.push(" AND r.id >= ")
                .bind(Bind::Uuid(from))
                .push(&format!(" ORDER BY r.id LIMIT {limit}"));
        }
        None => {
            sql.push(&format!(" ORDER BY r.id DESC LIMIT {limit}"));
        }
    }
    if skip > 0 {
        sql.push(" OFFSET ").bind(Bind::Int(skip));
    }
    sql.push(") ORDER BY r.id");
    sql
}

/// How many rows of the tenant match `filter`.
pub(crate) fn count_query(
    dialect: Dialect,
    table: Table,
    tenant_id: Uuid,
    filter: &Query,
) -> Result<Sql, StoreError> {
    let mut sql = Sql::new(dialect);
    sql.push("SELECT count(*) FROM ")
        .push(table_name(table))
        .push(" r WHERE r.tenant_id = ")
        .bind(Bind::Uuid(tenant_id));
    sql.push(" AND ");
    condition(&mut sql, table, TenantOf::Id(tenant_id), filter)?;
    Ok(sql)
}

/// The total a list answers with, when the page alone tells it: a first page that is
/// not full holds every match. That is the common case of an IdP's `userName eq`
/// probe, which so costs one query.
pub(crate) fn total_from_page(request: &ListRequest, page_len: usize) -> Option<u64> {
    (request.count > 0 && request.start_index <= 1 && page_len < request.count)
        .then_some(page_len as u64)
}

/// The filters Entra ID and Okta send, each with the index that must answer it. Both
/// backends' `index_tests` EXPLAIN the page query of each: a per-tenant scan (the
/// `(tenant_id, id)` page index with the filter applied row by row) fails them.
#[cfg(test)]
pub(crate) const IDP_FILTERS: &[(Table, &str, &str)] = &[
    (
        Table::Users,
        r#"userName eq "ada@example.com""#,
        "directory_users_user_name_idx",
    ),
    (
        Table::Users,
        r#"externalId eq "00u1a2b3""#,
        "directory_users_external_id_idx",
    ),
    (
        Table::Users,
        r#"emails.value eq "ada@example.com""#,
        "directory_user_emails_value_idx",
    ),
    (
        Table::Users,
        r#"emails[value eq "ada@example.com"]"#,
        "directory_user_emails_value_idx",
    ),
    (
        Table::Users,
        r#"emails[type eq "work"].value eq "ada@example.com""#,
        "directory_user_emails_value_idx",
    ),
    (
        Table::Users,
        r#"displayName eq "Ada Lovelace""#,
        "directory_users_display_name_idx",
    ),
    (
        Table::Users,
        r#"meta.lastModified gt "2026-01-04T10:00:00Z""#,
        "directory_users_updated_idx",
    ),
    (
        Table::Groups,
        r#"displayName eq "Engineering""#,
        "directory_groups_display_name_idx",
    ),
    (
        Table::Groups,
        r#"externalId eq "00g1a2b3""#,
        "directory_groups_external_id_idx",
    ),
];

/// The page query of one of [`IDP_FILTERS`].
#[cfg(test)]
pub(crate) fn idp_filter_page_query(dialect: Dialect, table: Table, filter: &str) -> Sql {
    use idbridge_scim::schema::ResourceType;
    let rt = match table {
        Table::Users => ResourceType::User,
        Table::Groups => ResourceType::Group,
    };
    let request = idbridge_scim::query::list_request(rt, Some(filter), None, None, None, None)
        .expect("a valid filter");
    let query = request.filter.as_ref().expect("a filter");
    // As the list reads it.
    if matches_at_most_one(table, query) {
        let projection = Projection {
            table,
            columns: "r.*",
            member_of: false,
            total_of: None,
        };
        return page_of_one_query(dialect, &projection, Uuid::nil(), query).expect("compiles");
    }
    page_query(dialect, table, Uuid::nil(), &request)
        .expect("compiles")
        .expect("a page")
}
