//! `cargo bench --bench contention`: bookings under concurrent clients, and the collision race.
//!
//! The same engine as `qcheck compare`'s contention section (`qcheck::compare::contention`): every
//! client is a thread with its own connection, booking as `qcheck_app` through the application's
//! path (BEGIN, `set_config('app.tenant_id', …, true)`, the prepared INSERT, COMMIT), providers drawn
//! from a Zipf distribution over the live providers ranked by their booked appointments.
//!
//! Groups:
//! - `contention/free/N` and `contention/collisions/N` for N = 1, 4, 16, 32 clients: criterion times
//!   `iters` booking attempts spread over the N clients (throughput in elements: attempts/s). In
//!   `collisions`, a quarter of the bookings aim at a slot another client has just taken.
//! - `collision_race/32`: 32 clients released at once (a barrier) on five mutually overlapping slots
//!   of one provider across a month boundary (23:30+60, 23:45+30, 23:55+10, 00:00+15, 00:00+60);
//!   the time measured is the time to settle, from the release to the last answer.
//!
//! Criterion measures time only; what it cannot show — answered bookings/s, latency p50/p99 and the
//! counts of 23P01 (slot taken), 40P01 (deadlock) and other errors per level, and the race's outcome
//! counts — is printed as a table on stderr at the end.
//!
//! The bookings commit (a rolled-back winner would let the losers through) and are deleted after
//! every benchmark, audit rows included (`contention::cleanup`), so the cached dataset is left as it
//! was. Environment and dataset as for `--bench queries` (`QCHECK_BENCH_SCALE`,
//! `QCHECK_BENCH_STRATEGY`, `QCHECK_HOME`, `DATABASE_URL`); the role must be a superuser (cleanup).
//! Under `cargo test --benches` each benchmark runs once on the `tiny` profile in a throwaway
//! cluster.

use std::cell::RefCell;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, SamplingMode, Throughput};
use qcheck::compare::contention::{self, Pool, Setup, Stop};
use qcheck::compare::model::{ContentionLevel, RaceRound};
use qcheck::db::Session;
use qcheck::report::fmt;

mod common;

/// Share of colliding bookings in the `collisions` functions.
const COLLISION_SHARE: f64 = 0.25;

/// What criterion does not report, per benchmark: summed over its calls.
#[derive(Default)]
struct Tally {
    seconds: f64,
    attempts: usize,
    answered: usize,
    taken: usize,
    deadlocks: usize,
    other: usize,
    /// The latency of the largest call (most attempts).
    largest: Option<ContentionLevel>,
}

impl Tally {
    fn add(&mut self, l: ContentionLevel) {
        self.seconds += l.seconds;
        self.attempts += l.attempts;
        self.answered += l.booked + l.exclusion_violations;
        self.taken += l.exclusion_violations;
        self.deadlocks += l.deadlocks;
        self.other += l.other_errors;
        if self
            .largest
            .as_ref()
            .is_none_or(|x| x.attempts < l.attempts)
        {
            self.largest = Some(l);
        }
    }

    fn row(&self, name: &str) -> String {
        let (p50, p99) = self.largest.as_ref().map_or((f64::NAN, f64::NAN), |l| {
            (l.latency.p50_ms, l.latency.p99_ms)
        });
        format!(
            "{name:<22} {:>10} {:>9} {:>9} {:>9} {:>8} {:>8} {:>8}",
            fmt::si(if self.seconds > 0.0 {
                self.answered as f64 / self.seconds
            } else {
                0.0
            }),
            fmt::sig3(p50),
            fmt::sig3(p99),
            fmt::count_u64(self.attempts as u64),
            fmt::count_u64(self.taken as u64),
            fmt::count_u64(self.deadlocks as u64),
            fmt::count_u64(self.other as u64),
        )
    }
}

fn sweep(
    c: &mut Criterion,
    session: &Session,
    setup: &Setup,
    client: &mut qcheck::db::Conn,
) -> qcheck::Result<Vec<String>> {
    let mut rows = Vec::new();
    let mut group = c.benchmark_group("contention");
    group.throughput(Throughput::Elements(1));
    for (label, share) in [("free", 0.0), ("collisions", COLLISION_SHARE)] {
        for clients in contention::LEVELS {
            let pool = Pool::new(setup);
            let tally = RefCell::new(Tally::default());
            let failure: RefCell<Option<qcheck::Error>> = RefCell::new(None);
            let mut call = 0u64;
            group.bench_function(BenchmarkId::new(label, clients), |b| {
                b.iter_custom(|iters| {
                    call += 1;
                    let count = usize::try_from(iters).unwrap_or(usize::MAX);
                    match contention::run_level(
                        session,
                        &pool,
                        clients,
                        share,
                        Stop::Count(count),
                        call,
                    ) {
                        Ok((level, _)) => {
                            let d = Duration::from_secs_f64(level.seconds);
                            tally.borrow_mut().add(level);
                            d
                        }
                        Err(e) => {
                            failure.borrow_mut().get_or_insert(e);
                            Duration::from_secs(1)
                        }
                    }
                });
            });
            if let Some(e) = failure.into_inner() {
                return Err(e);
            }
            contention::cleanup(client)?;
            rows.push(tally.into_inner().row(&format!("{label}/{clients}")));
        }
    }
    group.finish();
    Ok(rows)
}

fn race(
    c: &mut Criterion,
    session: &Session,
    setup: &Setup,
    client: &mut qcheck::db::Conn,
) -> qcheck::Result<Vec<RaceRound>> {
    let mut group = c.benchmark_group("collision_race");
    // Each round is one race of 32 clients (seconds today): the fewest rounds criterion accepts.
    group.sampling_mode(SamplingMode::Flat).sample_size(10);
    let rounds: RefCell<Vec<RaceRound>> = RefCell::new(Vec::new());
    let failure: RefCell<Option<qcheck::Error>> = RefCell::new(None);
    let mut seed = 0u64;
    group.bench_function(BenchmarkId::from_parameter(contention::RACE_CLIENTS), |b| {
        b.iter_custom(|iters| {
            let mut settle = Duration::ZERO;
            for _ in 0..iters {
                seed += 1;
                let round = contention::race(session, setup, contention::RACE_CLIENTS, seed)
                    .and_then(|r| contention::cleanup(client).map(|_| r));
                match round {
                    Ok(Some(r)) => {
                        settle += Duration::from_secs_f64(r.settle_ms / 1e3);
                        rounds.borrow_mut().push(r);
                    }
                    Ok(None) => settle += Duration::from_nanos(1),
                    Err(e) => {
                        failure.borrow_mut().get_or_insert(e);
                    }
                }
            }
            settle
        });
    });
    group.finish();
    if let Some(e) = failure.into_inner() {
        return Err(e);
    }
    Ok(rounds.into_inner())
}

fn main() {
    common::main("contention", 10, |c, session, client| {
        if let Some(reason) = contention::unavailable(client)? {
            return Err(qcheck::Error::Usage(reason));
        }
        contention::cleanup(client)?;
        // Bookings get ids of the seeded profile's scheme, as the application's would.
        let profile = qcheck::generate::current_dataset(client)?
            .map(|m| m.profile)
            .unwrap_or_default();
        let ids = qcheck::dataset::Profile::resolve(&profile)?
            .spec
            .ids
            .appointment;
        let setup = Setup::find(client, ids, qcheck::schema::APP_ROLE)?;
        let rows = sweep(c, session, &setup, client)?;
        let rounds = race(c, session, &setup, client)?;
        report(&setup, &rows, &rounds);
        Ok(())
    });
}

/// What criterion cannot show, on stderr.
fn report(setup: &Setup, rows: &[String], rounds: &[RaceRound]) {
    eprintln!(
        "\n{:<22} {:>10} {:>9} {:>9} {:>9} {:>8} {:>8} {:>8}",
        "contention", "answered/s", "p50 ms", "p99 ms", "attempts", "23P01", "40P01", "other"
    );
    for r in rows {
        eprintln!("{r}");
    }
    if let Some(boundary) = setup.race_boundary() {
        let settle: Vec<f64> = rounds.iter().map(|r| r.settle_ms).collect();
        let sum = |f: fn(&RaceRound) -> usize| rounds.iter().map(f).sum::<usize>();
        eprintln!(
            "collision race at {boundary}: {} rounds, settled in {} – {}; booked {}, 23P01 {}, 40P01 {}, other {}",
            rounds.len(),
            fmt::duration_ms(settle.iter().copied().fold(f64::INFINITY, f64::min)),
            fmt::duration_ms(settle.iter().copied().fold(0.0, f64::max)),
            sum(|r| r.booked),
            sum(|r| r.exclusion_violations),
            sum(|r| r.deadlocks),
            sum(|r| r.other_errors)
        );
    }
}
