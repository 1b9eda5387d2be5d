//! The load: reset the dataset tables, create the month partitions, and COPY the generated rows in,
//! each connection fed by a producer thread of its own.
//!
//! Decisions, each measured or forced by PostgreSQL:
//! - Two connections load the month partitions in parallel. The server, not the generator, is the
//!   bottleneck: per appointment it computes the stored `slot` (a call of the SQL function
//!   `appointment_slot`, which cannot be inlined) and inserts into the primary key's btree at a random
//!   place (v4 uuids), ~8 us per row against ~0.4 us to generate and encode it. So both cores ingest,
//!   and the generator runs in the gaps.
//! - `qcheck_meta` is dropped before anything is touched and written after everything is done, so a
//!   seed killed at any point (the server rolls back the open transactions when the client goes away)
//!   can never pass for a complete one; the next seed starts from scratch.
//! - First transaction: drop the strategy's indexes and the old partitions, truncate the tables,
//!   create the new partitions (without their exclusion constraints, which are built after the load,
//!   in parallel) and load tenants, providers and patients. Then one transaction per connection loads
//!   its share of the partitions, each leaf truncated and loaded in that transaction with
//!   `COPY ... FREEZE` (refused on a partitioned parent, accepted on a leaf created or truncated in
//!   the same transaction). Frozen rows need no hint-bit writes later and the visibility map is set
//!   during the COPY, so the VACUUM that follows has almost nothing to do.
//! - Triggers must not fire row by row: the audit trigger would write a million audit rows and the
//!   boundary trigger a million lookups. As superuser (the embedded cluster), the load runs with
//!   `session_replication_role = replica`, which silences user triggers and the foreign-key triggers;
//!   the generator guarantees the references by construction (the tests verify them with anti-joins).
//!   Without superuser, the user triggers of each leaf are disabled and re-enabled inside the
//!   transaction that loads it (nobody else ever sees them disabled) and foreign keys are checked.
//! - The month leaves are loaded *detached* from `appointment` (on a single server; a Citus
//!   coordinator loads them attached, as before). Silenced is not enough: PostgreSQL's COPY inserts
//!   row by row instead of in batches (`heap_multi_insert`) into any table that has a BEFORE ROW
//!   INSERT trigger, enabled or not, fired or not — and migration 0003's booking guard is one, cloned
//!   onto every leaf. Measured on PostgreSQL 15, 1M rows into a table without indexes: 1.7 s and
//!   65 MB of WAL without the trigger, 2.5–2.9 s and 115 MB with it, also with
//!   `session_replication_role = replica` or `DISABLE TRIGGER`. A detached leaf has no cloned
//!   triggers; it also goes without its primary-key index during the load (rebuilt by one sorted
//!   build per leaf, on both connections, instead of ten million random insertions at scale 10), and
//!   carries a CHECK equal to its partition constraint, so that rows outside its month fail during
//!   the COPY and the re-attach needs no validation scan. Re-attaching (one transaction, after the
//!   primary keys) makes it exactly the partition `create_appointment_partition` made: PostgreSQL
//!   clones the parent's triggers back, and merges the columns, CHECK and foreign-key constraints and
//!   the primary key into the parent's (not local, inherited once: a test compares the catalogs).
//!   Why no rule is lost although no row trigger fired, rule by rule, is in [`reset`]'s comment.
//!   While detached, each leaf is marked as qcheck's scratch table ([`schema::SCRATCH_COMMENT`]): a
//!   seed killed before the re-attach leaves tables the next seed recognises and drops.

use std::io::Write;
use std::sync::mpsc::{self, Receiver, Sender};
use std::time::{Duration, Instant};

use postgres::Client;

use super::copy::{BINARY_HEADER, BINARY_TRAILER};
use super::post::{self, Step};
use super::produce::{
    Chunk, Produced, Segment, SegmentDone, SegmentHasher, SegmentQueue, combine, produce, segments,
};
use super::world::World;
use crate::error::{DbContext, Error, Result};
use crate::progress::{Progress, Unit};
use crate::schema;

/// How the bulk load keeps triggers quiet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TriggerMode {
    /// `session_replication_role = replica` (superuser).
    Replica,
    /// `ALTER TABLE leaf DISABLE TRIGGER USER` inside the load transaction.
    DisableUserTriggers,
}

/// What the load did.
#[derive(Debug, Clone)]
pub struct LoadReport {
    /// Every segment loaded, in load (and digest) order.
    pub segments: Vec<Segment>,
    /// Rows per segment and the dataset digest.
    pub produced: Produced,
    /// The parallel appointment load, from its start until the leaves are usable (the last COPY,
    /// then the primary keys and the re-attach of detached leaves): the throughput figure.
    pub appointment_copy: Duration,
    /// The first transaction: reset, then tenants, providers and patients.
    pub reset: Duration,
    /// The whole load, wall clock.
    pub total: Duration,
}

/// The dataset's tables, children first (the order TRUNCATE and the summary use).
pub const TABLES: [&str; 6] = [
    "appointment_audit",
    "appointment_boundary_slot",
    "appointment",
    "patient",
    "provider",
    "tenant",
];

/// Runs `f` inside BEGIN ... COMMIT, rolling back on error.
pub fn in_transaction<T>(
    client: &mut Client,
    what: &str,
    f: impl FnOnce(&mut Client) -> Result<T>,
) -> Result<T> {
    client.batch_execute("BEGIN").db(format!("{what}: BEGIN"))?;
    match f(client) {
        Ok(v) => {
            client
                .batch_execute("COMMIT")
                .db(format!("{what}: COMMIT"))?;
            Ok(v)
        }
        Err(e) => {
            let _ = client.batch_execute("ROLLBACK");
            Err(e)
        }
    }
}

/// The leaf partitions of `appointment` that exist now.
pub fn existing_leaves(client: &mut Client) -> Result<Vec<String>> {
    let rows = client
        .query(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
              WHERE i.inhparent = 'appointment'::regclass ORDER BY 1",
            &[],
        )
        .db("listing the partitions of appointment")?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// A month leaf of `appointment` that the load fills while it is detached (see the module docs).
#[derive(Debug, Clone)]
pub struct DetachedLeaf {
    /// The leaf's name.
    pub leaf: String,
    /// Its partition bound as PostgreSQL prints it: `FOR VALUES FROM (...) TO (...)`.
    bound: String,
    /// The index-backed constraints (the primary key) dropped for the load and added back after it:
    /// name and definition as `pg_get_constraintdef` prints it.
    constraints: Vec<(String, String)>,
}

/// The CHECK a detached leaf carries during its load: its partition constraint.
const LOAD_BOUND_CHECK: &str = "qcheck_load_bound";

/// Empties the dataset: drops the strategy's indexes (they are rebuilt after the load), every
/// partition and any scratch table a killed run left, truncates the other tables, and creates the
/// profile's partitions without exclusion constraints. With `detach`, it then detaches them for the
/// load and returns them (see the module docs). Must run inside the load transaction.
///
/// Why loading detached leaves with no row trigger firing loses no rule the triggers enforce: the
/// rows are the generator's, into tables nobody else can see fill (the dataset record is cleared
/// until the end), and each trigger's rule is either guaranteed by construction or re-checked after
/// the load — `tests/it/seed.rs` (`the_data_keeps_every_rule_of_the_schema`) checks every one in SQL:
/// - `appointment_booking_guard` (0003): its advisory lock only orders concurrent bookings (none
///   here); its refusal to book a soft-deleted patient or provider holds by construction (no
///   appointment of a patient ends after the patient's deletion, no deleted provider has live
///   bookings);
/// - the exclusion constraints (no overlap per provider) are built after the load, so they validate
///   every row; the cross-month guard is filled after the load from the rows themselves
///   (`post::boundary_sql`), and its own exclusion constraint validates it;
/// - `appointment_audit_write`: the audit trail is a deterministic sample written after the load
///   (documented in the README), never a trail of the load;
/// - `appointment_touch` fires on UPDATE only;
/// - foreign keys: the same as with `session_replication_role = replica` on attached leaves — the
///   generator makes every reference same-tenant, and the re-attach adopts the leaf's own foreign
///   keys, added while it was empty.
pub fn reset(
    client: &mut Client,
    w: &World,
    mode: TriggerMode,
    detach: bool,
) -> Result<Vec<DetachedLeaf>> {
    schema::drop_strategy_indexes(client)?;
    schema::drop_scratch_tables(client)?;
    let leaves = existing_leaves(client)?;
    if !leaves.is_empty() {
        let list: Vec<String> = leaves.iter().map(|l| schema::quote_ident(l)).collect();
        client
            .batch_execute(&format!("DROP TABLE {}", list.join(", ")))
            .db("dropping the old appointment partitions")?;
    }
    let truncate = format!("TRUNCATE {} RESTART IDENTITY", TABLES.join(", "));
    if mode == TriggerMode::DisableUserTriggers {
        // The audit trail refuses TRUNCATE by trigger; a new seed replaces it whole.
        client
            .batch_execute(&format!(
                "ALTER TABLE appointment_audit DISABLE TRIGGER appointment_audit_no_truncate; {truncate};
                 ALTER TABLE appointment_audit ENABLE TRIGGER appointment_audit_no_truncate;"
            ))
            .db("emptying the dataset tables")?;
    } else {
        client
            .batch_execute(&truncate)
            .db("emptying the dataset tables")?;
    }
    for month in &w.months {
        let row = client
            .query_one(
                "SELECT create_appointment_partition($1, false)",
                &[&month.first],
            )
            .db(format!("creating partition {}", month.leaf))?;
        let name: String = row.get(0);
        if name != month.leaf {
            return Err(Error::Dataset(format!(
                "create_appointment_partition named the partition for {} `{name}`, the generator expected `{}`",
                month.first, month.leaf
            )));
        }
    }
    if !detach {
        return Ok(Vec::new());
    }
    // Migration 0003's event trigger would otherwise add the exclusion constraint of every leaf at
    // each DETACH (an ALTER TABLE of appointment); they are built after the load.
    client
        .batch_execute("SET LOCAL appointment.partition_guard = 'deferred'")
        .db("deferring the partition guard for the load")?;
    let mut detached = Vec::with_capacity(w.months.len());
    for month in &w.months {
        let leaf = schema::quote_ident(&month.leaf);
        let what = format!("detaching {} for the load", month.leaf);
        let row = client
            .query_one(
                "SELECT pg_get_expr(c.relpartbound, c.oid), pg_get_partition_constraintdef(c.oid)
                   FROM pg_class c WHERE c.oid = $1::text::regclass",
                &[&leaf],
            )
            .db(what.clone())?;
        let (bound, check): (String, String) = (row.get(0), row.get(1));
        let constraints: Vec<(String, String)> = client
            .query(
                "SELECT conname::text, pg_get_constraintdef(oid) FROM pg_constraint
                  WHERE conrelid = $1::text::regclass AND contype IN ('p', 'u') ORDER BY conname",
                &[&leaf],
            )
            .db(what.clone())?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        let mut alter = vec![format!("ADD CONSTRAINT {LOAD_BOUND_CHECK} CHECK ({check})")];
        alter.extend(
            constraints
                .iter()
                .map(|(name, _)| format!("DROP CONSTRAINT {}", schema::quote_ident(name))),
        );
        client
            .batch_execute(&format!(
                "ALTER TABLE appointment DETACH PARTITION {leaf};
                 {};
                 ALTER TABLE {leaf} {}",
                schema::mark_scratch_sql(
                    &month.leaf,
                    "a month of appointment, detached while qcheck seed loads it"
                ),
                alter.join(", ")
            ))
            .db(what)?;
        detached.push(DetachedLeaf {
            leaf: month.leaf.clone(),
            bound,
            constraints,
        });
    }
    Ok(detached)
}

/// The steps that add a detached leaf's primary key back after its load (one sorted build each;
/// [`post::run_parallel`] spreads them over the connections).
pub fn rebuild_steps(detached: &[DetachedLeaf]) -> Vec<Step> {
    detached
        .iter()
        .filter(|d| !d.constraints.is_empty())
        .map(|d| {
            let adds: Vec<String> = d
                .constraints
                .iter()
                .map(|(name, def)| format!("ADD CONSTRAINT {} {def}", schema::quote_ident(name)))
                .collect();
            Step::Sql {
                label: format!("{} primary key", d.leaf),
                sql: format!(
                    "ALTER TABLE {} {}",
                    schema::quote_ident(&d.leaf),
                    adds.join(", ")
                ),
            }
        })
        .collect()
}

/// Attaches the loaded leaves back, in one transaction: each becomes the partition
/// `create_appointment_partition` made (triggers cloned back, constraints and the primary key merged
/// into the parent's), and loses its load-time CHECK and scratch mark. No validation scan: the CHECK
/// equal to the partition constraint proves it.
pub fn attach(client: &mut Client, detached: &[DetachedLeaf]) -> Result<()> {
    if detached.is_empty() {
        return Ok(());
    }
    in_transaction(client, "attaching the loaded partitions", |client| {
        let mut sql = String::from("SET LOCAL appointment.partition_guard = 'deferred';\n");
        for d in detached {
            let leaf = schema::quote_ident(&d.leaf);
            sql.push_str(&format!(
                "ALTER TABLE appointment ATTACH PARTITION {leaf} {};
                 ALTER TABLE {leaf} DROP CONSTRAINT {LOAD_BOUND_CHECK};
                 COMMENT ON TABLE {leaf} IS NULL;\n",
                d.bound
            ));
        }
        client
            .batch_execute(&sql)
            .db("attaching the loaded partitions to appointment")
    })
}

/// Resets and loads the whole dataset: the first transaction on `clients[0]`, then the partitions
/// on all of them in parallel.
pub fn load(
    clients: &mut [&mut Client],
    w: &World,
    mode: TriggerMode,
    progress: &Progress,
) -> Result<LoadReport> {
    let start = Instant::now();
    let segs = segments(w);
    let c = &w.counts;
    let phase = progress.phase(
        "load",
        c.tenants + c.providers + c.patients + c.appointments,
        Unit::Rows,
    );
    let inc = |n: u64| phase.inc(n);
    let first_appointment = segs
        .iter()
        .position(|s| matches!(s, Segment::Appointments(_)))
        .unwrap_or(segs.len());
    let quiet = |client: &mut Client| -> Result<()> {
        if mode == TriggerMode::Replica {
            client
                .batch_execute("SET LOCAL session_replication_role = replica")
                .db("silencing triggers for the load")?;
        }
        Ok(())
    };

    let (first, _) = clients
        .split_first_mut()
        .ok_or_else(|| Error::Dataset("no connection to load with".into()))?;
    let citus = crate::topology::detect(first)?.is_some();
    if citus {
        crate::topology::empty_for_seed(first)?;
    }
    let (mut done, detached) = in_transaction(first, "resetting the dataset", |client| {
        if citus {
            crate::topology::before_reset(client)?;
        }
        quiet(client)?;
        let detached = reset(client, w, mode, !citus)?;
        let done = stream(
            client,
            w,
            &segs,
            &SegmentQueue::new(0..first_appointment),
            mode,
            &inc,
        )?;
        Ok((done, detached))
    })?;
    let reset_time = start.elapsed();

    let appointments_start = Instant::now();
    let queue = SegmentQueue::new(first_appointment..segs.len());
    let results: Vec<Result<Vec<SegmentDone>>> = std::thread::scope(|s| {
        let handles: Vec<_> = clients
            .iter_mut()
            .map(|client| {
                let client: &mut Client = client;
                let (segs, queue, inc, quiet) = (&segs, &queue, &inc, &quiet);
                s.spawn(move || {
                    in_transaction(client, "loading appointments", |client| {
                        quiet(client)?;
                        stream(client, w, segs, queue, mode, inc)
                    })
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(Error::Dataset("a loader thread panicked".into())))
            })
            .collect()
    });
    for r in results {
        done.extend(r?);
    }
    // Part of the load, and of its throughput figure: the leaves are not usable before.
    post::run_parallel(clients, "keys", &rebuild_steps(&detached), progress)?;
    let first: &mut Client = clients
        .first_mut()
        .ok_or_else(|| Error::Dataset("no connection to load with".into()))?;
    attach(first, &detached)?;
    let appointment_copy = appointments_start.elapsed();
    let produced = combine(w, &segs, &done)
        .ok_or_else(|| Error::Dataset("the generator did not produce every segment once".into()))?;
    phase.finish(produced.rows.iter().sum());
    Ok(LoadReport {
        segments: segs,
        produced,
        appointment_copy,
        reset: reset_time,
        total: start.elapsed(),
    })
}

/// Loads the segments `queue` hands out through `client`, generated by a producer thread of its own.
fn stream(
    client: &mut Client,
    w: &World,
    segs: &[Segment],
    queue: &SegmentQueue,
    mode: TriggerMode,
    inc: &(dyn Fn(u64) + Sync),
) -> Result<Vec<SegmentDone>> {
    std::thread::scope(|s| {
        let (tx, rx) = mpsc::sync_channel::<Chunk>(3);
        let (back_tx, back_rx) = mpsc::channel::<Vec<u8>>();
        let producer = s.spawn(move || produce(w, segs, queue, &tx, &back_rx));
        let consumed = consume(client, w, segs, mode, rx, back_tx, inc);
        let produced = producer.join();
        let done = consumed?;
        match produced {
            Ok(Some(())) => Ok(done),
            Ok(None) => Err(Error::Dataset(
                "the generator stopped before the end".into(),
            )),
            Err(_) => Err(Error::Dataset("the generator thread panicked".into())),
        }
    })
}

/// Streams the producer's chunks into one `COPY ... FREEZE` per segment. Dropping `rx` on error
/// stops the producer.
#[allow(
    clippy::needless_pass_by_value,
    reason = "consume owns both channel ends so that they drop when it returns: that stops the \
              producer on error and ends its wait for recycled buffers"
)]
fn consume(
    client: &mut Client,
    w: &World,
    segs: &[Segment],
    mode: TriggerMode,
    rx: Receiver<Chunk>,
    back: Sender<Vec<u8>>,
    inc: &(dyn Fn(u64) + Sync),
) -> Result<Vec<SegmentDone>> {
    let mut hasher = SegmentHasher::default();
    // CopyInWriter reports server errors as io::Error wrapping the postgres::Error: unwrap it so the
    // message carries SQLSTATE, DETAIL and HINT.
    let io_err = |rel: &str, e: std::io::Error| {
        let inner = e
            .get_ref()
            .and_then(|i| i.downcast_ref::<postgres::Error>())
            .map(crate::error::db_message);
        Error::Dataset(format!(
            "COPY into {rel}: {}",
            inner.unwrap_or_else(|| e.to_string())
        ))
    };
    let out_of_order = || Error::Dataset("the generator sent COPY data out of order".into());
    while let Ok(chunk) = rx.recv() {
        let Chunk::Begin(i) = chunk else {
            return Err(out_of_order());
        };
        hasher.begin();
        let seg = &segs[i];
        let rel = seg.relation(w);
        let leaf = matches!(seg, Segment::Appointments(_));
        if leaf {
            // Truncated in this transaction, so that COPY FREEZE accepts it.
            let q = schema::quote_ident(&rel);
            let mut sql = format!("TRUNCATE {q}");
            if mode == TriggerMode::DisableUserTriggers {
                sql.push_str(&format!("; ALTER TABLE {q} DISABLE TRIGGER USER"));
            }
            client.batch_execute(&sql).db(format!("preparing {rel}"))?;
        }
        let sql = format!(
            "COPY {} ({}) FROM STDIN (FORMAT binary, FREEZE)",
            crate::schema::quote_ident(&rel),
            seg.columns()
        );
        let mut wr = client
            .copy_in(&sql)
            .db(format!("starting COPY into {rel}"))?;
        wr.write_all(BINARY_HEADER).map_err(|e| io_err(&rel, e))?;
        loop {
            match rx.recv() {
                Ok(Chunk::Data(buf, rows)) => {
                    wr.write_all(&buf).map_err(|e| io_err(&rel, e))?;
                    hasher.data(&buf);
                    let _ = back.send(buf);
                    inc(rows);
                }
                Ok(Chunk::End(j, rows)) if j == i => {
                    hasher.end(i, rows);
                    wr.write_all(BINARY_TRAILER).map_err(|e| io_err(&rel, e))?;
                    wr.finish().db(format!("COPY into {rel}"))?;
                    if leaf && mode == TriggerMode::DisableUserTriggers {
                        client
                            .batch_execute(&format!(
                                "ALTER TABLE {} ENABLE TRIGGER USER",
                                schema::quote_ident(&rel)
                            ))
                            .db(format!("re-enabling the triggers of {rel}"))?;
                    }
                    break;
                }
                _ => return Err(out_of_order()),
            }
        }
    }
    Ok(hasher.done)
}
