//! Timed executions of a catalog query the way an application runs it: a prepared statement (parsed
//! once) executed with Bind/Execute over the extended protocol, one round trip per execution.
//!
//! Why not the runner's `EXECUTE name('literal', ...)`: that is a new simple-protocol statement per
//! execution, which the server must parse and analyse (and coerce its literals) before it even looks
//! the prepared statement up: overhead the application does not have, and a large share of a 30 µs
//! query. This is what `pgbench -M prepared` does too (parse once, then Bind/Execute/Sync), so the two
//! can be compared: see `compare::pgbench`.
//!
//! Parameters travel in *text* format with the type PostgreSQL inferred for `$n` ([`TextParam`]), as
//! pgbench and libpq send them: the catalog's values are text (picked by SQL, or typed by a user), and
//! the server's input functions turn them into uuid, timestamptz, int exactly as for the runner's
//! literals. The criterion benchmarks (`benches/queries.rs`) use the same functions.

use std::error::Error as StdError;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use postgres::types::{Format, IsNull, ToSql, Type, to_sql_checked};
use postgres::{Client, Statement};

use crate::catalog::Query;
use crate::error::{DbContext, Error, Result};
use crate::outcome::{Mode, Params};

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

/// A parameter set ready to bind.
#[derive(Debug, Clone)]
pub struct Bound(Vec<TextParam>);

impl Bound {
    pub fn new(params: &Params) -> Bound {
        Bound(params.values.iter().cloned().map(TextParam).collect())
    }

    fn refs(&self) -> Vec<&(dyn ToSql + Sync)> {
        self.0.iter().map(|p| p as &(dyn ToSql + Sync)).collect()
    }
}

/// Sets the session's `plan_cache_mode`: the plan cache consults it at every execution of a named
/// prepared statement, so one statement serves both modes.
pub fn set_plan_cache_mode(client: &mut Client, mode: Mode) -> Result<()> {
    client
        .batch_execute(&format!("SET plan_cache_mode = {}", mode.plan_cache_mode()))
        .db("setting plan_cache_mode")
}

/// Parses the query once on the server (a named statement) and checks its parameter count.
pub fn prepare(client: &mut Client, query: &Query) -> Result<Statement> {
    let stmt = client.prepare(&query.sql).db(format!(
        "query `{}` ({}): preparing",
        query.name,
        query.path.display()
    ))?;
    if stmt.params().len() != query.params.len() {
        return Err(Error::Usage(format!(
            "query `{}` ({}): the server sees {} parameter(s), the header names {}",
            query.name,
            query.path.display(),
            stmt.params().len(),
            query.params.len()
        )));
    }
    Ok(stmt)
}

/// One execution; returns the number of rows. Rows are received in full (as the application would)
/// but not decoded.
pub fn execute(
    client: &mut Client,
    stmt: &Statement,
    bound: &Bound,
) -> std::result::Result<usize, postgres::Error> {
    client.query(stmt, &bound.refs()).map(|rows| rows.len())
}

/// `warmup` untimed executions, then `runs` timed ones, of the prepared query under `mode`.
pub fn time_prepared(
    client: &mut Client,
    query: &Query,
    params: &Params,
    mode: Mode,
    warmup: usize,
    runs: usize,
) -> Result<Vec<Duration>> {
    set_plan_cache_mode(client, mode)?;
    let stmt = prepare(client, query)?;
    let bound = Bound::new(params);
    let ctx = || {
        format!(
            "query `{}` ({} plan, {}): executing",
            query.name,
            mode.as_str(),
            params.display()
        )
    };
    let mut samples = Vec::with_capacity(runs);
    for i in 0..warmup + runs {
        let start = Instant::now();
        execute(client, &stmt, &bound).db(ctx())?;
        if i >= warmup {
            samples.push(start.elapsed());
        }
    }
    // Dropping the Statement closes it on the server; reset the mode for whoever uses the session next.
    drop(stmt);
    client
        .batch_execute("RESET plan_cache_mode")
        .db("resetting plan_cache_mode")?;
    Ok(samples)
}
