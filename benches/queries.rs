//! `cargo bench --bench queries`: each hot query as a criterion benchmark against a seeded database.
//!
//! Runs on a fresh machine with nothing but PostgreSQL installed: it starts the embedded cluster in
//! `QCHECK_HOME` (default: qcheck's cache folder, so a dataset seeded by `qcheck seed` is reused) and
//! seeds the `clinic` profile if the database does not hold it. `DATABASE_URL` (or the libpq PG*
//! variables) points it at another server instead, as for every qcheck command.
//!
//! Environment:
//! - `QCHECK_BENCH_SCALE` (default 1: about 1,000,000 appointments; the first run seeds it, about a
//!   minute and a half, later runs reuse it);
//! - `QCHECK_BENCH_STRATEGY` (default `tuned`): the index strategy to benchmark;
//! - `QCHECK_BENCH_AS_OWNER=1`: run the queries as the connecting user (`qcheck check --as-owner`)
//!   instead of as the application (role `qcheck_app`, `app.tenant_id` set: row-level security on,
//!   the default, as for `check`); `QCHECK_BENCH_AS_ROLE=ROLE` names another role;
//! - `QCHECK_HOME`, `QCHECK_PG_BIN`, `DATABASE_URL`: where the database is, as for `qcheck`.
//!
//! One group per query with two functions, `custom` and `generic` (plan_cache_mode forced), because
//! for a partitioned table the two differ by several times. The statement is prepared once, outside
//! the timed loop, with rust-postgres' `prepare` (a named server-side statement, then one
//! Bind/Execute round trip per iteration, as an application and `pgbench -M prepared` run it); the
//! runner's `EXECUTE name(literals)` would add a parse of the EXECUTE statement to every iteration.
//! Each iteration binds the next parameter set of a deterministic sample of the data
//! (`Runner::sample`, 200 sets per query), so a figure is the mean over many providers, patients
//! and days rather than one cached row. As the application, the sets are ordered by tenant (stable,
//! so the sample's own order stays within a tenant) and `app.tenant_id` is set when the tenant
//! changes, as a transaction for that tenant would start. Executions go through `qcheck::runner`, like every query
//! qcheck sends, inside a rolled-back transaction. Criterion's HTML report lands in
//! `target/criterion/report/index.html` as usual.
//!
//! Under `cargo test --benches` (criterion's test mode) each benchmark runs once on the `tiny`
//! profile in a throwaway cluster: the code is exercised, and no cached dataset is replaced.

use criterion::Criterion;
use postgres::Client;
use qcheck::catalog::{Catalog, Query};
use qcheck::plan::Mode;
use qcheck::runner::{Bound, RunAs, RunAsRequest, Runner, SAMPLE_SIZE};

mod common;

/// One group per query: the prepared statement, its parameter sample, custom and generic plans.
fn bench_query(
    c: &mut Criterion,
    client: &mut Client,
    run_as: &RunAs,
    query: &Query,
) -> qcheck::Result<()> {
    let mut runner = Runner::new(client, run_as.clone());
    let mut bound: Vec<Bound> = runner
        .sample(query, SAMPLE_SIZE)?
        .iter()
        .map(Bound::new)
        .collect();
    bound.sort_by(|a, b| a.tenant().cmp(&b.tenant()));
    let prepared = runner.prepare(query)?;
    let mut group = c.benchmark_group(&query.name);
    for mode in Mode::BOTH {
        let mut run = runner.executions(mode, bound[0].tenant())?;
        let mut next = 0usize;
        group.bench_function(mode.as_str(), |b| {
            b.iter(|| {
                let params = &bound[next % bound.len()];
                next += 1;
                run.execute(&prepared, params)
                    .unwrap_or_else(|e| panic!("{}: {}", query.name, qcheck::error::db_message(&e)))
            });
        });
    }
    group.finish();
    Ok(())
}

fn main() {
    common::main("queries", 30, |c, _session, client| {
        let request = RunAsRequest {
            as_owner: common::env("QCHECK_BENCH_AS_OWNER").is_some_and(|v| v != "0"),
            role: common::env("QCHECK_BENCH_AS_ROLE"),
            tenant: None,
        };
        let run_as = RunAs::resolve(client, &request)?;
        eprintln!("queries bench: {}", run_as.describe());
        for query in &Catalog::builtin()?.queries {
            bench_query(c, client, &run_as, query)?;
        }
        Ok(())
    });
}
