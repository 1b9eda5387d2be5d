//! The embedded Citus topology (`--citus-workers 2`) on a real Citus: three nodes started, listed and
//! stopped together; the model distributed by tenant with its guarantees proven through the
//! coordinator (23P01 inside a month and across a month boundary, RLS for the application role, the
//! audit trail, migrate down and up); a missing extension is exit 2 naming the install script.
//!
//! One topology per test binary (three servers), each test in a database of its own that exists on
//! every node. Without Citus installed the tests fail with the install command (`.ci/run` installs
//! it); `QCHECK_SKIP_CITUS=1` leaves them out on purpose, and each says so on stderr.

use std::os::unix::fs::PermissionsExt;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use postgres::error::SqlState;
use qcheck::cluster::Cluster;
use qcheck::db::{Conn, Session, Target};
use uuid::Uuid;

use crate::common;

pub struct Topology {
    pub session: Session,
    pub cluster: Cluster,
    pub home: std::path::PathBuf,
}

static TOPOLOGY: OnceLock<Option<Topology>> = OnceLock::new();
static STOP: OnceLock<Cluster> = OnceLock::new();
static NEXT_DB: AtomicUsize = AtomicUsize::new(0);
static MIGRATING: std::sync::Mutex<()> = std::sync::Mutex::new(());

extern "C" fn stop_topology_at_exit() {
    if let Some(cluster) = STOP.get() {
        let _ = cluster.stop();
        // <temp>/qcheck-test-citus-PID/home/citus-2w/coordinator: the temp folder goes too.
        if let Some(base) = cluster.home.ancestors().nth(3) {
            let _ = std::fs::remove_dir_all(base);
        }
    }
}

/// The shared two-worker topology, started on first use; `None` (with a note) without Citus.
pub fn topology() -> Option<&'static Topology> {
    TOPOLOGY
        .get_or_init(|| {
            let home = common::temp_home("citus").join("home");
            let cluster = match qcheck::topology::citus_cluster(&common::pg_bin(), &home, 2) {
                Ok(c) => c,
                Err(e @ qcheck::Error::CitusMissing { .. }) => {
                    assert!(
                        std::env::var_os("QCHECK_SKIP_CITUS").is_some_and(|v| v == "1"),
                        "{e} (or set QCHECK_SKIP_CITUS=1 to leave the Citus tests out)"
                    );
                    eprintln!("citus tests left out (QCHECK_SKIP_CITUS=1): {e}");
                    return None;
                }
                Err(e) => panic!("{e}"),
            };
            let mut session = Target::Embedded(cluster.clone())
                .open()
                .expect("start the Citus topology");
            session.keep_running().unwrap();
            STOP.set(cluster.clone()).ok();
            unsafe {
                libc::atexit(stop_topology_at_exit);
            }
            Some(Topology {
                session,
                cluster,
                home,
            })
        })
        .as_ref()
}

/// A new database on every node, registered, migrated (the model distributed).
pub fn distributed_db(t: &Topology, tag: &str) -> (String, Conn) {
    let name = format!("c_{tag}_{}", NEXT_DB.fetch_add(1, Ordering::SeqCst));
    qcheck::topology::prepare_database(&t.cluster, &name).unwrap();
    let mut client = t.session.connect_to(&name).unwrap();
    // Migrations create and propagate the cluster-wide qcheck_app role: one database at a time.
    let _one = MIGRATING
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    qcheck::schema::migrate_up(&mut client).unwrap();
    (name, client)
}

const TENANT_A: Uuid = Uuid::from_u128(0xa);
const TENANT_B: Uuid = Uuid::from_u128(0xb);

fn provider(tenant: Uuid) -> Uuid {
    Uuid::from_u128((tenant.as_u128() << 16) | 0x101)
}
fn patient(tenant: Uuid) -> Uuid {
    Uuid::from_u128((tenant.as_u128() << 16) | 0x201)
}

/// Two tenants with a provider and a patient each; partitions for Jan-Mar 2026.
fn world(client: &mut Conn) {
    client
        .batch_execute("SELECT create_appointment_partitions('2026-01-01', '2026-03-01')")
        .unwrap();
    for tenant in [TENANT_A, TENANT_B] {
        client
            .execute(
                "INSERT INTO tenant (id, name) VALUES ($1, 'Clinic')",
                &[&tenant],
            )
            .unwrap();
        client
            .execute(
                "INSERT INTO provider (id, tenant_id, full_name, specialty) VALUES ($1, $2, 'Dr', 'GP')",
                &[&provider(tenant), &tenant],
            )
            .unwrap();
        client
            .execute(
                "INSERT INTO patient (id, tenant_id, mrn, given_name, family_name, birth_date)
                 VALUES ($1, $2, 'MRN-0001', 'Ann', 'Lee', DATE '1980-01-01')",
                &[&patient(tenant), &tenant],
            )
            .unwrap();
    }
}

fn book(client: &mut Conn, tenant: Uuid, at: &str, minutes: i16) -> Result<Uuid, postgres::Error> {
    let id = Uuid::new_v4();
    client.execute(
        "INSERT INTO appointment (id, tenant_id, provider_id, patient_id, scheduled_at, duration_min)
         VALUES ($1, $2, $3, $4, $5::text::timestamptz, $6)",
        &[&id, &tenant, &provider(tenant), &patient(tenant), &at, &minutes],
    )?;
    Ok(id)
}

fn message(err: &postgres::Error) -> String {
    err.as_db_error()
        .map(|e| e.message().to_string())
        .unwrap_or_default()
}

fn count(client: &mut Conn, sql: &str) -> i64 {
    client.query_one(sql, &[]).unwrap().get(0)
}

#[test]
fn three_nodes_run_together_and_status_lists_each_with_its_role() {
    let Some(t) = topology() else { return };
    let out = common::qcheck(
        &[
            "--citus-workers",
            "2",
            "cluster",
            "status",
            "--format",
            "json",
        ],
        &t.home,
    );
    assert!(out.status.success(), "{}", common::stderr(&out));
    let nodes: serde_json::Value = serde_json::from_str(&common::stdout(&out)).unwrap();
    let roles: Vec<(&str, &str)> = nodes
        .as_array()
        .unwrap()
        .iter()
        .map(|n| (n["role"].as_str().unwrap(), n["state"].as_str().unwrap()))
        .collect();
    assert_eq!(
        roles,
        [
            ("coordinator", "running"),
            ("worker 1", "running"),
            ("worker 2", "running")
        ]
    );
    // The workers are registered on the coordinator of the qcheck database.
    let mut c = t.session.connect().unwrap();
    let info = qcheck::topology::detect(&mut c).unwrap().unwrap();
    assert_eq!(info.workers, 2, "{info}");
    assert!(info.version.starts_with("13."), "{info}");
    // Through --database-url the coordinator is a user's own Citus: detected in the target line.
    let url = t.cluster.url(qcheck::cluster::DATABASE);
    let out = common::qcheck(&["--database-url", &url, "migrate"], &t.home);
    let err = common::stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains(&format!("(Citus {} coordinator, 2 workers)", info.version)),
        "{err}"
    );
}

#[test]
fn the_model_is_distributed_by_tenant_and_colocated() {
    let Some(t) = topology() else { return };
    let (_, mut c) = distributed_db(t, "dist");
    let rows = c
        .query(
            "SELECT logicalrelid::text, partmethod::text, colocationid
               FROM pg_dist_partition ORDER BY 1",
            &[],
        )
        .unwrap();
    let tables: Vec<(String, String)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    assert_eq!(
        tables,
        [
            ("appointment", "h"),
            ("appointment_audit", "h"),
            ("appointment_boundary_slot", "h"),
            ("patient", "h"),
            ("provider", "h"),
            ("tenant", "n"),
        ]
        .map(|(a, b)| (a.to_string(), b.to_string()))
    );
    let colocations: std::collections::BTreeSet<i32> = rows
        .iter()
        .filter(|r| r.get::<_, String>(1) == "h")
        .map(|r| r.get(2))
        .collect();
    assert_eq!(colocations.len(), 1, "tenant-owned tables are colocated");
    world(&mut c);
    // Every month partition's guard leads with tenant_id, and no partition is unguarded.
    assert_eq!(
        count(
            &mut c,
            "SELECT count(*) FROM appointment_unguarded_partitions()"
        ),
        0
    );
}

#[test]
fn a_double_booking_fails_with_23p01_through_the_coordinator() {
    let Some(t) = topology() else { return };
    let (_, mut c) = distributed_db(t, "excl");
    world(&mut c);
    book(&mut c, TENANT_A, "2026-01-15 10:00+00", 30).unwrap();
    let err = book(&mut c, TENANT_A, "2026-01-15 10:15+00", 30).unwrap_err();
    assert_eq!(err.code(), Some(&SqlState::EXCLUSION_VIOLATION), "{err:?}");
    assert!(
        message(&err).contains("appointment_y2026m01_no_overlap"),
        "{err:?}"
    );
    // Across the January/February boundary: the boundary table's constraint on the shard.
    book(&mut c, TENANT_A, "2026-01-31 23:45+00", 30).unwrap();
    let err = book(&mut c, TENANT_A, "2026-02-01 00:00+00", 30).unwrap_err();
    assert_eq!(err.code(), Some(&SqlState::EXCLUSION_VIOLATION), "{err:?}");
    assert!(
        message(&err).contains("appointment_no_overlap_across_months"),
        "{err:?}"
    );
    // Another tenant's provider at the same time is not a conflict.
    book(&mut c, TENANT_B, "2026-01-15 10:00+00", 30).unwrap();
}

#[test]
fn row_level_security_hides_other_tenants_from_the_application_role() {
    let Some(t) = topology() else { return };
    let (_, mut c) = distributed_db(t, "rls");
    world(&mut c);
    book(&mut c, TENANT_A, "2026-01-10 09:00+00", 30).unwrap();
    book(&mut c, TENANT_B, "2026-01-10 09:00+00", 30).unwrap();
    // Citus connects to the workers as the current role, so the application logs in as a role of its
    // own that is a member of qcheck_app (qcheck_app itself is NOLOGIN).
    c.batch_execute(
        "DO $$ BEGIN CREATE ROLE qcheck_citus_app LOGIN IN ROLE qcheck_app;
         EXCEPTION WHEN duplicate_object THEN NULL; END $$;
         SET ROLE qcheck_citus_app",
    )
    .unwrap();
    // The policies run on the shards: the tenant setting reaches them as SET LOCAL in a transaction
    // (citus.propagate_set_commands = 'local').
    let mut tx = c.transaction().unwrap();
    tx.batch_execute(&format!("SET LOCAL app.tenant_id = '{TENANT_A}'"))
        .unwrap();
    for table in [
        "tenant",
        "provider",
        "patient",
        "appointment",
        "appointment_audit",
    ] {
        let column = if table == "tenant" { "id" } else { "tenant_id" };
        let theirs: i64 = tx
            .query_one(
                &format!("SELECT count(*) FROM {table} WHERE {column} = '{TENANT_B}'"),
                &[],
            )
            .unwrap()
            .get(0);
        assert_eq!(theirs, 0, "tenant A sees no row of tenant B in {table}");
        let own: i64 = tx
            .query_one(&format!("SELECT count(*) FROM {table}"), &[])
            .unwrap()
            .get(0);
        assert!(own > 0, "tenant A sees its own rows in {table}");
    }
    let err = tx
        .execute(
            "INSERT INTO patient (id, tenant_id, mrn, given_name, family_name, birth_date)
             VALUES ($1, $2, 'MRN-9999', 'Eve', 'X', DATE '1970-01-01')",
            &[&Uuid::new_v4(), &TENANT_B],
        )
        .unwrap_err();
    assert_eq!(
        err.code(),
        Some(&SqlState::INSUFFICIENT_PRIVILEGE),
        "{err:?}"
    );
    drop(tx);
    // Without a tenant: nothing.
    assert_eq!(count(&mut c, "SELECT count(*) FROM appointment"), 0);
}

#[test]
fn the_audit_trail_records_every_change_and_a_move_across_months_is_one_update() {
    let Some(t) = topology() else { return };
    let (_, mut c) = distributed_db(t, "audit");
    world(&mut c);
    let id = book(&mut c, TENANT_A, "2026-01-15 10:00+00", 30).unwrap();
    c.execute(
        "UPDATE appointment SET reason = 'checkup' WHERE tenant_id = $1 AND id = $2",
        &[&TENANT_A, &id],
    )
    .unwrap();
    // A reschedule into February moves the row to another partition (DELETE + INSERT underneath).
    c.execute(
        "UPDATE appointment SET scheduled_at = '2026-02-10 09:00+00' WHERE tenant_id = $1 AND id = $2",
        &[&TENANT_A, &id],
    )
    .unwrap();
    let ops: Vec<String> = c
        .query(
            "SELECT operation FROM appointment_audit WHERE tenant_id = $1 AND appointment_id = $2
              ORDER BY id",
            &[&TENANT_A, &id],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(ops, ["INSERT", "UPDATE", "UPDATE"]);
    let err = c
        .execute(
            "DELETE FROM appointment_audit WHERE tenant_id = $1",
            &[&TENANT_A],
        )
        .unwrap_err();
    assert_eq!(
        err.code(),
        Some(&SqlState::INSUFFICIENT_PRIVILEGE),
        "{err:?}"
    );
}

#[test]
fn migrate_down_and_up_again_on_citus() {
    let Some(t) = topology() else { return };
    let (_, mut c) = distributed_db(t, "round");
    assert_eq!(
        qcheck::schema::migrate_down(&mut c, 2).unwrap(),
        vec![5, 4, 3]
    );
    assert_eq!(qcheck::schema::migrate_up(&mut c).unwrap(), vec![3, 4, 5]);
    assert_eq!(
        qcheck::schema::migrate_down(&mut c, 0).unwrap(),
        vec![5, 4, 3, 2, 1]
    );
    assert_eq!(count(&mut c, "SELECT count(*) FROM pg_dist_partition"), 0);
    assert_eq!(
        qcheck::schema::migrate_up(&mut c).unwrap(),
        vec![1, 2, 3, 4, 5]
    );
    assert_eq!(count(&mut c, "SELECT count(*) FROM pg_dist_partition"), 6);
    // The guarantee is back after the round trip.
    world(&mut c);
    book(&mut c, TENANT_A, "2026-01-31 23:45+00", 30).unwrap();
    let err = book(&mut c, TENANT_A, "2026-02-01 00:00+00", 30).unwrap_err();
    assert_eq!(err.code(), Some(&SqlState::EXCLUSION_VIOLATION), "{err:?}");
}

#[test]
fn without_the_extension_citus_workers_is_exit_2_naming_the_install_script() {
    // Binaries that say PostgreSQL 15 and whose pg_config names an empty library folder.
    let dir = common::temp_home("nocitus");
    let lib = dir.join("lib");
    std::fs::create_dir_all(&lib).unwrap();
    for (name, script) in [
        ("initdb", "exit 1".to_string()),
        ("pg_ctl", "exit 1".to_string()),
        ("postgres", "echo 'postgres (PostgreSQL) 15.20'".to_string()),
        ("pg_config", format!("echo '{}'", lib.display())),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{script}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let out = common::qcheck(
        &[
            "--pg-bin-dir",
            dir.to_str().unwrap(),
            "--citus-workers",
            "2",
            "cluster",
            "start",
        ],
        &dir.join("home"),
    );
    assert_eq!(out.status.code(), Some(2));
    let err = common::stderr(&out);
    assert!(err.contains("../shared/vendor/install-citus.sh"), "{err}");
    assert!(
        err.contains(&lib.join("citus.so").display().to_string()),
        "{err}"
    );
    assert!(!dir.join("home").join("citus-2w").exists());
    // With a server URL the flag is a usage error too.
    let out = common::qcheck(
        &[
            "--database-url",
            "postgresql://u@db.invalid/x",
            "--citus-workers",
            "2",
            "migrate",
            "status",
        ],
        &dir.join("home"),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        common::stderr(&out).contains("cannot be combined with --database-url"),
        "{}",
        common::stderr(&out)
    );
}

/// Content of the seeded tables, independent of where the rows live: counts and an md5 of every
/// table's rows in key order. The audit trail's identity `id` is left out: Citus hands each worker
/// its own range of a distributed table's bigint identity.
fn fingerprint(client: &mut Conn) -> Vec<(String, i64, String)> {
    [
        ("tenant", "*", "id"),
        ("provider", "*", "id"),
        ("patient", "*", "id"),
        ("appointment", "*", "id, scheduled_at"),
        ("appointment_boundary_slot", "*", "appointment_id, scheduled_at"),
        (
            "appointment_audit",
            "tenant_id, appointment_id, operation, actor, changed_at, old_row, new_row, session_role",
            "appointment_id, changed_at, operation",
        ),
    ]
    .iter()
    .map(|(table, columns, key)| {
        let row = client
            .query_one(
                &format!(
                    "SELECT count(*), md5(string_agg(t::text, '|' ORDER BY {key}))
                       FROM (SELECT {columns} FROM {table}) t"
                ),
                &[],
            )
            .unwrap();
        ((*table).to_string(), row.get(0), row.get(1))
    })
    .map(|(t, n, h): (String, i64, String)| (t, n, h))
    .collect()
}

#[test]
fn seeding_through_the_coordinator_loads_the_same_rows_as_single_node_and_reaches_the_shards() {
    let Some(t) = topology() else { return };
    let request = qcheck::generate::SeedRequest::new("tiny", 1.0, 4242, "tuned").unwrap();
    let progress = qcheck::progress::Progress::quiet();
    let (_citus_lock, seeded) =
        qcheck::generate::hold_dataset(&t.session, &request, &progress).unwrap();
    let citus_digest = seeded.map(|o| o.dataset.digest);
    let mut c = t.session.connect().unwrap();
    let citus = fingerprint(&mut c);

    let single = &common::cluster().session;
    let (_single_lock, seeded) =
        qcheck::generate::hold_dataset(single, &request, &progress).unwrap();
    if let (Some(a), Some(b)) = (&citus_digest, seeded.map(|o| o.dataset.digest)) {
        assert_eq!(*a, b, "the dataset digest is the same on both");
    }
    let mut s = single.connect().unwrap();
    let one = fingerprint(&mut s);
    // audit's identity ids and changed_at/jsonb images are derived on the server: compared whole.
    assert_eq!(citus, one, "the same rows on Citus and on one node");
    assert!(citus.iter().all(|(_, n, _)| *n > 0), "{citus:?}");
    // The seed's summary measures the shards, not the coordinator's empty shells (8 kB each).
    let sizes =
        qcheck::generate::seed::summary(&mut c, &std::collections::BTreeMap::new()).unwrap();
    let appointment = sizes.iter().find(|t| t.table == "appointment").unwrap();
    assert!(
        appointment.table_bytes > 256 * 1024 && appointment.index_bytes > 256 * 1024,
        "appointment on the shards: {} table bytes, {} index bytes",
        appointment.table_bytes,
        appointment.index_bytes
    );

    // On a worker: every month partition shard has its exclusion constraint, the strategy's
    // indexes, and was vacuumed and analyzed.
    let worker = &t.cluster.followers[0];
    let mut cfg = postgres::Config::new();
    cfg.host_path(worker.socket_dir())
        .port(qcheck::cluster::PORT)
        .user(qcheck::cluster::SUPERUSER)
        .dbname(qcheck::cluster::DATABASE);
    let mut w = qcheck::db::connect(&cfg).unwrap();
    // Citus hides shards from catalog queries unless told not to.
    w.batch_execute("SET citus.override_table_visibility = off")
        .unwrap();
    let row = w
        .query_one(
            r"SELECT count(*),
                     count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM pg_constraint x
                                                         WHERE x.conrelid = c.oid AND x.contype = 'x')),
                     count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
                                                         WHERE i.indrelid = c.oid AND ic.relname LIKE '%provider_day%')),
                     count(*) FILTER (WHERE s.last_analyze IS NULL OR s.last_vacuum IS NULL),
                     count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM pg_statistic_ext e
                                                         WHERE e.stxrelid = c.oid AND e.stxkind = '{f}'))
                FROM pg_class c JOIN pg_stat_user_tables s ON s.relid = c.oid
               WHERE c.relname ~ '^appointment_y\d{4}m\d{2}_\d+$' AND c.relkind = 'r'",
            &[],
        )
        .unwrap();
    let (shards, unguarded, unindexed, unvacuumed, unstatted): (i64, i64, i64, i64, i64) =
        (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4));
    assert!(shards > 0, "month partition shards on worker 1");
    // Migration 0005's provider-tenant statistics are skipped on Citus (Citus does not carry them to
    // the shards; see add_appointment_partition_statistics): no shard has them.
    assert_eq!(
        (unguarded, unindexed, unvacuumed, unstatted),
        (0, 0, 0, shards),
        "of {shards} shards"
    );
}

/// The seed test's dataset (tiny, seed 4242, `tuned`), so that whichever test runs first seeds it
/// and the others read it (the guard is dropped before a child `qcheck` runs).
fn seeded_dataset(t: &Topology) -> qcheck::generate::DatasetLock {
    let request = qcheck::generate::SeedRequest::new("tiny", 1.0, 4242, "tuned").unwrap();
    let progress = qcheck::progress::Progress::quiet();
    qcheck::generate::hold_dataset(&t.session, &request, &progress)
        .unwrap()
        .0
}

const DATASET: [&str; 6] = ["--profile", "tiny", "--seed", "4242", "--strategy", "tuned"];

#[test]
fn the_ten_pass_through_the_coordinator_with_their_distributed_expectations() {
    let Some(t) = topology() else { return };
    // Seeded here, released before the run: a `qcheck` child waits for the dataset lock itself, and
    // holding it across the child would deadlock against a waiting reseed (the lock is fair).
    drop(seeded_dataset(t));
    let mut args = vec!["--citus-workers", "2", "check", "--format", "json"];
    args.extend(DATASET);
    let out = common::qcheck(&args, &t.home);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", common::stdout(&out), common::stderr(&out)));
    let queries = doc["queries"].as_array().unwrap();
    assert_eq!(queries.len(), 10);
    assert!(
        common::failures(&doc).is_empty(),
        "{:#?}",
        common::failures(&doc)
    );
    assert_eq!(out.status.code(), Some(0), "{}", common::stderr(&out));
    // Every query's custom and generic plan were checked against its Citus lines, on the task
    // plans: each declares `tasks` and reads `appointment`/`patient`/`appointment_audit` through
    // the index it names on the shard.
    let builtin = qcheck::catalog::Catalog::builtin().unwrap();
    for q in queries {
        let name = q["name"].as_str().unwrap();
        let file = builtin.get(name).unwrap();
        for mode in ["custom", "generic"] {
            let texts: Vec<&str> = q[mode]["verdicts"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v["text"].as_str().unwrap())
                .collect();
            assert!(
                texts.iter().any(|t| t.starts_with("tasks ")),
                "{name} ({mode}): {texts:?}"
            );
            let citus_lines = file
                .expects
                .iter()
                .filter(|l| l.key().starts_with("expect-citus"))
                .count();
            assert!(citus_lines > 0, "{name} declares expect-citus lines");
        }
    }
    // Citus refuses only provider_free_slots' generic plan (its subquery), and the report says so.
    let exempt: Vec<(&str, &str)> = queries
        .iter()
        .filter_map(|q| Some((q["name"].as_str()?, q["generic_exempt"].as_str()?)))
        .collect();
    assert_eq!(exempt.len(), 1, "{exempt:?}");
    assert_eq!(exempt[0].0, "provider_free_slots");
    assert!(
        exempt[0].1.contains("could not create distributed plan"),
        "{exempt:?}"
    );
    // The same through --database-url to the coordinator: a user's own Citus cluster.
    let url = t.cluster.url(qcheck::cluster::DATABASE);
    let mut args = vec![
        "--database-url",
        url.as_str(),
        "check",
        "--query",
        "provider_day",
        "--query",
        "tenant_day_by_status",
    ];
    args.extend(DATASET);
    let out = common::qcheck(&args, &t.home);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        common::stdout(&out),
        common::stderr(&out)
    );
    assert!(
        common::stdout(&out).contains("2 of 2 queries pass"),
        "{}",
        common::stdout(&out)
    );
}

#[test]
fn a_wrong_expect_citus_line_fails_the_check_naming_its_file_and_line() {
    let Some(t) = topology() else { return };
    // Seeded here, released before the run: a `qcheck` child waits for the dataset lock itself, and
    // holding it across the child would deadlock against a waiting reseed (the lock is fair).
    drop(seeded_dataset(t));
    let original = include_str!("../../sql/queries/tenant_day_by_status.sql");
    let right = "-- expect-citus: tasks = 1";
    let line = 1 + original
        .lines()
        .position(|l| l == right)
        .expect("tenant_day_by_status declares `tasks = 1` on Citus");
    let dir = common::temp_home("citus-wrong");
    let file = dir.join("tenant_day_by_status.sql");
    std::fs::write(&file, original.replace(right, "-- expect-citus: tasks = 2")).unwrap();
    let mut args = vec![
        "--citus-workers",
        "2",
        "check",
        "--queries",
        dir.to_str().unwrap(),
    ];
    args.extend(DATASET);
    let out = common::qcheck(&args, &t.home);
    let report = common::stdout(&out);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{report}\n{}",
        common::stderr(&out)
    );
    assert!(
        report.contains(&format!("tenant_day_by_status.sql:{line}")),
        "{report}"
    );
    assert!(report.contains("`tasks = 2`"), "{report}");
    assert!(report.contains("0 of 1 queries pass"), "{report}");
}

#[test]
fn a_role_that_cannot_log_in_to_the_workers_is_refused_before_any_query_runs() {
    let Some(t) = topology() else { return };
    // Seeded here, released before the run: a `qcheck` child waits for the dataset lock itself, and
    // holding it across the child would deadlock against a waiting reseed (the lock is fair).
    drop(seeded_dataset(t));
    let mut args = vec![
        "--citus-workers",
        "2",
        "check",
        "--query",
        "patient_by_mrn",
        "--as-role",
        "qcheck_app",
    ];
    args.extend(DATASET);
    let out = common::qcheck(&args, &t.home);
    assert_eq!(out.status.code(), Some(2), "{}", common::stdout(&out));
    let err = common::stderr(&out);
    let last = err.trim_end().lines().last().unwrap_or_default();
    assert!(
        last.contains("qcheck_app") && last.contains("cannot log in"),
        "{err}"
    );
    assert!(last.contains("LOGIN IN ROLE qcheck_app"), "{err}");
    assert!(common::stdout(&out).is_empty(), "{}", common::stdout(&out));
}

/// `compare --topology single,citus-2` on `tiny`: the same comparison on the single node and through
/// the coordinator of the shared two-worker topology (its home, so the topology is not started a
/// second time), side by side: a section per topology with verdicts, latency, writes and the
/// contention sweep through the coordinator, the plan differences between them (every plan on
/// Citus runs under a Custom Scan), the same rows on both. Three queries, to keep it short (the ten
/// pass through the coordinator in `the_ten_pass_through_the_coordinator_...`).
#[test]
fn compare_across_topologies_reports_each_with_verdicts_and_the_plan_differences() {
    let Some(t) = topology() else { return };
    let out_dir = t.home.parent().unwrap().join("compare-report");
    // Not the seeding test's dataset (tiny, seed 4242): compare rebuilds the strategy's indexes, and
    // that test reads the seed's own leaf index names on the shards. Each seeds its own; the dataset
    // lock orders them.
    let quick = crate::compare::quick(
        &out_dir,
        &[
            "--topology",
            "single,citus-2",
            "--query",
            "patient_by_mrn",
            "--query",
            "tenant_day_by_status",
            "--query",
            "provider_free_slots",
            "--contention-seconds",
            "0.3",
            "--contention-clients",
            "2",
        ],
    );
    let mut args = vec!["--format", "json"];
    args.extend(quick.iter().map(String::as_str));
    let out = common::qcheck(&args, &t.home);
    let err = common::stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    crate::ci::assert_valid("compare", &doc);
    assert_eq!(doc["kind"], "topology");
    let targets = doc["targets"].as_array().unwrap();
    let names: Vec<&str> = targets
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["single", "citus-2"]);
    assert!(
        targets[1]["report"]["stamp"]["target"]
            .as_str()
            .unwrap()
            .contains("Citus (coordinator + 2 workers)"),
        "{}",
        targets[1]["report"]["stamp"]["target"]
    );
    for t in targets {
        let report = &t["report"];
        assert_eq!(
            report["dataset"]["digest"], targets[0]["report"]["dataset"]["digest"],
            "the same rows on both"
        );
        let s = &report["strategies"][0];
        for q in s["queries"].as_array().unwrap() {
            for mode in ["custom", "generic"] {
                assert!(
                    !q[mode]["verdicts"].as_array().unwrap().is_empty(),
                    "{} {mode} on {}",
                    q["name"],
                    t["name"]
                );
                assert!(q[mode]["latency"]["p50_ms"].as_f64().unwrap() > 0.0);
            }
        }
        assert!(s["writes"]["bookings"]["per_sec"].as_f64().unwrap() > 0.0);
        assert!(
            s["total_index_bytes"].as_i64().unwrap() > 0,
            "sizes on {}",
            t["name"]
        );
        let levels = s["contention"]["levels"].as_array().unwrap();
        assert_eq!(levels.len(), 2, "{}", t["name"]);
        for l in levels {
            assert!(l["booked"].as_u64().unwrap() > 0, "{l}");
            assert_eq!(l["other_errors"], 0, "{l}");
        }
    }
    let diff = &doc["target_diffs"][0];
    assert_eq!(
        (diff["from"].as_str(), diff["to"].as_str()),
        (Some("single"), Some("citus-2"))
    );
    // provider_free_slots has no generic plan on Citus: measured as the custom plans its statement
    // runs, and the report says so instead of failing the comparison.
    let citus_notes = targets[1]["report"]["notes"].to_string();
    assert!(
        citus_notes.contains("`provider_free_slots` has no generic plan on this target"),
        "{citus_notes}"
    );
    assert_eq!(diff["compared_plans"], 6);
    assert_eq!(
        diff["changed_plans"], 6,
        "every plan is distributed: {diff}"
    );

    // Issue 13's coordinator target, counted over both plans of the three queries.
    let target = &doc["coordinator_target"][0];
    assert_eq!(
        (target["target"].as_str(), target["against"].as_str()),
        (Some("citus-2"), Some("single")),
        "{target}"
    );
    assert_eq!(target["plans"], 6, "{target}");
    assert!(target["within"].as_u64().unwrap() <= 6, "{target}");

    let md = std::fs::read_to_string(out_dir.join("report.md")).unwrap();
    for needle in [
        "# qcheck compare across topologies: single vs citus-2",
        "coordinator within 2× the single node's p50",
        "## Coordinator target",
        "- citus-2: coordinator within 2× of single's p50 (issue 13's target): ",
        "citus-2: ",
        "## Contention across targets",
        "### single → citus-2, strategy `tuned`: 6 of 6 plans differ",
        "Custom Scan",
        "## Target citus-2",
    ] {
        assert!(md.contains(needle), "{needle:?} in\n{md}");
    }
}

/// `seed --timings --citus-workers 2` on `tiny`: the same dataset seeded through the coordinator and
/// on the single node of the same home in one run; per phase both targets' rows/s and their
/// quotient, the same digest on both, and the single-node-only references said, not refused.
#[test]
fn seed_timings_through_the_coordinator_compare_each_phase_with_the_single_node() {
    let Some(t) = topology() else { return };
    // No dataset lock is held here: the child takes the exclusive one on each target itself, and
    // a lock held across it would deadlock behind it. It reseeds the shared dataset (tiny, 4242,
    // tuned) with the same rows the other tests read.
    let mut args = vec![
        "--citus-workers",
        "2",
        "--format",
        "json",
        "seed",
        "--timings",
    ];
    args.extend(DATASET);
    let out = common::qcheck(&args, &t.home);
    let err = common::stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{err}", common::stdout(&out)));
    crate::ci::assert_valid("seed", &doc);
    let citus = &doc["citus"];
    let target = citus["target"].as_str().unwrap();
    assert!(
        target.contains("Citus (coordinator + 2 workers)"),
        "{target}"
    );
    let single_target = doc["seed"]["target"].as_str().unwrap();
    assert!(
        single_target.starts_with("embedded PostgreSQL") && !single_target.contains("Citus"),
        "{single_target}"
    );
    let digest = doc["seed"]["dataset"]["digest"].as_str().unwrap();
    assert_eq!(digest.len(), 64, "{digest}");
    assert_eq!(citus["seed"]["dataset"]["digest"], digest, "the same rows");
    assert_eq!(citus["same_digest"], true);
    assert_eq!(citus["seed"]["status"], "seeded");
    assert_eq!(doc["seed"]["status"], "seeded");
    let rows = citus["rows"].as_f64().unwrap();
    assert!(rows > 0.0);
    let phases = citus["phases"].as_array().unwrap();
    let names: Vec<&str> = phases
        .iter()
        .map(|p| p["phase"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"load"), "{names:?}");
    assert_eq!(names.last(), Some(&"total"), "{names:?}");
    for p in phases {
        let f = |k: &str| p[k].as_f64().unwrap_or_else(|| panic!("{k} in {p}"));
        let (single, citus_rate) = (f("single_rows_per_sec"), f("citus_rows_per_sec"));
        assert!(single > 0.0 && citus_rate > 0.0, "{p}");
        assert!(
            (single - rows / f("single_seconds")).abs() <= 1e-9 * single
                && (citus_rate - rows / f("citus_seconds")).abs() <= 1e-9 * citus_rate,
            "rows/s is the dataset's rows over the phase's seconds: {p}"
        );
        let quotient = citus_rate / single;
        assert!(
            (f("citus_to_single") - quotient).abs() <= 1e-9 * quotient,
            "the ratio is the quotient of the two rates: {p}"
        );
    }
    let total = phases.last().unwrap();
    assert_eq!(
        total["citus_seconds"], citus["seed"]["total_seconds"],
        "{total}"
    );
    assert_eq!(total["single_seconds"], doc["seed"]["total_seconds"]);
    assert!(
        citus["single_node_only"]
            .as_str()
            .unwrap()
            .contains("single node only"),
        "{citus}"
    );
    // The single node's own references are there, as seed --timings measures them.
    assert!(doc["plain_slot_rows_per_sec"].as_f64().unwrap() > 0.0);
    assert!(doc["copy_binary_rows_per_sec"].as_f64().unwrap() > 0.0);
}

/// A strategy switch through the coordinator (what `compare` and `migrate --strategy` run) builds
/// the leaf indexes of `appointment` one statement at a time (Citus refuses several in one string:
/// it failed with 42601 "cannot insert multiple commands into a prepared statement") under the
/// seed's names, so each shard index is that name and its shard id; the strategy is then in place.
#[test]
fn a_strategy_built_through_the_coordinator_names_leaf_and_shard_indexes_as_the_seed_does() {
    let Some(t) = topology() else { return };
    let (db, mut client) = distributed_db(t, "strategy");
    client
        .batch_execute("SELECT create_appointment_partitions('2026-01-01', '2026-03-01')")
        .unwrap();
    let tuned = qcheck::schema::strategy("tuned").unwrap();
    let fk_only = qcheck::schema::strategy("fk-only").unwrap();
    qcheck::schema::apply_strategy(&mut client, &fk_only).unwrap();
    assert!(
        qcheck::schema::strategy_in_place(&mut client, &tuned)
            .unwrap()
            .is_none()
    );
    qcheck::schema::apply_strategy(&mut client, &tuned).unwrap();
    crate::compare::assert_leaf_indexes_named_as_the_seed_does(&mut client);
    let in_place = qcheck::schema::strategy_in_place(&mut client, &tuned)
        .unwrap()
        .expect("tuned is in place");
    assert_eq!(in_place.len(), tuned.indexes().count());

    // On a worker: every shard of a leaf index is the leaf index's name and a shard id.
    let mut cfg = postgres::Config::new();
    cfg.host_path(t.cluster.followers[0].socket_dir())
        .port(qcheck::cluster::PORT)
        .user(qcheck::cluster::SUPERUSER)
        .dbname(&db);
    let mut w = qcheck::db::connect(&cfg).unwrap();
    w.batch_execute("SET citus.override_table_visibility = off")
        .unwrap();
    // Strategy indexes end in `_idx`, and so would PostgreSQL's own names for them.
    let names: Vec<String> = w
        .query(
            r"SELECT c.relname::text FROM pg_class c
               WHERE c.relkind = 'i' AND c.relname ~ '^appointment_y\d{4}m\d{2}_.*_idx_\d+$'",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let leaves = qcheck::generate::load::existing_leaves(&mut client).unwrap();
    let expected: Vec<String> = tuned
        .indexes()
        .filter(|i| qcheck::generate::post::on_appointment(i))
        .flat_map(|i| leaves.iter().map(|leaf| i.leaf_index_name(leaf)))
        .collect();
    assert!(!names.is_empty());
    for name in &names {
        let leaf_index = name.rsplit_once('_').map_or("", |(head, _)| head);
        assert!(
            expected.iter().any(|e| e == leaf_index),
            "shard index {name} is not a leaf index name ({expected:?}) and a shard id"
        );
    }
}
