//! After the load: the work that makes the dataset usable, spread over two connections.
//!
//! Each partition's exclusion constraint, the strategy's indexes and VACUUM (ANALYZE) are independent
//! per partition, and the machine has two cores, so two connections pull steps from one queue. What
//! would serialize them is locking, so the steps are chosen to lock one leaf each:
//! - exclusion constraints are added per leaf (`add_appointment_partition_exclusion`);
//! - the strategy's indexes on `appointment` are first built per leaf (`CREATE INDEX ON leaf ...`),
//!   then `schema::apply_strategy` creates the parent index, which *attaches* the matching leaf indexes
//!   instead of building them again (PostgreSQL does so for every partition that already has an
//!   equivalent index), records the strategy, and builds its indexes on the other tables;
//! - VACUUM (ANALYZE) runs per leaf and per table.
//!
//! The derived rows come first: `appointment_boundary_slot` (what the boundary trigger would have
//! mirrored) and a deterministic sample of audit trails, so that the constraints, indexes and
//! statistics built afterwards see them.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Instant;

use postgres::Client;

use super::world::World;
use crate::error::{DbContext, Result};
use crate::progress::{Progress, Unit};
use crate::schema::{self, IndexDef, Strategy};

/// One unit of work for a connection.
#[derive(Debug, Clone)]
pub enum Step {
    /// A statement run as is.
    Sql {
        /// Shown in progress and timings.
        label: String,
        /// The statement(s), run with `batch_execute`.
        sql: String,
    },
    /// A statement whose row count is reported (the derived-data inserts).
    Insert {
        /// Shown in progress and timings.
        label: String,
        /// The `INSERT`, run with `execute` for its row count.
        sql: String,
    },
    /// `schema::apply_strategy`: attaches the prebuilt leaf indexes, builds the others, records them.
    ApplyStrategy(Strategy),
}

impl Step {
    fn label(&self) -> String {
        match self {
            Step::Sql { label, .. } | Step::Insert { label, .. } => label.clone(),
            Step::ApplyStrategy(s) => format!("strategy {}", s.name),
        }
    }

    fn sql(label: impl Into<String>, sql: impl Into<String>) -> Step {
        Step::Sql {
            label: label.into(),
            sql: sql.into(),
        }
    }
}

/// How long one step took.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StepTiming {
    /// Seeding phase the step ran in.
    pub phase: String,
    /// The step's label (e.g. `strategy <name>` or the statement's label).
    pub step: String,
    /// Wall-clock seconds.
    pub seconds: f64,
    /// Rows a derived-data step inserted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rows: Option<u64>,
}

/// Runs `steps` on the given connections, each pulling the next step when done. The first error
/// stops the others (after their current step) and is returned.
pub fn run_parallel(
    clients: &mut [&mut Client],
    phase_name: &str,
    steps: &[Step],
    progress: &Progress,
) -> Result<Vec<StepTiming>> {
    let citus = match clients.first_mut() {
        Some(client) => crate::topology::detect(client)?.is_some(),
        None => false,
    };
    let phase = progress.phase(phase_name, steps.len() as u64, Unit::Steps);
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let timings = Mutex::new(Vec::new());
    let errors = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for client in clients.iter_mut() {
            let client: &mut Client = client;
            let (next, failed, timings, errors, phase) =
                (&next, &failed, &timings, &errors, &phase);
            s.spawn(move || {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    if i >= steps.len() || failed.load(Ordering::SeqCst) {
                        break;
                    }
                    let step = &steps[i];
                    phase.message(&step.label());
                    let start = Instant::now();
                    match run_step(client, step, citus) {
                        Ok(rows) => {
                            if let Ok(mut t) = timings.lock() {
                                t.push((
                                    i,
                                    StepTiming {
                                        phase: phase_name.to_string(),
                                        step: step.label(),
                                        seconds: start.elapsed().as_secs_f64(),
                                        rows,
                                    },
                                ));
                            }
                            phase.inc(1);
                        }
                        Err(e) => {
                            failed.store(true, Ordering::SeqCst);
                            if let Ok(mut errs) = errors.lock() {
                                errs.push(e);
                            }
                            break;
                        }
                    }
                }
            });
        }
    });
    let done = steps.len() as u64;
    if let Some(e) = errors.into_inner().ok().and_then(|mut e| e.pop()) {
        phase.finish(0);
        return Err(e);
    }
    phase.finish(done);
    let mut t = timings.into_inner().unwrap_or_default();
    t.sort_by_key(|(i, _)| *i);
    Ok(t.into_iter().map(|(_, t)| t).collect())
}

/// On Citus a step's statements go one at a time (see [`crate::topology::run_script`]).
fn run_step(client: &mut Client, step: &Step, citus: bool) -> Result<Option<u64>> {
    match step {
        Step::Sql { label, sql } if citus => {
            crate::topology::run_script(client, sql, 1, label)?;
            Ok(None)
        }
        Step::Sql { label, sql } => {
            client.batch_execute(sql).db(label.clone())?;
            Ok(None)
        }
        Step::Insert { label, sql } => {
            Ok(Some(client.execute(sql.as_str(), &[]).db(label.clone())?))
        }
        Step::ApplyStrategy(s) => {
            schema::apply_strategy(client, s)?;
            Ok(None)
        }
    }
}

/// Session settings for every seeding connection: no statement or lock timeout from the server's
/// defaults can cut an index build short, and jsonb images of timestamps (the audit trail) are
/// rendered in UTC whatever the server's TimeZone, so they are the same on every machine.
pub fn prepare_session(client: &mut Client) -> Result<()> {
    client
        .batch_execute(
            "SET statement_timeout = 0; SET lock_timeout = 0; SET idle_in_transaction_session_timeout = 0;
             SET TimeZone = 'UTC';",
        )
        .db("preparing a seeding session")
}

/// The steps that derive data from the loaded appointments and build constraints and leaf indexes.
pub fn build_steps(w: &World, strategy: &Strategy) -> Vec<Step> {
    #[allow(
        clippy::cast_possible_truncation,
        reason = "audit.share is validated to [0, 1], so the rounded value is in 0..=65536"
    )]
    let audited = (w.profile.spec.audit.share * 65536.0).round() as i64;
    // The order only matters for locks. The derived-data inserts read every leaf (ACCESS SHARE), so
    // they go first, one per connection; the leaf index builds (SHARE) do not conflict with them; the
    // exclusion constraints (ACCESS EXCLUSIVE on their leaf) come last, oldest leaf first, while the
    // last index builds run on the newest leaves.
    let mut steps = vec![
        Step::Insert {
            label: "appointment_boundary_slot".into(),
            sql: boundary_sql(w),
        },
        Step::Insert {
            label: "appointment_audit".into(),
            sql: audit_sql(audited),
        },
    ];
    for index in strategy.indexes().filter(|i| on_appointment(i)) {
        for m in &w.months {
            steps.push(Step::sql(
                format!("{} {}", m.leaf, index.name),
                leaf_index_statement(index, &m.leaf),
            ));
        }
    }
    for m in &w.months {
        steps.push(Step::sql(
            format!("{} exclusion", m.leaf),
            format!(
                "SELECT add_appointment_partition_exclusion('{}'::regclass)",
                m.leaf
            ),
        ));
    }
    steps
}

/// The strategy (attach and other tables' indexes) and VACUUM (ANALYZE) of every leaf and table.
/// The strategy goes first: one connection runs it while the other vacuums the leaves, and the
/// tables whose statistics may depend on its expression indexes are vacuumed last.
///
/// The partitioned parent itself gets no statistics on PostgreSQL before 18: `ANALYZE appointment`
/// would sample every leaf again (7 s at scale 1, on one core), and autovacuum never analyzes a
/// partitioned parent either, so production servers look the same. From 18 on, `ANALYZE ONLY`
/// gathers the parent's own statistics cheaply, and it is done.
pub fn finish_steps(w: &World, strategy: &Strategy, server_version_num: i32) -> Vec<Step> {
    let mut steps = vec![Step::ApplyStrategy(strategy.clone())];
    if server_version_num >= 180_000 {
        steps.push(Step::sql(
            "analyze only appointment",
            "ANALYZE ONLY appointment",
        ));
    }
    for m in &w.months {
        steps.push(Step::sql(
            format!("vacuum {}", m.leaf),
            format!("VACUUM (ANALYZE) {}", m.leaf),
        ));
    }
    for t in [
        "tenant",
        "provider",
        "appointment_boundary_slot",
        "appointment_audit",
        "patient",
    ] {
        steps.push(Step::sql(
            format!("vacuum {t}"),
            format!("VACUUM (ANALYZE) {t}"),
        ));
    }
    steps
}

/// The rows the boundary trigger would have mirrored: the live appointments for which the schema's
/// own `appointment_near_boundary(slot)` holds. That function is a SQL function PostgreSQL cannot
/// inline (it is STRICT around a non-strict OR), so calling it on every row costs microseconds each;
/// a cheap pre-filter keeps only rows that start within the guard's window (480 minutes, the longest
/// appointment the schema allows) of a month boundary, a superset of the rows it can accept.
fn boundary_sql(w: &World) -> String {
    // The bounds are literals: `literal - interval` would be evaluated on every row (timestamptz
    // arithmetic is only STABLE, so it is not folded into a constant).
    const WINDOW: i64 = 480 * super::copy::MICROS_PER_MIN;
    let mut bounds: Vec<i64> = w.months.iter().map(|m| m.lo).collect();
    bounds.extend(w.months.last().map(|m| m.hi));
    let near: Vec<String> = bounds
        .iter()
        .map(|b| {
            format!(
                "(scheduled_at >= {} AND scheduled_at < {})",
                timestamptz_literal(b - WINDOW),
                timestamptz_literal(b + WINDOW)
            )
        })
        .collect();
    format!(
        "INSERT INTO appointment_boundary_slot (appointment_id, scheduled_at, tenant_id, provider_id, slot)
         SELECT id, scheduled_at, tenant_id, provider_id, slot FROM appointment
          WHERE status <> 'cancelled' AND ({}) AND appointment_near_boundary(slot)",
        near.join("\n             OR ")
    )
}

/// `TIMESTAMPTZ '2026-01-01 00:00:00+00'` from micros since 2000-01-01 UTC.
fn timestamptz_literal(micros: i64) -> String {
    let secs = micros.div_euclid(1_000_000) + super::copy::PG_EPOCH_UNIX_SECS;
    let dt = chrono::DateTime::from_timestamp(secs, 0).unwrap_or_default();
    format!("TIMESTAMPTZ '{}'", dt.format("%Y-%m-%d %H:%M:%S+00"))
}

/// The audit trail of a deterministic sample of appointments (by two bytes of their random ids): an
/// INSERT row with the appointment as booked and, when it is no longer booked, an UPDATE row from
/// that image to the current one, stamped when the change happened. In key order, so the identity
/// ids are the same on every run.
fn audit_sql(threshold: i64) -> String {
    format!(
        "WITH s AS (
             SELECT a.tenant_id, a.id, a.scheduled_at, a.status, a.booked_via, a.created_at, a.updated_at,
                    to_jsonb(a) AS image,
                    to_jsonb(a) || jsonb_build_object('status', 'booked', 'cancelled_at', NULL,
                                                      'updated_at', a.created_at) AS booked
               FROM appointment a
              WHERE get_byte(uuid_send(a.id), 14) * 256 + get_byte(uuid_send(a.id), 15) < {threshold})
         INSERT INTO appointment_audit (tenant_id, appointment_id, operation, actor, changed_at, old_row, new_row)
         SELECT s.tenant_id, s.id, e.operation, e.actor, e.changed_at, e.old_row, e.new_row
           FROM s CROSS JOIN LATERAL (VALUES
                    ('INSERT', s.booked_via, s.created_at, NULL::jsonb, s.booked),
                    ('UPDATE', 'staff', s.updated_at, s.booked, s.image)
                ) AS e (operation, actor, changed_at, old_row, new_row)
          WHERE e.operation = 'INSERT' OR s.status <> 'booked'
          ORDER BY s.scheduled_at, s.id, e.changed_at, e.operation"
    )
}

/// Whether a strategy index is on the partitioned `appointment` table, whose leaf indexes the
/// seeder builds itself, in parallel, before the strategy creates the parent index that attaches them.
pub fn on_appointment(index: &IndexDef) -> bool {
    index.table.name == "appointment"
        && matches!(index.table.schema.as_deref(), None | Some("public"))
}

/// The statement that builds `index` on one leaf of `appointment` under its deterministic leaf name
/// ([`IndexDef::leaf_index_name`]). A leaf index of that name left behind by an interrupted run
/// (built, but its parent never created, so nothing attached it) is dropped first; an index attached
/// to a parent cannot be dropped, and the statement fails instead of building a second copy.
pub fn leaf_index_statement(index: &IndexDef, leaf: &str) -> String {
    format!(
        "DROP INDEX IF EXISTS {};\n{}",
        schema::quote_ident(&index.leaf_index_name(leaf)),
        index.leaf_create_sql(leaf)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appointment_indexes_become_leaf_statements() {
        let tuned = schema::strategy("tuned").unwrap();
        let on: Vec<&str> = tuned
            .indexes()
            .filter(|i| on_appointment(i))
            .map(|i| i.name.as_str())
            .collect();
        assert_eq!(
            on,
            [
                "appointment_provider_day_idx",
                "appointment_patient_time_idx",
                "appointment_tenant_day_idx"
            ]
        );
        let day = tuned.indexes().next().unwrap();
        assert_eq!(
            leaf_index_statement(day, "appointment_y2026m01"),
            "DROP INDEX IF EXISTS \"appointment_y2026m01_provider_day_idx\";\n\
             CREATE INDEX \"appointment_y2026m01_provider_day_idx\" ON \"appointment_y2026m01\" \
             (provider_id, scheduled_at)\n    INCLUDE (tenant_id, duration_min, status, patient_id, id)\n    \
             WHERE status <> 'cancelled'"
        );
        // Other tables, and `appointment` in another schema, are left to the strategy.
        let fk = schema::strategy("fk-only").unwrap();
        assert_eq!(fk.indexes().filter(|i| on_appointment(i)).count(), 2);
        let other = schema::Strategy::parse(
            "t",
            "CREATE INDEX a ON \"appointment\" (id); CREATE INDEX b ON public.appointment (id);\n\
             CREATE INDEX c ON archive.appointment (id); CREATE INDEX d ON appointment_audit (id);",
        )
        .unwrap();
        let names: Vec<&str> = other
            .indexes()
            .filter(|i| on_appointment(i))
            .map(|i| i.name.as_str())
            .collect();
        assert_eq!(names, ["a", "b"]);
    }
}
