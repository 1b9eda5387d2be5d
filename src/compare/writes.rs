//! The write cost of an index strategy: what every booking and cancellation pays for the indexes.
//!
//! Method (the same for every strategy, so the differences are the indexes'):
//! - Before the first strategy, [`WritePlan::find`] picks the bookings, deterministically: candidate
//!   30-minute slots (live provider, a day inside the dataset's booked range, 08:00-18:00 UTC) derived
//!   from md5 of a counter, kept only when no live appointment of the provider overlaps (an anti-join
//!   against the data, so no exclusion violation can happen), each with a live patient of the
//!   provider's tenant and an id minted as the application mints it (the dataset's id scheme, v7
//!   time-ordered by default: see [`mint_id`]); and the cancellations: booked appointments ordered
//!   by md5 of their id.
//! - Per strategy, first a warm-up: the same writes, unmeasured, rolled back, then VACUUM, so that
//!   every strategy is measured with the pages its writes touch in shared buffers (else the first
//!   strategy measured pays for reading them).
//! - Then one measured pass per round (`--rounds`; the median pass is reported, every pass's rate and
//!   WAL per write are kept as the spread), each: for
//!   bookings and then cancellations, `CHECKPOINT` (so every batch starts with the
//!   same full-page-image debt: the first change of each page after a checkpoint logs the whole page),
//!   `BEGIN`, note `pg_current_wal_insert_lsn()`, run the statements one round trip each through a
//!   prepared statement (the normal path: the audit and boundary triggers, the exclusion and foreign
//!   key constraints, every index), note the LSN again, `ROLLBACK`.
//! - After every pass, `VACUUM` the touched tables: the rolled-back rows are dead, and until vacuum clears them
//!   (and sets the visibility map again) the next strategy's index-only scans would fetch heap pages.
//!
//! The writes run as the connecting role (the table owner: row-level security does not apply, its
//! cost is the same for every strategy) in one transaction per batch, so per-transaction commit
//! cost, which no index changes, is not part of the figure.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use postgres::Client;
use uuid::Uuid;

use super::model::{WriteBatch, WriteCost};
use crate::dataset::IdKind;
use crate::error::{DbContext, Result};
use crate::generate::rng::{Stream, key};

/// One booking to insert.
#[derive(Debug, Clone)]
pub struct Booking {
    /// The new appointment's uuid.
    pub id: Uuid,
    /// Tenant of the provider and the patient.
    pub tenant_id: Uuid,
    /// The provider whose free slot is booked.
    pub provider_id: Uuid,
    /// A patient of the same tenant.
    pub patient_id: Uuid,
    /// Start of the free slot.
    pub scheduled_at: DateTime<Utc>,
}

/// A new appointment's id as the application mints it under the dataset's id scheme (the profile's
/// `[ids] appointment`, which the generator follows): a random version-4 uuid, or a version-7 one
/// carrying `at` (the insert time, as PostgreSQL 18's `uuidv7()` stamps it), so new ids land at the
/// right edge of the primary key's B-tree as the application's do. The probe's measure of index
/// maintenance depends on it: random ids split pages all over the key, time-ordered ones append.
pub fn mint_id(ids: IdKind, rng: &mut Stream, at: std::time::SystemTime) -> Uuid {
    let bytes = match ids {
        IdKind::V4 => rng.uuid(),
        IdKind::V7 => {
            let ms = at
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
            rng.uuid_v7(ms)
        }
    };
    uuid::Builder::from_bytes(bytes).into_uuid()
}

/// The writes every strategy replays.
#[derive(Debug, Clone, Default)]
pub struct WritePlan {
    /// New appointments to insert.
    pub bookings: Vec<Booking>,
    /// (tenant_id, id, scheduled_at): a booked appointment, by its tenant and primary key.
    pub cancellations: Vec<(Uuid, Uuid, DateTime<Utc>)>,
    /// The database is a Citus coordinator: WAL is summed over it and every worker (the shards'
    /// writes log there), and CHECKPOINT runs on every node.
    pub citus: bool,
}

const BOOKING_MINUTES: i16 = 30;

/// Candidate 30-minute slots, `$1` of them in draw order: a live provider and a start derived from md5
/// of a counter, inside the dataset's booked range, 08:00-18:00 UTC; DISTINCT ON drops a candidate
/// drawn twice. [`WritePlan::find`] keeps those whose provider has no live appointment overlapping
/// them and pairs each with a patient, one tenant-scoped statement each ([`OVERLAP`], [`PATIENT`]):
/// correlated subqueries over a list of candidates are what Citus cannot push down to the shards,
/// and statements that name their tenant are routed to one shard there.
const CANDIDATES: &str = "
WITH prov AS (
    SELECT id, tenant_id, (row_number() OVER (ORDER BY id) - 1)::int AS k, count(*) OVER ()::int AS n
      FROM provider WHERE deleted_at IS NULL),
span AS (
    SELECT date_trunc('day', min(scheduled_at), 'UTC') AS first_day,
           greatest(1, (extract(epoch FROM max(scheduled_at) - min(scheduled_at)) / 86400)::int - 1) AS days
      FROM appointment WHERE status = 'booked'),
draw AS (
    SELECT g.i, md5('qcheck-booking-' || g.i) AS h FROM generate_series(1, $1::int) AS g(i)),
cand AS (
    SELECT DISTINCT ON (p.id, s.start_at) d.i, p.id AS provider_id, p.tenant_id, s.start_at
      FROM draw d
      CROSS JOIN span
      JOIN prov p ON p.k = ('x' || substr(d.h, 1, 7))::bit(28)::int % p.n
      CROSS JOIN LATERAL (
          SELECT span.first_day + ((1 + ('x' || substr(d.h, 8, 7))::bit(28)::int % span.days) * 86400
                                   + 28800 + (('x' || substr(d.h, 15, 7))::bit(28)::int % 20) * 1800)
                                  * interval '1 second' AS start_at) s
     ORDER BY p.id, s.start_at, d.i)
SELECT i, tenant_id, provider_id, start_at FROM cand ORDER BY i";

/// Whether a live appointment of the provider (`$1` tenant, `$2` provider) overlaps the 30-minute slot
/// at `$3` (appointments last at most 8 hours).
const OVERLAP: &str = "
SELECT EXISTS (
    SELECT 1 FROM appointment a
     WHERE a.tenant_id = $1 AND a.provider_id = $2
       AND a.status <> 'cancelled'
       AND a.slot && appointment_slot($3, 30)
       AND a.scheduled_at > $3 - interval '8 hours'
       AND a.scheduled_at < $3 + interval '30 minutes')";

/// The candidate's patient: a live patient of the tenant (`$1`), the `$2`-th by id.
const PATIENT: &str = "
SELECT id FROM patient WHERE tenant_id = $1 AND deleted_at IS NULL ORDER BY id OFFSET $2 LIMIT 1";

const CANCELLABLE: &str = "
SELECT tenant_id, id, scheduled_at FROM appointment WHERE status = 'booked' ORDER BY md5(id::text) LIMIT $1";

const INSERT: &str = "
INSERT INTO appointment (id, tenant_id, provider_id, patient_id, scheduled_at, duration_min, status, reason, booked_via)
VALUES ($1, $2, $3, $4, $5, $6, 'booked', 'qcheck write-cost probe', 'portal')";

// greatest(): the generated rows' created_at may lie after the wall clock (the dataset's "now" is
// the profile's as_of), and cancelled_at must not precede created_at. The tenant is named as the
// application names it (on Citus it routes the statement to one shard).
const CANCEL: &str = "
UPDATE appointment SET status = 'cancelled', cancelled_at = greatest(now(), created_at)
 WHERE tenant_id = $1 AND id = $2 AND scheduled_at = $3 AND status = 'booked'";

/// Tables the writes touch: vacuumed after each strategy.
const TOUCHED: &str = "appointment, appointment_audit, appointment_boundary_slot";

impl WritePlan {
    /// Picks `bookings` free slots and `cancellations` booked appointments from the data; the
    /// bookings' ids follow the dataset's scheme `ids` ([`mint_id`]), version-7 ones one
    /// millisecond apart from now, as an application booking them in turn would mint them.
    pub fn find(
        client: &mut Client,
        bookings: usize,
        cancellations: usize,
        ids: IdKind,
    ) -> Result<WritePlan> {
        // Four candidates per booking wanted: the overlap check leaves enough.
        let wanted = i32::try_from(bookings.saturating_mul(4)).unwrap_or(i32::MAX);
        let candidates = client
            .query(CANDIDATES, &[&wanted])
            .db("finding free slots for the booking probe")?;
        let overlap = client
            .prepare(OVERLAP)
            .db("finding free slots for the booking probe")?;
        let patient = client
            .prepare(PATIENT)
            .db("finding patients for the booking probe")?;
        let mut rng = Stream::new(&key(0, "write-probe-ids"), 0);
        let now = std::time::SystemTime::now();
        let mut found = Vec::with_capacity(bookings);
        for c in &candidates {
            if found.len() >= bookings {
                break;
            }
            let (i, tenant_id, provider_id, scheduled_at): (i32, Uuid, Uuid, DateTime<Utc>) =
                (c.get(0), c.get(1), c.get(2), c.get(3));
            let taken: bool = client
                .query_one(&overlap, &[&tenant_id, &provider_id, &scheduled_at])
                .db("finding free slots for the booking probe")?
                .get(0);
            if taken {
                continue;
            }
            let Some(p) = client
                .query_opt(&patient, &[&tenant_id, &i64::from(i % 50)])
                .db("finding patients for the booking probe")?
            else {
                continue;
            };
            found.push(Booking {
                id: mint_id(
                    ids,
                    &mut rng,
                    now + Duration::from_millis(found.len() as u64),
                ),
                tenant_id,
                provider_id,
                patient_id: p.get(0),
                scheduled_at,
            });
        }
        let bookings = found;
        let rows = client
            .query(
                CANCELLABLE,
                &[&i64::try_from(cancellations).unwrap_or(i64::MAX)],
            )
            .db("choosing appointments for the cancellation probe")?;
        let cancellations = rows
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect();
        Ok(WritePlan {
            bookings,
            cancellations,
            citus: false,
        })
    }

    /// Runs the bookings and the cancellations `passes` times, each in a rolled-back transaction,
    /// then vacuums. `checkpoint` is false when the role may not run CHECKPOINT (the figures then
    /// carry whatever full-page images the server's own checkpoint cycle implies).
    pub fn measure(
        &self,
        client: &mut Client,
        checkpoint: bool,
        passes: usize,
    ) -> Result<WriteCost> {
        // Warm-up: the same writes once, unmeasured, then VACUUM. Every strategy is then measured
        // with the pages its writes touch already in shared buffers; otherwise the first strategy
        // measured pays for reading them and looks slower than it is.
        self.run_batches(client, false)?;
        Self::vacuum(client)?;
        // Then the measured passes, each vacuumed away again. The median pass of each kind is
        // reported (a best-of-n would rank noise), with every pass as the spread.
        let (mut bookings, mut cancellations) = (Vec::new(), Vec::new());
        for _ in 0..passes.max(1) {
            let pass = self.run_batches(client, checkpoint)?;
            Self::vacuum(client)?;
            bookings.push(pass.bookings);
            cancellations.push(pass.cancellations);
        }
        Ok(WriteCost {
            bookings: WriteBatch::median_of(bookings),
            cancellations: WriteBatch::median_of(cancellations),
        })
    }

    fn vacuum(client: &mut Client) -> Result<()> {
        crate::db::unbounded(client, |client| {
            client
                .batch_execute(&format!("VACUUM {TOUCHED}"))
                .db("vacuuming after the write probe")
        })
    }

    fn run_batches(&self, client: &mut Client, checkpoint: bool) -> Result<WriteCost> {
        let nodes = (checkpoint, self.citus);
        let bookings = batch(client, nodes, "bookings", INSERT, |client, stmt| {
            let mut samples = Vec::with_capacity(self.bookings.len());
            for b in &self.bookings {
                let start = Instant::now();
                client
                    .execute(
                        stmt,
                        &[
                            &b.id,
                            &b.tenant_id,
                            &b.provider_id,
                            &b.patient_id,
                            &b.scheduled_at,
                            &BOOKING_MINUTES,
                        ],
                    )
                    .db(format!(
                        "booking provider {} at {}",
                        b.provider_id, b.scheduled_at
                    ))?;
                samples.push(start.elapsed());
            }
            Ok(samples)
        })?;
        let cancellations = batch(client, nodes, "cancellations", CANCEL, |client, stmt| {
            let mut samples = Vec::with_capacity(self.cancellations.len());
            for (tenant, id, at) in &self.cancellations {
                let start = Instant::now();
                client
                    .execute(stmt, &[tenant, id, at])
                    .db(format!("cancelling appointment {id}"))?;
                samples.push(start.elapsed());
            }
            Ok(samples)
        })?;
        Ok(WriteCost {
            bookings,
            cancellations,
        })
    }
}

/// Whether this role may run CHECKPOINT (superuser, or pg_checkpoint on PostgreSQL 15+).
pub fn can_checkpoint(client: &mut Client) -> bool {
    crate::db::unbounded(client, |client| {
        Ok(client.batch_execute("CHECKPOINT").is_ok())
    })
    .unwrap_or(false)
}

fn batch(
    client: &mut Client,
    (checkpoint, citus): (bool, bool),
    what: &str,
    sql: &str,
    run: impl FnOnce(&mut postgres::Transaction<'_>, &postgres::Statement) -> Result<Vec<Duration>>,
) -> Result<WriteBatch> {
    if checkpoint {
        crate::db::unbounded(client, |client| {
            client
                .batch_execute(if citus {
                    "CHECKPOINT; SELECT run_command_on_workers('CHECKPOINT')"
                } else {
                    "CHECKPOINT"
                })
                .db(format!("CHECKPOINT before the {what}"))
        })?;
    }
    let mut tx = client.transaction().db(format!("starting the {what}"))?;
    let stmt = tx.prepare(sql).db(format!("preparing the {what}"))?;
    let before = wal_lsn(&mut tx, citus)?;
    let samples = run(&mut tx, &stmt)?;
    let after = wal_lsn(&mut tx, citus)?;
    tx.rollback().db(format!("rolling back the {what}"))?;
    Ok(WriteBatch::new(&samples, after.saturating_sub(before)))
}

/// The WAL insert position, bytes; on Citus the sum over the coordinator and every worker (a
/// difference of two sums is the WAL the whole cluster wrote in between).
fn wal_lsn(tx: &mut postgres::Transaction<'_>, citus: bool) -> Result<u64> {
    let sql = if citus {
        "SELECT concat_ws(',', pg_current_wal_insert_lsn()::text,
                          (SELECT string_agg(result, ',') FROM run_command_on_workers(
                               'SELECT pg_current_wal_insert_lsn()') WHERE success))"
    } else {
        "SELECT pg_current_wal_insert_lsn()::text"
    };
    let text: String = tx
        .query_one(sql, &[])
        .db("reading the WAL position")?
        .get(0);
    text.split(',')
        .map(parse_lsn)
        .sum::<Option<u64>>()
        .ok_or_else(|| crate::Error::Unexpected {
            what: "WAL position",
            found: text.clone(),
        })
}

/// `16/B374D848` -> byte position.
pub fn parse_lsn(text: &str) -> Option<u64> {
    let (hi, lo) = text.trim().split_once('/')?;
    Some((u64::from_str_radix(hi, 16).ok()? << 32) | u64::from_str_radix(lo, 16).ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lsns_parse_as_byte_positions() {
        assert_eq!(parse_lsn("0/0"), Some(0));
        assert_eq!(parse_lsn("16/B374D848"), Some((0x16 << 32) | 0xB374_D848));
        assert_eq!(parse_lsn("nope"), None);
    }
}
