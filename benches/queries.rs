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

use std::time::Duration;

use criterion::Criterion;
use postgres::Client;
use qcheck::catalog::{Catalog, Query};
use qcheck::db::{Session, Target, TargetOptions};
use qcheck::generate::{self, SeedRequest};
use qcheck::plan::Mode;
use qcheck::progress::{Progress, ProgressMode};
use qcheck::runner::{Bound, RunAs, RunAsRequest, Runner, SAMPLE_SIZE};

mod common;
use common::Invocation;

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// Opens the target and makes sure it holds the dataset; in test mode, a throwaway cluster in
/// `home` seeded with `tiny`.
fn setup(test_home: Option<&std::path::Path>) -> qcheck::Result<(Session, qcheck::db::Conn)> {
    if let Some(home) = test_home {
        let request = SeedRequest::new("tiny", 1.0, generate::DEFAULT_SEED, "tuned")?;
        let target = Target::resolve(&TargetOptions {
            database_url: None,
            pg_bin_dir: env("QCHECK_PG_BIN").map(Into::into),
            home: Some(home.to_path_buf()),
        })?;
        let session = target.open()?;
        generate::ensure_seeded(&session, &request, &Progress::new(ProgressMode::Quiet))?;
        let client = session.connect()?;
        return Ok((session, client));
    }
    let scale: f64 = match env("QCHECK_BENCH_SCALE") {
        Some(s) => s
            .parse()
            .map_err(|_| qcheck::Error::Usage(format!("QCHECK_BENCH_SCALE={s} is not a number")))?,
        None => 1.0,
    };
    let strategy = env("QCHECK_BENCH_STRATEGY").unwrap_or_else(|| "tuned".into());
    let request = SeedRequest::new("clinic", scale, generate::DEFAULT_SEED, &strategy)?;
    let target = Target::resolve(&TargetOptions {
        database_url: env("DATABASE_URL"),
        pg_bin_dir: env("QCHECK_PG_BIN").map(Into::into),
        home: env("QCHECK_HOME").map(Into::into),
    })?;
    let session = target.open()?;
    let outcome = generate::ensure_seeded(&session, &request, &Progress::new(ProgressMode::Plain))?;
    eprintln!(
        "queries bench: clinic scale {scale}, strategy {strategy}, {} appointments on {}",
        outcome
            .dataset
            .row_counts
            .get("appointment")
            .copied()
            .unwrap_or(0),
        outcome.target
    );
    let client = session.connect()?;
    Ok((session, client))
}

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
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(30)
        .configure_from_args();
    let invocation = common::invocation();
    // `cargo bench -- --list` only enumerates: no database then.
    if invocation == Invocation::List {
        return;
    }
    let test_home = (invocation == Invocation::Test).then(|| common::throwaway_home("queries"));
    let mut run = || -> qcheck::Result<Session> {
        let (session, mut client) = setup(test_home.as_ref().map(tempfile::TempDir::path))?;
        let request = RunAsRequest {
            as_owner: env("QCHECK_BENCH_AS_OWNER").is_some_and(|v| v != "0"),
            role: env("QCHECK_BENCH_AS_ROLE"),
            tenant: None,
        };
        let run_as = RunAs::resolve(&mut client, &request)?;
        eprintln!("queries bench: {}", run_as.describe());
        for query in &Catalog::builtin()?.queries {
            bench_query(&mut c, &mut client, &run_as, query)?;
        }
        Ok(session)
    };
    match run() {
        Ok(session) => {
            c.final_summary();
            let _ = session.close();
        }
        Err(e) => {
            eprintln!("queries bench: {e}");
            std::process::exit(2);
        }
    }
}
