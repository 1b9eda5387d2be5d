//! A catalog query as the server holds it: one named prepared statement, and its values bound as
//! text parameters.
//!
//! Parameters travel in *text* format with the type PostgreSQL inferred for `$n` ([`TextParam`]), as
//! pgbench and libpq send them: the catalog's values are text (picked by SQL, or typed by a user),
//! and the server's input functions turn them into uuid, timestamptz, int exactly as for a client's
//! bind values. EXPLAIN cannot bind parameters to `EXECUTE`, so it names the same statement with the
//! values as SQL literals of unknown type, which the server coerces to the same inferred types.

use std::error::Error as StdError;

use bytes::BytesMut;
use postgres::types::{Format, FromSql, IsNull, ToSql, Type, to_sql_checked};
use postgres::{GenericClient, Statement};

use super::{query_db_error, query_error};
use crate::analysis::Params;
use crate::catalog::Query;
use crate::error::Result;

/// A parameter sent as text, whatever type the server inferred for it; `None` is SQL NULL.
#[derive(Debug, Clone)]
pub struct TextParam(pub Option<String>);

impl ToSql for TextParam {
    fn to_sql(
        &self,
        _ty: &Type,
        out: &mut BytesMut,
    ) -> std::result::Result<IsNull, Box<dyn StdError + Sync + Send>> {
        match &self.0 {
            None => Ok(IsNull::Yes),
            Some(text) => {
                out.extend_from_slice(text.as_bytes());
                Ok(IsNull::No)
            }
        }
    }

    fn accepts(_ty: &Type) -> bool {
        true
    }

    fn encode_format(&self, _ty: &Type) -> Format {
        Format::Text
    }

    to_sql_checked!();
}

/// A parameter set ready to bind, with the tenant it belongs to.
#[derive(Debug, Clone)]
pub struct Bound {
    values: Vec<TextParam>,
    tenant: Option<String>,
}

impl Bound {
    /// The values of `params`, as text parameters.
    pub fn new(params: &Params) -> Bound {
        Bound {
            values: params.values.iter().cloned().map(TextParam).collect(),
            tenant: params.tenant.clone(),
        }
    }

    /// The tenant (`app.tenant_id`) the values belong to, when running as a role.
    pub fn tenant(&self) -> Option<&str> {
        self.tenant.as_deref()
    }

    pub(super) fn refs(&self) -> Vec<&(dyn ToSql + Sync)> {
        self.values
            .iter()
            .map(|p| p as &(dyn ToSql + Sync))
            .collect()
    }
}

/// A `json` value received as its text, so that the plan reader parses it once (with its own limits
/// and error messages) instead of the client library building a generic JSON tree first.
pub(super) struct JsonText(pub String);

impl<'a> FromSql<'a> for JsonText {
    fn from_sql(
        ty: &Type,
        raw: &'a [u8],
    ) -> std::result::Result<Self, Box<dyn StdError + Sync + Send>> {
        // jsonb's binary form starts with a version byte; EXPLAIN returns json, whose binary form is text.
        let raw = if *ty == Type::JSONB { &raw[1..] } else { raw };
        Ok(JsonText(std::str::from_utf8(raw)?.to_owned()))
    }

    fn accepts(ty: &Type) -> bool {
        matches!(*ty, Type::JSON | Type::JSONB | Type::TEXT)
    }
}

/// A query prepared on the server: the statement, its server-side name, and the query it runs.
/// Dropping it closes the statement on the server.
pub struct Prepared {
    statement: Statement,
    name: String,
    query: Query,
}

impl Prepared {
    pub(super) fn new(client: &mut impl GenericClient, query: &Query) -> Result<Prepared> {
        let statement = client
            .prepare(&query.sql)
            .map_err(|e| query_db_error(query, "preparing", e))?;
        if statement.params().len() != query.params.len() {
            return Err(query_error(
                query,
                format!(
                    "the server sees {} parameter(s), the header names {}",
                    statement.params().len(),
                    query.params.len()
                ),
            ));
        }
        // The client library names its statements but does not say the name; the server lists it.
        // The newest protocol-level statement with this text is the one just prepared.
        let name: String = client
            .query_one(
                "SELECT name FROM pg_prepared_statements
                  WHERE NOT from_sql AND statement = $1
                  ORDER BY prepare_time DESC, length(name) DESC, name DESC LIMIT 1",
                &[&query.sql],
            )
            .map_err(|e| query_db_error(query, "finding the prepared statement", e))?
            .get(0);
        Ok(Prepared {
            statement,
            name,
            query: query.clone(),
        })
    }

    /// The statement, for Bind/Execute.
    pub fn statement(&self) -> &Statement {
        &self.statement
    }

    /// The query it runs.
    pub fn query(&self) -> &Query {
        &self.query
    }

    /// `EXECUTE name('v1', 'v2', NULL)`: the same statement with literal values, for EXPLAIN.
    pub(super) fn execute_sql(&self, params: &Params) -> String {
        let name = crate::schema::quote_ident(&self.name);
        if params.values.is_empty() {
            format!("EXECUTE {name}")
        } else {
            let args: Vec<String> = params
                .values
                .iter()
                .map(|v| literal(v.as_deref()))
                .collect();
            format!("EXECUTE {name}({})", args.join(", "))
        }
    }
}

/// A value as an SQL literal of unknown type (standard_conforming_strings: only `'` is special).
pub(super) fn literal(value: Option<&str>) -> String {
    match value {
        None => "NULL".into(),
        Some(v) => format!("'{}'", v.replace('\'', "''")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_are_quoted() {
        assert_eq!(literal(Some("O'Brien")), "'O''Brien'");
        assert_eq!(literal(None), "NULL");
    }
}
