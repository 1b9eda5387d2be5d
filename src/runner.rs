//! Runs catalog queries against a database: picks their parameters from the data, captures
//! `EXPLAIN (ANALYZE, BUFFERS, SETTINGS, FORMAT JSON)` under a custom or a generic plan, and times
//! real executions.
//!
//! Both plan modes go through a prepared statement, as applications run queries: `PREPARE`, then
//! `plan_cache_mode = force_custom_plan` (the planner sees the values) or `force_generic_plan` (it does
//! not; partitions can then be pruned only at run time), then `EXPLAIN ... EXECUTE`. Parameter values
//! travel as SQL literals of unknown type, so PostgreSQL coerces them to the types it inferred for
//! `$n` exactly as it would for a client's bind values.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use postgres::{Client, SimpleQueryMessage};

use crate::catalog::Query;
use crate::error::{DbContext, Error, Result};
pub use crate::outcome::{Mode, Params};

/// Picks a query's parameters: runs its `params:` SQL (first row) and applies `overrides`
/// (`--param name=value`). Unknown override names are an error that lists the query's parameters.
pub fn pick_params(
    client: &mut Client,
    query: &Query,
    overrides: &[(String, String)],
) -> Result<Params> {
    for (name, _) in overrides {
        if !query.params.contains(name) {
            return Err(Error::Usage(format!(
                "query `{}` has no parameter `{name}`; its parameters: {}",
                query.name,
                if query.params.is_empty() {
                    "none".to_string()
                } else {
                    query.params.join(", ")
                }
            )));
        }
    }
    let mut values: Vec<Option<String>> = vec![None; query.params.len()];
    let all_overridden = query
        .params
        .iter()
        .all(|p| overrides.iter().any(|(n, _)| n == p));
    if !query.params.is_empty() && !all_overridden {
        let sql = query.params_sql.as_deref().unwrap_or_default();
        let messages = client.simple_query(sql).db(format!(
            "query `{}` ({}): picking parameters",
            query.name,
            query.path.display()
        ))?;
        let row = messages
            .iter()
            .find_map(|m| if let SimpleQueryMessage::Row(r) = m { Some(r) } else { None })
            .ok_or_else(|| {
                Error::Usage(format!(
                    "query `{}` ({}): its params SQL returned no row — is the dataset seeded? Pass the values with --param",
                    query.name,
                    query.path.display()
                ))
            })?;
        if row.len() < query.params.len() {
            return Err(Error::Usage(format!(
                "query `{}` ({}): its params SQL returns {} column(s) for {} parameter(s)",
                query.name,
                query.path.display(),
                row.len(),
                query.params.len()
            )));
        }
        for (i, value) in values.iter_mut().enumerate() {
            *value = row.get(i).map(str::to_string);
        }
    }
    for (name, value) in overrides {
        let i = query
            .params
            .iter()
            .position(|p| p == name)
            .expect("checked above");
        values[i] = Some(value.clone());
    }
    Ok(Params {
        names: query.params.clone(),
        values,
    })
}

/// Picks up to `limit` parameter sets from `sample_sql`, which returns one row per set (columns in
/// parameter order) in a deterministic order. Benchmarks rotate over them so that one cached row does
/// not flatter the figure. Fewer rows than `limit` is fine; none is an error (no data to sample).
pub fn pick_sample(
    client: &mut Client,
    query: &Query,
    sample_sql: &str,
    limit: usize,
) -> Result<Vec<Params>> {
    let ctx = format!(
        "query `{}` ({}): sampling parameters",
        query.name,
        query.path.display()
    );
    let messages = client.simple_query(sample_sql).db(ctx.clone())?;
    let mut out = Vec::new();
    for row in messages.iter().filter_map(|m| match m {
        SimpleQueryMessage::Row(r) => Some(r),
        _ => None,
    }) {
        if row.len() < query.params.len() {
            return Err(Error::Usage(format!(
                "{ctx}: the sample SQL returns {} column(s) for {} parameter(s)",
                row.len(),
                query.params.len()
            )));
        }
        out.push(Params {
            names: query.params.clone(),
            values: (0..query.params.len())
                .map(|i| row.get(i).map(str::to_string))
                .collect(),
        });
        if out.len() == limit {
            break;
        }
    }
    if out.is_empty() {
        return Err(Error::Usage(format!(
            "{ctx}: the sample SQL returned no row — is the dataset seeded?"
        )));
    }
    Ok(out)
}

fn literal(value: &Option<String>) -> String {
    match value {
        None => "NULL".into(),
        Some(v) => format!("'{}'", v.replace('\'', "''")),
    }
}

fn statement_name(query: &Query) -> String {
    format!("qcheck_{}", query.name.replace('-', "_"))
}

fn execute_sql(query: &Query, params: &Params) -> String {
    let name = statement_name(query);
    if params.values.is_empty() {
        name.to_string()
    } else {
        let args: Vec<String> = params.values.iter().map(literal).collect();
        format!("{name}({})", args.join(", "))
    }
}

/// A prepared query in one plan mode; deallocated on drop of the session state by `finish`.
struct Prepared<'a> {
    client: &'a mut Client,
    name: String,
}

impl<'a> Prepared<'a> {
    fn new(client: &'a mut Client, query: &Query, mode: Mode) -> Result<Self> {
        let name = statement_name(query);
        let ctx = format!("query `{}` ({})", query.name, query.path.display());
        client
            .batch_execute(&format!(
                "DEALLOCATE ALL; SET plan_cache_mode = {}",
                mode.plan_cache_mode()
            ))
            .db(format!("{ctx}: setting plan_cache_mode"))?;
        client
            .batch_execute(&format!("PREPARE {name} AS {}", query.sql))
            .db(format!("{ctx}: preparing"))?;
        Ok(Prepared { client, name })
    }

    fn finish(self) -> Result<()> {
        self.client
            .batch_execute(&format!("DEALLOCATE {}; RESET plan_cache_mode", self.name))
            .db("deallocating a prepared query")
    }
}

/// Captures the plan of one execution: `EXPLAIN (ANALYZE, BUFFERS, SETTINGS, FORMAT JSON)`, after one
/// warm-up execution so that the buffers and timings describe a warm cache, as in production.
pub fn explain(client: &mut Client, query: &Query, params: &Params, mode: Mode) -> Result<String> {
    let ctx = format!(
        "query `{}` ({}, {} plan)",
        query.name,
        query.path.display(),
        mode.as_str()
    );
    let prepared = Prepared::new(client, query, mode)?;
    let exec = execute_sql(query, params);
    prepared
        .client
        .batch_execute(&format!("EXECUTE {exec}"))
        .db(format!("{ctx}: executing"))?;
    let messages = prepared
        .client
        .simple_query(&format!(
            "EXPLAIN (ANALYZE, BUFFERS, SETTINGS, FORMAT JSON) EXECUTE {exec}"
        ))
        .db(format!("{ctx}: EXPLAIN ANALYZE"))?;
    let json = messages
        .iter()
        .find_map(|m| {
            if let SimpleQueryMessage::Row(r) = m {
                r.get(0).map(str::to_string)
            } else {
                None
            }
        })
        .ok_or_else(|| Error::Schema(format!("{ctx}: EXPLAIN returned no row")))?;
    prepared.finish()?;
    Ok(json)
}

/// Latency of real executions (not EXPLAIN ANALYZE, whose per-node timing inflates it): `warmup`
/// untimed executions, then `runs` timed ones, each a round trip of the prepared statement.
pub fn time_executions(
    client: &mut Client,
    query: &Query,
    params: &Params,
    mode: Mode,
    warmup: usize,
    runs: usize,
) -> Result<Vec<Duration>> {
    let ctx = format!("query `{}` ({} plan)", query.name, mode.as_str());
    let prepared = Prepared::new(client, query, mode)?;
    let exec = format!("EXECUTE {}", execute_sql(query, params));
    let mut samples = Vec::with_capacity(runs);
    for i in 0..warmup + runs {
        let start = Instant::now();
        prepared
            .client
            .simple_query(&exec)
            .db(format!("{ctx}: executing"))?;
        if i >= warmup {
            samples.push(start.elapsed());
        }
    }
    prepared.finish()?;
    Ok(samples)
}

/// Partition (leaf) name to its partitioned root, from the catalog: plans name the leaves they scan
/// and the leaf indexes they use, so tables and indexes are both mapped.
pub fn partition_roots(client: &mut Client) -> Result<BTreeMap<String, String>> {
    let rows = client
        .query(
            "SELECT c.relname::text, r.relname::text
               FROM pg_class c
               JOIN pg_class r ON r.oid = pg_partition_root(c.oid)
              WHERE c.relispartition AND c.relkind IN ('r', 'p', 'f', 'i', 'I')",
            &[],
        )
        .db("reading the partition tree")?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_are_quoted() {
        assert_eq!(literal(&Some("O'Brien".into())), "'O''Brien'");
        assert_eq!(literal(&None), "NULL");
    }
}
