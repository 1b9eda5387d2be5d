//! Bookings under contention: many clients booking at once, as a booking system lives.
//!
//! Two measurements, both through the application's own path: every client is one thread with one
//! connection, `SET ROLE qcheck_app` and `app.actor` set once, and per booking a transaction of
//! `BEGIN`, `SET LOCAL app.tenant_id = 'tenant'` (so row-level security applies, as the README
//! tells applications to connect; `SET LOCAL` and not `set_config(…, true)`, because only the former
//! reaches the shards' policies on Citus, and the same statement on every target keeps them
//! comparable), one prepared `INSERT` into `appointment` (the audit and boundary triggers and the
//! exclusion constraints run as for any booking) and `COMMIT`. On a Citus coordinator the role is a
//! LOGIN member of `qcheck_app` instead (Citus connects to the workers as the current role, and
//! `qcheck_app` cannot log in): [`Setup::find`] takes it.
//!
//! - **The sweep** ([`run_level`]): `clients` connections book for a fixed time (or a fixed count, for
//!   the criterion bench). Providers are drawn from a Zipf distribution over the live providers ranked
//!   by their booked appointments (the popular ones are hot, as in the data); a fresh booking takes the
//!   next free 30-minute slot of that provider (free slots are computed beforehand from the data, in the
//!   future part of the calendar, all hours, in a deterministic shuffled order, so no two fresh
//!   bookings ever overlap each other or an existing appointment). With `collision_share` > 0, that
//!   share of bookings instead aims at one of the last 32 fresh slots handed out, shifted by -15, 0 or
//!   +15 minutes: a slot another client has just booked or is booking right now. Per attempt the
//!   latency (BEGIN to COMMIT or ROLLBACK) and the outcome: booked, 23P01 (the slot is taken: the
//!   answer a loser should get), 40P01 (deadlock detected) or another error.
//! - **The race** ([`race`]): 32 clients connect, wait at a barrier, and are released at once, each
//!   booking one of five mutually overlapping slots of one provider across a month boundary (23:30+60,
//!   23:45+30, 23:55+10, 00:00+15, 00:00+60). The settle time runs from the release to the last
//!   answer; exactly one booking may win.
//!
//! Bookings commit (a rolled-back winner would let the losers through, which is not contention), so
//! the dataset is restored afterwards by [`cleanup`]: every appointment with the probe's `reason`, its
//! boundary mirror and its audit rows are deleted in one transaction under
//! `session_replication_role = replica` (which skips the audit trail's append-only trigger for that
//! transaction only: it needs a superuser), then the touched tables are vacuumed so the next strategy
//! finds an all-visible heap. A run interrupted half-way is cleaned up by the next one (cleanup goes
//! by `reason`, not by remembered ids).

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Barrier, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Datelike, TimeZone, Utc};
use postgres::error::SqlState;
use postgres::{Client, Statement};
use uuid::Uuid;

use super::model::{ContentionLevel, Latency, RaceRound, Spread};

/// Live appointments per provider: (start, end) of each slot.
type Calendar = HashMap<Uuid, Vec<(DateTime<Utc>, DateTime<Utc>)>>;

/// What one race client saw: when it started and finished, and its outcome.
type RaceResult = Result<(Instant, Instant, Outcome, Option<String>)>;
use crate::dataset::IdKind;
use crate::db::Session;
use crate::error::{DbContext, Error, Result};
use crate::generate::rng::{Stream, Zipf, key};

/// The `reason` of every probe booking (and its `app.actor`): what [`cleanup`] deletes by.
pub const REASON: &str = "qcheck contention probe";

/// Client counts of the sweep, unless told otherwise.
pub const LEVELS: [usize; 4] = [1, 4, 16, 32];

/// Clients released at once in the race.
pub const RACE_CLIENTS: usize = 32;

/// Exponent of the Zipf distribution over providers.
pub const ZIPF_S: f64 = 1.0;

/// The race's slot shapes: minutes from the boundary, duration in minutes.
pub const RACE_SHAPES: [(i64, i16); 5] = [(-30, 60), (-15, 30), (-5, 10), (0, 15), (0, 60)];

/// Free slots kept per provider (the hottest of 200 takes 17% of the bookings).
const MAX_FREE: usize = 8000;

/// Fresh slots a colliding booking picks from.
const RECENT: usize = 32;

/// Windows a run's throughput is also counted in (its spread).
const WINDOWS: usize = 4;

const INSERT: &str = "
INSERT INTO appointment (id, tenant_id, provider_id, patient_id, scheduled_at, duration_min, status, reason, booked_via)
VALUES ($1, $2, $3, $4, $5, $6, 'booked', 'qcheck contention probe', 'portal')";

/// A live provider, hottest first, with its free slots.
#[derive(Debug, Clone)]
struct Provider {
    id: Uuid,
    tenant_id: Uuid,
    /// Index into `Setup::patients`.
    tenant: usize,
    /// Free 30-minute slots, in a deterministic shuffled order.
    free: Vec<DateTime<Utc>>,
}

/// What the contention runs book: providers, patients, free slots, the race's boundary.
#[derive(Debug, Clone)]
pub struct Setup {
    providers: Vec<Provider>,
    /// Live patients per tenant (up to 200 each).
    patients: Vec<Vec<Uuid>>,
    zipf: Zipf,
    /// The race: provider index and month boundary (None when no boundary in the future part of
    /// the data has the five shapes free).
    race: Option<(usize, DateTime<Utc>)>,
    /// The dataset's appointment id scheme: every booking's id is minted with it at insert time
    /// ([`super::writes::mint_id`]).
    ids: IdKind,
    /// The role the clients book as (`SET ROLE`): `qcheck_app`, or on Citus a LOGIN member of it.
    role: String,
}

/// Why the contention runs cannot run on this connection's role, if they cannot.
pub fn unavailable(client: &mut Client) -> Result<Option<String>> {
    let row = client
        .query_one(
            "SELECT current_setting('is_superuser') = 'on', to_regrole('qcheck_app') IS NOT NULL",
            &[],
        )
        .db("checking the role for the contention benchmark")?;
    let (superuser, app_role): (bool, bool) = (row.get(0), row.get(1));
    Ok(if !superuser {
        Some(
            "the contention benchmark needs a superuser: its bookings commit, and removing them and \
             their audit rows afterwards skips the audit trail's append-only trigger \
             (session_replication_role = replica)"
                .into(),
        )
    } else if !app_role {
        Some("the role qcheck_app does not exist: the contention benchmark books as it".into())
    } else {
        None
    })
}

impl Setup {
    /// Reads providers, patients and the booked calendar, and computes the free slots; bookings
    /// get ids of the dataset's scheme `ids` and are made as `role`.
    pub fn find(client: &mut Client, ids: IdKind, role: &str) -> Result<Setup> {
        let span = client
            .query_one(
                "SELECT date_trunc('day', coalesce(min(scheduled_at) FILTER (WHERE status = 'booked'),
                                                   max(scheduled_at)), 'UTC') + interval '1 day',
                        date_trunc('month', max(scheduled_at), 'UTC') + interval '1 month'
                   FROM appointment",
                &[],
            )
            .db("finding the calendar's future for the contention benchmark")?;
        let (start, end): (Option<DateTime<Utc>>, Option<DateTime<Utc>>) =
            (span.get(0), span.get(1));
        let (Some(start), Some(end)) = (start, end) else {
            return Err(Error::Dataset(
                "no appointments: the contention benchmark needs a seeded dataset".into(),
            ));
        };
        let rows = client
            .query(
                "SELECT p.id, p.tenant_id
                   FROM provider p
                   LEFT JOIN appointment a
                     ON a.tenant_id = p.tenant_id AND a.provider_id = p.id AND a.status = 'booked'
                  WHERE p.deleted_at IS NULL
                  GROUP BY p.id, p.tenant_id
                  ORDER BY count(a.id) DESC, p.id",
                &[],
            )
            .db("ranking providers for the contention benchmark")?;
        let mut tenants: Vec<Uuid> = Vec::new();
        let mut providers: Vec<Provider> = rows
            .iter()
            .map(|r| {
                let tenant_id: Uuid = r.get(1);
                let tenant = tenants
                    .iter()
                    .position(|t| *t == tenant_id)
                    .unwrap_or_else(|| {
                        tenants.push(tenant_id);
                        tenants.len() - 1
                    });
                Provider {
                    id: r.get(0),
                    tenant_id,
                    tenant,
                    free: Vec::new(),
                }
            })
            .collect();
        let rows = client
            .query(
                "SELECT tenant_id, id FROM (
                     SELECT tenant_id, id, row_number() OVER (PARTITION BY tenant_id ORDER BY md5(id::text)) AS n
                       FROM patient WHERE deleted_at IS NULL) p
                  WHERE n <= 200 ORDER BY tenant_id, n",
                &[],
            )
            .db("choosing patients for the contention benchmark")?;
        let mut patients = vec![Vec::new(); tenants.len()];
        for r in &rows {
            let tenant: Uuid = r.get(0);
            if let Some(i) = tenants.iter().position(|t| *t == tenant) {
                patients[i].push(r.get(1));
            }
        }
        providers.retain(|p| !patients[p.tenant].is_empty());
        if providers.is_empty() {
            return Err(Error::Dataset(
                "no live provider with a live patient: nothing to book".into(),
            ));
        }
        // Every live appointment that could overlap a slot in [start, end).
        let rows = client
            .query(
                "SELECT provider_id, lower(slot), upper(slot) FROM appointment
                  WHERE status <> 'cancelled' AND scheduled_at >= $1::timestamptz - interval '8 hours' AND scheduled_at < $2",
                &[&start, &end],
            )
            .db("reading the booked calendar for the contention benchmark")?;
        let mut taken: Calendar = HashMap::new();
        for r in &rows {
            taken
                .entry(r.get(0))
                .or_default()
                .push((r.get(1), r.get(2)));
        }
        let half_hour = chrono::Duration::minutes(30);
        let shuffle_key = key(0, "contention-free-slots");
        for (rank, p) in providers.iter_mut().enumerate() {
            let busy = taken.entry(p.id).or_default();
            busy.sort();
            let mut free = Vec::new();
            let mut at = start;
            let mut k = 0;
            while at + half_hour <= end {
                // Skip appointments that end before this slot; any left that starts before its end
                // overlaps it.
                while k < busy.len() && busy[k].1 <= at {
                    k += 1;
                }
                let overlaps = busy[k..]
                    .iter()
                    .take_while(|(lo, _)| *lo < at + half_hour)
                    .any(|(_, hi)| *hi > at);
                if !overlaps {
                    free.push(at);
                }
                at += half_hour;
            }
            // Deterministic Fisher-Yates, so bookings spread over the months like real demand.
            let mut rng = Stream::new(&shuffle_key, rank as u64);
            for i in (1..free.len()).rev() {
                let j = usize::try_from(rng.below(i as u64 + 1)).unwrap_or(0);
                free.swap(i, j);
            }
            free.truncate(MAX_FREE);
            p.free = free;
        }
        let race = race_target(&providers, &taken, start, end);
        Ok(Setup {
            zipf: Zipf::new(providers.len() as u64, ZIPF_S),
            providers,
            patients,
            race,
            ids,
            role: role.to_string(),
        })
    }

    /// Live providers the bookings are spread over.
    pub fn providers(&self) -> usize {
        self.providers.len()
    }

    /// The race's month boundary, if one was found.
    pub fn race_boundary(&self) -> Option<DateTime<Utc>> {
        self.race.map(|(_, b)| b)
    }
}

/// The first month boundary in the future part of the calendar where one of the ten hottest
/// providers has the race's window (23:30 to 01:00 around it) free.
fn race_target(
    providers: &[Provider],
    taken: &Calendar,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Option<(usize, DateTime<Utc>)> {
    let mut boundary = Utc
        .with_ymd_and_hms(start.year(), start.month(), 1, 0, 0, 0)
        .single()?;
    loop {
        boundary = next_month(boundary)?;
        let (lo, hi) = (
            boundary - chrono::Duration::minutes(30),
            boundary + chrono::Duration::minutes(60),
        );
        if hi > end {
            return None;
        }
        if lo < start {
            continue;
        }
        for (i, p) in providers.iter().enumerate().take(10) {
            let busy = taken.get(&p.id).map_or(&[][..], Vec::as_slice);
            if !busy.iter().any(|(a, b)| *a < hi && *b > lo) {
                return Some((i, boundary));
            }
        }
    }
}

fn next_month(t: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let (y, m) = if t.month() == 12 {
        (t.year() + 1, 1)
    } else {
        (t.year(), t.month() + 1)
    };
    Utc.with_ymd_and_hms(y, m, 1, 0, 0, 0).single()
}

/// The free slots handed out so far, per provider: shared by every level of one strategy's sweep,
/// so no two fresh bookings of the sweep ever take the same slot. Start a new pool after
/// [`cleanup`].
pub struct Pool<'s> {
    setup: &'s Setup,
    next: Vec<AtomicUsize>,
}

impl<'s> Pool<'s> {
    /// A pool with every free slot of `setup` available.
    pub fn new(setup: &'s Setup) -> Pool<'s> {
        Pool {
            setup,
            next: setup
                .providers
                .iter()
                .map(|_| AtomicUsize::new(0))
                .collect(),
        }
    }

    /// The next free slot of the provider at `rank`, or of the next one down when it has none left;
    /// `None` when every slot is taken.
    fn fresh(&self, rank: usize) -> Option<(usize, DateTime<Utc>)> {
        let n = self.setup.providers.len();
        (0..n).map(|k| (rank + k) % n).find_map(|r| {
            let i = self.next[r].fetch_add(1, Ordering::Relaxed);
            self.setup.providers[r].free.get(i).map(|at| (r, *at))
        })
    }
}

/// When a run stops.
#[derive(Debug, Clone, Copy)]
pub enum Stop {
    /// After this much time.
    After(Duration),
    /// After this many attempts over all clients.
    Count(usize),
}

/// One booking to attempt.
struct Booking {
    id: Uuid,
    tenant_id: Uuid,
    provider_id: Uuid,
    patient_id: Uuid,
    at: DateTime<Utc>,
    minutes: i16,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Booked,
    Taken,
    Deadlock,
    Other,
}

struct Attempt {
    end: Instant,
    latency: Duration,
    outcome: Outcome,
}

/// A client connection set up as the application's: the role, the actor, the booking statement.
struct AppClient {
    client: crate::db::Conn,
    insert: Statement,
}

impl AppClient {
    fn connect(session: &Session, role: &str) -> Result<AppClient> {
        let mut client = session.connect()?;
        client
            .batch_execute(&format!(
                "SET ROLE {}; SET application_name = 'qcheck contention'; SET app.actor = '{REASON}'",
                crate::schema::quote_ident(role)
            ))
            .db(format!("connecting a contention client as {role}"))?;
        let insert = client.prepare(INSERT).db("preparing the booking")?;
        Ok(AppClient { client, insert })
    }

    /// One booking transaction; the outcome and its message when it failed otherwise.
    fn book(&mut self, b: &Booking) -> (Outcome, Option<String>) {
        let result = (|| {
            let mut tx = self.client.transaction()?;
            // A uuid's text is hex and dashes: safe as a literal.
            tx.batch_execute(&format!("SET LOCAL app.tenant_id = '{}'", b.tenant_id))?;
            tx.execute(
                &self.insert,
                &[
                    &b.id,
                    &b.tenant_id,
                    &b.provider_id,
                    &b.patient_id,
                    &b.at,
                    &b.minutes,
                ],
            )?;
            tx.commit()
        })();
        match result {
            Ok(()) => (Outcome::Booked, None),
            Err(e) => match e.code() {
                Some(c) if *c == SqlState::EXCLUSION_VIOLATION => (Outcome::Taken, None),
                Some(c) if *c == SqlState::T_R_DEADLOCK_DETECTED => (Outcome::Deadlock, None),
                _ => (Outcome::Other, Some(crate::error::db_message(&e))),
            },
        }
    }
}

fn booking(
    setup: &Setup,
    rng: &mut Stream,
    rank: usize,
    at: DateTime<Utc>,
    minutes: i16,
) -> Booking {
    let p = &setup.providers[rank];
    let patients = &setup.patients[p.tenant];
    let patient = patients[usize::try_from(rng.below(patients.len() as u64)).unwrap_or(0)];
    Booking {
        id: super::writes::mint_id(setup.ids, rng, std::time::SystemTime::now()),
        tenant_id: p.tenant_id,
        provider_id: p.id,
        patient_id: patient,
        at,
        minutes,
    }
}

/// Counts of outcomes, with the first unexpected error.
#[derive(Default)]
struct Tally {
    booked: usize,
    taken: usize,
    deadlocks: usize,
    other: usize,
    example: Option<String>,
}

impl Tally {
    fn add(&mut self, outcome: Outcome, message: Option<String>) {
        match outcome {
            Outcome::Booked => self.booked += 1,
            Outcome::Taken => self.taken += 1,
            Outcome::Deadlock => self.deadlocks += 1,
            Outcome::Other => {
                self.other += 1;
                if self.example.is_none() {
                    self.example = message;
                }
            }
        }
    }
}

/// The slots handed out last, for colliding bookings.
type Recent = Mutex<VecDeque<(usize, DateTime<Utc>)>>;

/// The provider and start of the next booking: with probability `collision_share` one of the
/// `recent` slots shifted by -15, 0 or +15 minutes, else a fresh slot of a Zipf-drawn provider
/// (remembered in `recent`). `None` when the pool has no free slot left.
fn next_slot(
    pool: &Pool<'_>,
    recent: &Recent,
    rng: &mut Stream,
    collision_share: f64,
) -> Option<(usize, DateTime<Utc>)> {
    let mut recent = recent
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if collision_share > 0.0 && rng.chance(collision_share) && !recent.is_empty() {
        let (rank, at) = recent[usize::try_from(rng.below(recent.len() as u64)).unwrap_or(0)];
        let shift = [-15, 0, 15][usize::try_from(rng.below(3)).unwrap_or(1)];
        return Some((rank, at + chrono::Duration::minutes(shift)));
    }
    #[allow(
        clippy::cast_possible_truncation,
        reason = "a rank below the provider count"
    )]
    let rank = pool.setup.zipf.sample(rng.f64()) as usize;
    let (rank, at) = pool.fresh(rank)?;
    recent.push_back((rank, at));
    if recent.len() > RECENT {
        recent.pop_front();
    }
    Some((rank, at))
}

/// One level of the sweep: `clients` connections book from `pool` until `stop`; `collision_share`
/// of the bookings aim at a slot just handed out. `seed` makes the draws of one run repeatable.
/// Returns the figures and whether the pool ran out of free slots before the stop.
pub fn run_level(
    session: &Session,
    pool: &Pool<'_>,
    clients: usize,
    collision_share: f64,
    stop: Stop,
    seed: u64,
) -> Result<(ContentionLevel, bool)> {
    let clients = clients.max(1);
    let setup = pool.setup;
    let recent: Recent = Mutex::new(VecDeque::new());
    let claimed = AtomicUsize::new(0);
    let exhausted = AtomicUsize::new(0);
    let barrier = Barrier::new(clients + 1);
    let rng_key = key(seed, "contention");
    let (start, results) = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..clients)
            .map(|c| {
                let (recent, claimed, exhausted, barrier, rng_key) =
                    (&recent, &claimed, &exhausted, &barrier, &rng_key);
                scope.spawn(move || -> Result<(Vec<Attempt>, Tally)> {
                    let connected = AppClient::connect(session, &setup.role);
                    barrier.wait();
                    let mut app = connected?;
                    let mut rng = Stream::new(rng_key, c as u64);
                    let deadline = match stop {
                        Stop::After(d) => Some(Instant::now() + d),
                        Stop::Count(_) => None,
                    };
                    let (mut attempts, mut tally) = (Vec::new(), Tally::default());
                    loop {
                        match stop {
                            Stop::After(_) if deadline.is_some_and(|d| Instant::now() >= d) => {
                                break;
                            }
                            Stop::Count(n) if claimed.fetch_add(1, Ordering::Relaxed) >= n => break,
                            _ => {}
                        }
                        let Some((rank, at)) = next_slot(pool, recent, &mut rng, collision_share)
                        else {
                            exhausted.fetch_add(1, Ordering::Relaxed);
                            break;
                        };
                        let b = booking(setup, &mut rng, rank, at, 30);
                        let began = Instant::now();
                        let (outcome, message) = app.book(&b);
                        let end = Instant::now();
                        tally.add(outcome, message);
                        attempts.push(Attempt {
                            end,
                            latency: end - began,
                            outcome,
                        });
                    }
                    Ok((attempts, tally))
                })
            })
            .collect();
        barrier.wait();
        let start = Instant::now();
        let results: Vec<Result<(Vec<Attempt>, Tally)>> = handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(Error::Dataset("a contention client panicked".into())))
            })
            .collect();
        (start, results)
    });
    let mut attempts = Vec::new();
    let mut tally = Tally::default();
    for r in results {
        let (a, t) = r?;
        attempts.extend(a);
        tally.booked += t.booked;
        tally.taken += t.taken;
        tally.deadlocks += t.deadlocks;
        tally.other += t.other;
        if tally.example.is_none() {
            tally.example = t.example;
        }
    }
    let last = attempts.iter().map(|a| a.end).max().unwrap_or(start);
    let seconds = (last - start).as_secs_f64();
    let answered: Vec<f64> = attempts
        .iter()
        .filter(|a| matches!(a.outcome, Outcome::Booked | Outcome::Taken))
        .map(|a| (a.end - start).as_secs_f64())
        .collect();
    let window = seconds / WINDOWS as f64;
    let per_window = if window > 0.0 {
        (0..WINDOWS)
            .map(|w| {
                let (lo, hi) = (w as f64 * window, (w + 1) as f64 * window);
                let n = answered
                    .iter()
                    .filter(|t| **t >= lo && (**t < hi || (w + 1 == WINDOWS && **t <= hi)))
                    .count();
                n as f64 / window
            })
            .collect()
    } else {
        Vec::new()
    };
    let latencies: Vec<Duration> = attempts.iter().map(|a| a.latency).collect();
    let level = ContentionLevel {
        clients,
        collisions: collision_share > 0.0,
        seconds,
        attempts: attempts.len(),
        booked: tally.booked,
        exclusion_violations: tally.taken,
        deadlocks: tally.deadlocks,
        other_errors: tally.other,
        other_example: tally.example,
        per_sec: if seconds > 0.0 {
            answered.len() as f64 / seconds
        } else {
            0.0
        },
        per_sec_spread: Spread::of(per_window),
        latency: Latency::from_samples(&latencies),
    };
    Ok((level, exhausted.load(Ordering::Relaxed) > 0))
}

/// One round of the race: `clients` connections released at once on the five shapes. `Ok(None)`
/// when the setup found no boundary to race on. Leaves the winner committed: run [`cleanup`].
pub fn race(
    session: &Session,
    setup: &Setup,
    clients: usize,
    seed: u64,
) -> Result<Option<RaceRound>> {
    let Some((rank, boundary)) = setup.race else {
        return Ok(None);
    };
    let barrier = Barrier::new(clients);
    let rng_key = key(seed, "race");
    let results: Vec<RaceResult> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..clients)
            .map(|c| {
                let (barrier, rng_key) = (&barrier, &rng_key);
                scope.spawn(move || {
                    let connected = AppClient::connect(session, &setup.role);
                    let mut rng = Stream::new(rng_key, c as u64);
                    let (offset, minutes) = RACE_SHAPES[c % RACE_SHAPES.len()];
                    let b = booking(
                        setup,
                        &mut rng,
                        rank,
                        boundary + chrono::Duration::minutes(offset),
                        minutes,
                    );
                    barrier.wait();
                    let mut app = connected?;
                    let began = Instant::now();
                    let (outcome, message) = app.book(&b);
                    Ok((began, Instant::now(), outcome, message))
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(Error::Dataset("a race client panicked".into())))
            })
            .collect()
    });
    let mut tally = Tally::default();
    let (mut first, mut last): (Option<Instant>, Option<Instant>) = (None, None);
    for r in results {
        let (began, end, outcome, message) = r?;
        first = Some(first.map_or(began, |f| f.min(began)));
        last = Some(last.map_or(end, |l| l.max(end)));
        tally.add(outcome, message);
    }
    let settle_ms = match (first, last) {
        (Some(f), Some(l)) => (l - f).as_secs_f64() * 1e3,
        _ => 0.0,
    };
    Ok(Some(RaceRound {
        settle_ms,
        booked: tally.booked,
        exclusion_violations: tally.taken,
        deadlocks: tally.deadlocks,
        other_errors: tally.other,
        other_example: tally.example,
    }))
}

/// The race's slot shapes as text: `23:30+60`, ...
pub fn race_shapes() -> Vec<String> {
    RACE_SHAPES
        .iter()
        .map(|(offset, minutes)| {
            let m = (24 * 60 + offset) % (24 * 60);
            format!("{:02}:{:02}+{minutes}", m / 60, m % 60)
        })
        .collect()
}

/// Deletes every probe booking with its boundary mirror and audit rows, then vacuums the touched
/// tables. Returns how many appointments it removed.
pub fn cleanup(client: &mut Client) -> Result<usize> {
    crate::db::unbounded(client, |client| {
        let mut tx = client.transaction().db("starting the contention cleanup")?;
        // Skips the triggers (the audit trail's append-only rule among them) in this transaction only.
        tx.batch_execute("SET LOCAL session_replication_role = replica")
            .db("contention cleanup: session_replication_role")?;
        let ids: Vec<Uuid> = tx
            .query(
                "DELETE FROM appointment WHERE reason = $1 RETURNING id",
                &[&REASON],
            )
            .db("removing the contention bookings")?
            .iter()
            .map(|r| r.get(0))
            .collect();
        if !ids.is_empty() {
            tx.execute(
                "DELETE FROM appointment_boundary_slot WHERE appointment_id = ANY($1)",
                &[&ids],
            )
            .db("removing the contention bookings' boundary mirrors")?;
            tx.execute(
                "DELETE FROM appointment_audit WHERE appointment_id = ANY($1)",
                &[&ids],
            )
            .db("removing the contention bookings' audit rows")?;
        }
        tx.commit().db("committing the contention cleanup")?;
        if !ids.is_empty() {
            client
                .batch_execute("VACUUM appointment, appointment_audit, appointment_boundary_slot")
                .db("vacuuming after the contention benchmark")?;
        }
        Ok(ids.len())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn race_shapes_read_as_clock_times() {
        assert_eq!(
            race_shapes(),
            ["23:30+60", "23:45+30", "23:55+10", "00:00+15", "00:00+60"]
        );
        // Every pair of shapes overlaps.
        for (a, am) in RACE_SHAPES {
            for (b, bm) in RACE_SHAPES {
                assert!(a < b + i64::from(bm) && b < a + i64::from(am), "{a} {b}");
            }
        }
    }

    #[test]
    fn months_roll_over() {
        let dec = Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap();
        assert_eq!(
            next_month(dec),
            Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).single()
        );
    }
}
