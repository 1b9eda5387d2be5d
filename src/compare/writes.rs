//! The write cost of an index strategy: what every booking and cancellation pays for the indexes.
//!
//! Method (the same for every strategy, so the differences are the indexes'):
//! - Before the first strategy, [`WritePlan::find`] picks the bookings, deterministically: candidate
//!   30-minute slots (live provider, a day inside the dataset's booked range, 08:00-18:00 UTC) derived
//!   from md5 of a counter, kept only when no live appointment of the provider overlaps (an anti-join
//!   against the data, so no exclusion violation can happen), each with a live patient of the
//!   provider's tenant; and the cancellations: booked appointments ordered by md5 of their id.
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
use crate::error::{DbContext, Result};

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

/// The writes every strategy replays.
#[derive(Debug, Clone, Default)]
pub struct WritePlan {
    /// New appointments to insert.
    pub bookings: Vec<Booking>,
    /// (id, scheduled_at): the primary key of a booked appointment.
    pub cancellations: Vec<(Uuid, DateTime<Utc>)>,
}

const BOOKING_MINUTES: i16 = 30;

/// Free 30-minute slots; `$1` = how many. Candidates are four times as many as needed so that the
/// anti-join leaves enough; DISTINCT ON drops a candidate drawn twice.
const FREE_SLOTS: &str = "
WITH prov AS (
    SELECT id, tenant_id, (row_number() OVER (ORDER BY id) - 1)::int AS k, count(*) OVER ()::int AS n
      FROM provider WHERE deleted_at IS NULL),
span AS (
    SELECT date_trunc('day', min(scheduled_at), 'UTC') AS first_day,
           greatest(1, (extract(epoch FROM max(scheduled_at) - min(scheduled_at)) / 86400)::int - 1) AS days
      FROM appointment WHERE status = 'booked'),
draw AS (
    SELECT g.i, md5('qcheck-booking-' || g.i) AS h FROM generate_series(1, $1::int * 4) AS g(i)),
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
SELECT md5('qcheck-booking-id-' || c.i)::uuid, c.tenant_id, c.provider_id, pat.id, c.start_at
  FROM cand c
  CROSS JOIN LATERAL (
      SELECT id FROM patient
       WHERE tenant_id = c.tenant_id AND deleted_at IS NULL
       ORDER BY id OFFSET c.i % 50 LIMIT 1) pat
 WHERE NOT EXISTS (
      SELECT 1 FROM appointment a
       WHERE a.provider_id = c.provider_id
         AND a.status <> 'cancelled'
         AND a.slot && appointment_slot(c.start_at, 30)
         AND a.scheduled_at > c.start_at - interval '8 hours'
         AND a.scheduled_at < c.start_at + interval '30 minutes')
 ORDER BY c.i
 LIMIT $1";

const CANCELLABLE: &str = "
SELECT id, scheduled_at FROM appointment WHERE status = 'booked' ORDER BY md5(id::text) LIMIT $1";

const INSERT: &str = "
INSERT INTO appointment (id, tenant_id, provider_id, patient_id, scheduled_at, duration_min, status, reason, booked_via)
VALUES ($1, $2, $3, $4, $5, $6, 'booked', 'qcheck write-cost probe', 'portal')";

// greatest(): the generated rows' created_at may lie after the wall clock (the dataset's "now" is
// the profile's as_of), and cancelled_at must not precede created_at.
const CANCEL: &str = "
UPDATE appointment SET status = 'cancelled', cancelled_at = greatest(now(), created_at)
 WHERE id = $1 AND scheduled_at = $2 AND status = 'booked'";

/// Tables the writes touch: vacuumed after each strategy.
const TOUCHED: &str = "appointment, appointment_audit, appointment_boundary_slot";

impl WritePlan {
    /// Picks `bookings` free slots and `cancellations` booked appointments from the data.
    pub fn find(client: &mut Client, bookings: usize, cancellations: usize) -> Result<WritePlan> {
        let slots = client
            .query(FREE_SLOTS, &[&i32::try_from(bookings).unwrap_or(i32::MAX)])
            .db("finding free slots for the booking probe")?;
        let bookings = slots
            .iter()
            .map(|r| Booking {
                id: r.get(0),
                tenant_id: r.get(1),
                provider_id: r.get(2),
                patient_id: r.get(3),
                scheduled_at: r.get(4),
            })
            .collect();
        let rows = client
            .query(
                CANCELLABLE,
                &[&i64::try_from(cancellations).unwrap_or(i64::MAX)],
            )
            .db("choosing appointments for the cancellation probe")?;
        let cancellations = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
        Ok(WritePlan {
            bookings,
            cancellations,
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
        let bookings = batch(client, checkpoint, "bookings", INSERT, |client, stmt| {
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
        let cancellations = batch(
            client,
            checkpoint,
            "cancellations",
            CANCEL,
            |client, stmt| {
                let mut samples = Vec::with_capacity(self.cancellations.len());
                for (id, at) in &self.cancellations {
                    let start = Instant::now();
                    client
                        .execute(stmt, &[id, at])
                        .db(format!("cancelling appointment {id}"))?;
                    samples.push(start.elapsed());
                }
                Ok(samples)
            },
        )?;
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
    checkpoint: bool,
    what: &str,
    sql: &str,
    run: impl FnOnce(&mut postgres::Transaction<'_>, &postgres::Statement) -> Result<Vec<Duration>>,
) -> Result<WriteBatch> {
    if checkpoint {
        crate::db::unbounded(client, |client| {
            client
                .batch_execute("CHECKPOINT")
                .db(format!("CHECKPOINT before the {what}"))
        })?;
    }
    let mut tx = client.transaction().db(format!("starting the {what}"))?;
    let stmt = tx.prepare(sql).db(format!("preparing the {what}"))?;
    let before = wal_lsn(&mut tx)?;
    let samples = run(&mut tx, &stmt)?;
    let after = wal_lsn(&mut tx)?;
    tx.rollback().db(format!("rolling back the {what}"))?;
    Ok(WriteBatch::new(&samples, after.saturating_sub(before)))
}

fn wal_lsn(tx: &mut postgres::Transaction<'_>) -> Result<u64> {
    let text: String = tx
        .query_one("SELECT pg_current_wal_insert_lsn()::text", &[])
        .db("reading the WAL position")?
        .get(0);
    parse_lsn(&text).ok_or_else(|| crate::Error::Unexpected {
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
