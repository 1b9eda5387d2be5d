//! The data model's guarantees, proven on a real PostgreSQL: migrations round-trip, double booking is
//! impossible (also across a month boundary and under concurrency), MRNs, tenancy, RLS and the audit
//! trail behave as DESIGN.md says.

use crate::common;

use std::sync::{Arc, Barrier};

use postgres::Client;
use postgres::error::SqlState;
use uuid::Uuid;

const TENANT_A: Uuid = Uuid::from_u128(0xa);
const TENANT_B: Uuid = Uuid::from_u128(0xb);

/// Two tenants, each with two providers and two patients; partitions for Jan-Mar 2026.
struct World {
    db: String,
    client: qcheck::db::Conn,
}

fn provider(tenant: Uuid, n: u128) -> Uuid {
    Uuid::from_u128((tenant.as_u128() << 16) | 0x100 | n)
}
fn patient(tenant: Uuid, n: u128) -> Uuid {
    Uuid::from_u128((tenant.as_u128() << 16) | 0x200 | n)
}

fn world(tag: &str) -> World {
    let (db, mut client) = common::migrated_db(tag);
    client
        .batch_execute("SELECT create_appointment_partitions('2026-01-01', '2026-03-01')")
        .unwrap();
    for (tenant, name) in [(TENANT_A, "Clinic A"), (TENANT_B, "Clinic B")] {
        client
            .execute(
                "INSERT INTO tenant (id, name) VALUES ($1, $2)",
                &[&tenant, &name],
            )
            .unwrap();
        for n in 1..=2 {
            client
                .execute(
                    "INSERT INTO provider (id, tenant_id, full_name, specialty) VALUES ($1, $2, $3, 'GP')",
                    &[&provider(tenant, n), &tenant, &format!("Dr {n}")],
                )
                .unwrap();
            client
                .execute(
                    "INSERT INTO patient (id, tenant_id, mrn, given_name, family_name, birth_date)
                     VALUES ($1, $2, $3, 'Ann', 'Lee', DATE '1980-01-01')",
                    &[&patient(tenant, n), &tenant, &format!("MRN-{n:04}")],
                )
                .unwrap();
        }
    }
    World { db, client }
}

fn book(
    client: &mut Client,
    tenant: Uuid,
    prov: Uuid,
    pat: Uuid,
    at: &str,
    minutes: i16,
) -> Result<Uuid, postgres::Error> {
    let id = Uuid::new_v4();
    client.execute(
        "INSERT INTO appointment (id, tenant_id, provider_id, patient_id, scheduled_at, duration_min)
         VALUES ($1, $2, $3, $4, $5::text::timestamptz, $6)",
        &[&id, &tenant, &prov, &pat, &at, &minutes],
    )?;
    Ok(id)
}

fn code(err: &postgres::Error) -> Option<&SqlState> {
    err.code()
}

fn count(client: &mut Client, sql: &str) -> i64 {
    client.query_one(sql, &[]).unwrap().get(0)
}

#[test]
fn migrations_apply_round_trip_and_leave_nothing_behind() {
    let (db, mut client) = common::fresh_db("roundtrip");
    assert_eq!(
        qcheck::schema::migrate_up(&mut client).unwrap(),
        vec![1, 2, 3, 4, 5]
    );
    assert!(
        qcheck::schema::migrate_up(&mut client).unwrap().is_empty(),
        "second run applies nothing"
    );

    let status = qcheck::schema::status(&mut client).unwrap();
    assert!(
        status
            .migrations
            .iter()
            .all(|m| m.state == "applied" && m.applied_at.is_some()),
        "{status:?}"
    );

    let tuned = qcheck::schema::strategy("tuned").unwrap();
    let dump = |client: &mut Client| {
        client
            .batch_execute("SELECT create_appointment_partitions('2026-01-01', '2026-02-01')")
            .unwrap();
        qcheck::schema::apply_strategy(client, &tuned).unwrap();
        let bin = common::pg_bin();
        let socket = common::cluster().cluster.socket_dir();
        let out = std::process::Command::new(bin.program("pg_dump"))
            .args(["--schema-only", "--no-owner", "-h"])
            .arg(&socket)
            .args(["-p", "5432", "-U", "qcheck", "-d", &db])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // pg_dump's \restrict lines carry a random key per run; everything else must match.
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .filter(|l| !l.starts_with("\\restrict") && !l.starts_with("\\unrestrict"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let before = dump(&mut client);
    assert!(before.contains("PARTITION BY RANGE (scheduled_at)"));
    assert!(before.contains("appointment_y2026m01_no_overlap"));

    let policy = |client: &mut Client| -> String {
        client
            .query_one(
                "SELECT qual FROM pg_policies WHERE tablename = 'appointment' AND policyname = 'tenant_isolation'",
                &[],
            )
            .unwrap()
            .get(0)
    };
    assert_eq!(
        policy(&mut client),
        "(tenant_id = ( SELECT app_tenant_id() AS app_tenant_id))"
    );
    assert_eq!(
        qcheck::schema::migrate_down(&mut client, 3).unwrap(),
        vec![5, 4],
        "down --to 3 reverts 0005 and 0004, newest first"
    );
    assert_eq!(
        policy(&mut client),
        "(tenant_id = app_tenant_id())",
        "0004 down restores 0001's policy"
    );
    assert_eq!(
        qcheck::schema::migrate_down(&mut client, 1).unwrap(),
        vec![3, 2],
        "down --to 1 reverts 0003 and 0002, newest first (0004 is already down)"
    );
    assert_eq!(
        qcheck::schema::migrate_down(&mut client, 0).unwrap(),
        vec![1]
    );
    let leftovers = count(
        &mut client,
        "SELECT (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                  WHERE n.nspname = 'public')
              + (SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                  WHERE n.nspname = 'public')
              + (SELECT count(*) FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
                  WHERE n.nspname = 'public')
              + (SELECT count(*) FROM pg_extension WHERE extname <> 'plpgsql')",
    );
    assert_eq!(leftovers, 0, "migrate down leaves no qcheck object behind");

    assert_eq!(
        qcheck::schema::migrate_up(&mut client).unwrap(),
        vec![1, 2, 3, 4, 5]
    );
    let after = dump(&mut client);
    let differing: Vec<(&str, &str)> = before
        .lines()
        .zip(after.lines())
        .filter(|(a, b)| a != b)
        .take(5)
        .collect();
    assert!(
        differing.is_empty() && before.lines().count() == after.lines().count(),
        "down then up gives the identical schema; first differences: {differing:#?}"
    );
}

#[test]
fn a_changed_migration_is_refused() {
    let (_db, mut client) = common::migrated_db("checksum");
    client
        .execute(
            "UPDATE qcheck_migration SET checksum = 'deadbeef0000' || checksum WHERE version = 1",
            &[],
        )
        .unwrap();
    let err = qcheck::schema::migrate_up(&mut client)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("migration 0001_appointment_model was changed after it was applied"),
        "{err}"
    );
    let status = qcheck::schema::status(&mut client).unwrap();
    assert_eq!(status.migrations[0].state, "changed");
}

#[test]
fn double_booking_is_impossible() {
    let mut w = world("double");
    let (a1, a2, p1, p2) = (
        provider(TENANT_A, 1),
        provider(TENANT_A, 2),
        patient(TENANT_A, 1),
        patient(TENANT_A, 2),
    );
    let c = &mut w.client;
    book(c, TENANT_A, a1, p1, "2026-01-15 10:00+00", 30).unwrap();

    let err = book(c, TENANT_A, a1, p2, "2026-01-15 10:15+00", 30).unwrap_err();
    assert_eq!(code(&err), Some(&SqlState::EXCLUSION_VIOLATION), "{err:?}");
    // Touching slots do not overlap: [10:00, 10:30) and [10:30, 11:00).
    book(c, TENANT_A, a1, p2, "2026-01-15 10:30+00", 30).unwrap();
    // Another provider can take the slot.
    book(c, TENANT_A, a2, p2, "2026-01-15 10:00+00", 30).unwrap();

    // Straddling a month boundary: 23:45 on Jan 31 for 30 minutes, against 00:00 on Feb 1. The two rows
    // land in different partitions; the per-partition constraints alone would accept both.
    book(c, TENANT_A, a1, p1, "2026-01-31 23:45+00", 30).unwrap();
    let err = book(c, TENANT_A, a1, p2, "2026-02-01 00:00+00", 30).unwrap_err();
    assert_eq!(code(&err), Some(&SqlState::EXCLUSION_VIOLATION), "{err:?}");
    // ... and the other way round, with the later row booked first.
    book(c, TENANT_A, a2, p1, "2026-02-01 00:10+00", 20).unwrap();
    let err = book(c, TENANT_A, a2, p2, "2026-01-31 23:50+00", 30).unwrap_err();
    assert_eq!(code(&err), Some(&SqlState::EXCLUSION_VIOLATION), "{err:?}");
    // A slot that ends exactly at midnight does not collide with one that starts then.
    book(c, TENANT_A, a2, p2, "2026-01-31 23:30+00", 30).unwrap();
}

#[test]
fn a_cancelled_appointment_frees_its_slot() {
    let mut w = world("cancel");
    let (a1, p1, p2) = (
        provider(TENANT_A, 1),
        patient(TENANT_A, 1),
        patient(TENANT_A, 2),
    );
    let c = &mut w.client;
    let first = book(c, TENANT_A, a1, p1, "2026-01-31 23:45+00", 30).unwrap();
    c.execute(
        "UPDATE appointment SET status = 'cancelled', cancelled_at = now() WHERE id = $1",
        &[&first],
    )
    .unwrap();
    book(c, TENANT_A, a1, p2, "2026-01-31 23:45+00", 30).unwrap();
    book(c, TENANT_A, a1, p1, "2026-02-01 00:15+00", 30).unwrap();
    // Re-activating the cancelled one would double-book: refused.
    let err = c
        .execute(
            "UPDATE appointment SET status = 'booked', cancelled_at = NULL WHERE id = $1",
            &[&first],
        )
        .unwrap_err();
    assert_eq!(code(&err), Some(&SqlState::EXCLUSION_VIOLATION), "{err:?}");
}

#[test]
fn domain_rules_are_checked() {
    let mut w = world("checks");
    let (a1, p1) = (provider(TENANT_A, 1), patient(TENANT_A, 1));
    let c = &mut w.client;
    for minutes in [0, 7, 485] {
        let err = book(c, TENANT_A, a1, p1, "2026-01-10 09:00+00", minutes).unwrap_err();
        assert_eq!(
            code(&err),
            Some(&SqlState::CHECK_VIOLATION),
            "{minutes} min: {err:?}"
        );
    }
    let id = book(c, TENANT_A, a1, p1, "2026-01-10 09:00+00", 30).unwrap();
    let err = c
        .execute(
            "UPDATE appointment SET status = 'cancelled' WHERE id = $1",
            &[&id],
        )
        .unwrap_err();
    assert_eq!(
        code(&err),
        Some(&SqlState::CHECK_VIOLATION),
        "cancelled needs cancelled_at: {err:?}"
    );
    // No partition for 2030: a clear error, not a silent default partition.
    let err = book(c, TENANT_A, a1, p1, "2030-01-10 09:00+00", 30).unwrap_err();
    assert_eq!(code(&err), Some(&SqlState::CHECK_VIOLATION), "{err:?}");
}

#[test]
fn sixteen_concurrent_bookings_at_a_month_boundary_one_wins() {
    let w = world("race");
    let (a1, p1) = (provider(TENANT_A, 1), patient(TENANT_A, 1));
    let barrier = Arc::new(Barrier::new(16));
    let handles: Vec<_> = (0..16)
        .map(|i| {
            let db = w.db.clone();
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                let mut c = common::connect(&db);
                // Starts from 23:30 on Jan 31 to 00:45 on Feb 1, 120 minutes each: starts differ by at
                // most 75 minutes, so every pair overlaps; 6 rows land in January's partition, 10 in
                // February's.
                let start = chrono::DateTime::parse_from_rfc3339("2026-01-31T23:30:00Z").unwrap()
                    + chrono::Duration::minutes(5 * i);
                let at = start.to_rfc3339();
                barrier.wait();
                book(&mut c, TENANT_A, a1, p1, &at, 120)
            })
        })
        .collect();
    let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let winners = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(winners, 1, "{results:?}");
    for err in results.iter().filter_map(|r| r.as_ref().err()) {
        // Losers see the conflict; two inserters that wait on each other are resolved by the deadlock
        // detector, whose victim is also refused (and may retry).
        assert!(
            matches!(code(err), Some(c) if *c == SqlState::EXCLUSION_VIOLATION || *c == SqlState::T_R_DEADLOCK_DETECTED),
            "{err:?}"
        );
    }
    let mut c = common::connect(&w.db);
    let overlapping = count(
        &mut c,
        "SELECT count(*) FROM appointment x JOIN appointment y
            ON x.provider_id = y.provider_id AND x.id < y.id AND x.slot && y.slot
         WHERE x.status <> 'cancelled' AND y.status <> 'cancelled'",
    );
    assert_eq!(overlapping, 0);
}

#[test]
fn live_mrn_is_unique_per_tenant_and_reissued_after_soft_delete() {
    let mut w = world("mrn");
    let c = &mut w.client;
    let insert = |c: &mut Client, tenant: Uuid, mrn: &str| {
        c.execute(
            "INSERT INTO patient (id, tenant_id, mrn, given_name, family_name, birth_date)
             VALUES ($1, $2, $3, 'Bo', 'Ng', DATE '1990-05-05')",
            &[&Uuid::new_v4(), &tenant, &mrn],
        )
    };
    let err = insert(c, TENANT_A, "MRN-0001").unwrap_err();
    assert_eq!(code(&err), Some(&SqlState::UNIQUE_VIOLATION), "{err:?}");
    // The same MRN in another tenant is another person.
    insert(c, TENANT_B, "MRN-0042").unwrap();
    insert(c, TENANT_A, "MRN-0042").unwrap();
    // After a soft delete the MRN can be issued again.
    c.execute(
        "UPDATE patient SET deleted_at = now() WHERE tenant_id = $1 AND mrn = 'MRN-0001'",
        &[&TENANT_A],
    )
    .unwrap();
    insert(c, TENANT_A, "MRN-0001").unwrap();
    assert_eq!(
        count(c, "SELECT count(*) FROM patient WHERE mrn = 'MRN-0001'"),
        3
    );
}

#[test]
fn an_appointment_cannot_reference_another_tenant() {
    let mut w = world("tenancy");
    let c = &mut w.client;
    let err = book(
        c,
        TENANT_A,
        provider(TENANT_B, 1),
        patient(TENANT_A, 1),
        "2026-01-10 09:00+00",
        30,
    )
    .unwrap_err();
    assert_eq!(
        code(&err),
        Some(&SqlState::FOREIGN_KEY_VIOLATION),
        "{err:?}"
    );
    let err = book(
        c,
        TENANT_A,
        provider(TENANT_A, 1),
        patient(TENANT_B, 1),
        "2026-01-10 09:00+00",
        30,
    )
    .unwrap_err();
    assert_eq!(
        code(&err),
        Some(&SqlState::FOREIGN_KEY_VIOLATION),
        "{err:?}"
    );
}

#[test]
fn row_level_security_isolates_tenants() {
    let mut w = world("rls");
    let c = &mut w.client;
    book(
        c,
        TENANT_B,
        provider(TENANT_B, 1),
        patient(TENANT_B, 1),
        "2026-01-10 09:00+00",
        30,
    )
    .unwrap();
    book(
        c,
        TENANT_A,
        provider(TENANT_A, 1),
        patient(TENANT_A, 1),
        "2026-01-10 09:00+00",
        30,
    )
    .unwrap();

    c.batch_execute(&format!(
        "SET ROLE qcheck_app; SET app.tenant_id = '{TENANT_A}'"
    ))
    .unwrap();
    for table in [
        "tenant",
        "provider",
        "patient",
        "appointment",
        "appointment_audit",
    ] {
        let column = if table == "tenant" { "id" } else { "tenant_id" };
        let sql = format!("SELECT count(*) FROM {table} WHERE {column} = '{TENANT_B}'");
        assert_eq!(
            count(c, &sql),
            0,
            "tenant A sees no row of tenant B in {table}"
        );
        let own = format!("SELECT count(*) FROM {table}");
        assert!(count(c, &own) > 0, "tenant A sees its own rows in {table}");
    }
    let err = c
        .execute(
            "INSERT INTO patient (id, tenant_id, mrn, given_name, family_name, birth_date)
             VALUES ($1, $2, 'MRN-9999', 'Eve', 'X', DATE '1970-01-01')",
            &[&Uuid::new_v4(), &TENANT_B],
        )
        .unwrap_err();
    assert_eq!(
        code(&err),
        Some(&SqlState::INSUFFICIENT_PRIVILEGE),
        "{err:?}"
    );
    let err = book(
        c,
        TENANT_B,
        provider(TENANT_B, 1),
        patient(TENANT_B, 1),
        "2026-01-11 09:00+00",
        30,
    )
    .unwrap_err();
    assert_eq!(
        code(&err),
        Some(&SqlState::INSUFFICIENT_PRIVILEGE),
        "{err:?}"
    );
    // Tenant A can still book for itself, as the application role.
    book(
        c,
        TENANT_A,
        provider(TENANT_A, 2),
        patient(TENANT_A, 2),
        "2026-01-11 09:00+00",
        30,
    )
    .unwrap();
    // No tenant set: nothing visible.
    c.batch_execute("RESET app.tenant_id").unwrap();
    assert_eq!(count(c, "SELECT count(*) FROM appointment"), 0);
    // Writing around the trail: the application role cannot.
    let err = c.execute("DELETE FROM appointment_audit", &[]).unwrap_err();
    assert_eq!(
        code(&err),
        Some(&SqlState::INSUFFICIENT_PRIVILEGE),
        "{err:?}"
    );
}

#[test]
fn every_appointment_change_is_audited_and_the_trail_is_append_only() {
    let mut w = world("audit");
    let c = &mut w.client;
    c.batch_execute("SET app.actor = 'frontdesk@clinic-a'")
        .unwrap();
    let id = book(
        c,
        TENANT_A,
        provider(TENANT_A, 1),
        patient(TENANT_A, 1),
        "2026-01-20 14:00+00",
        45,
    )
    .unwrap();
    c.execute(
        "UPDATE appointment SET status = 'completed' WHERE id = $1",
        &[&id],
    )
    .unwrap();

    let rows = c
        .query(
            "SELECT operation, actor, old_row->>'status', new_row->>'status', new_row->>'duration_min'
               FROM appointment_audit WHERE appointment_id = $1 ORDER BY id",
            &[&id],
        )
        .unwrap();
    assert_eq!(rows.len(), 2, "one audit row per insert and per update");
    let row = |i: usize| -> (
        String,
        String,
        Option<String>,
        Option<String>,
        Option<String>,
    ) {
        (
            rows[i].get(0),
            rows[i].get(1),
            rows[i].get(2),
            rows[i].get(3),
            rows[i].get(4),
        )
    };
    assert_eq!(
        row(0),
        (
            "INSERT".into(),
            "frontdesk@clinic-a".into(),
            None,
            Some("booked".into()),
            Some("45".into())
        )
    );
    assert_eq!(
        row(1),
        (
            "UPDATE".into(),
            "frontdesk@clinic-a".into(),
            Some("booked".into()),
            Some("completed".into()),
            Some("45".into())
        )
    );

    // Even the owner cannot rewrite history.
    let err = c
        .execute("UPDATE appointment_audit SET actor = 'someone else'", &[])
        .unwrap_err();
    assert_eq!(
        code(&err),
        Some(&SqlState::INSUFFICIENT_PRIVILEGE),
        "{err:?}"
    );
    let err = c.execute("DELETE FROM appointment_audit", &[]).unwrap_err();
    assert_eq!(
        code(&err),
        Some(&SqlState::INSUFFICIENT_PRIVILEGE),
        "{err:?}"
    );
    let err = c.batch_execute("TRUNCATE appointment_audit").unwrap_err();
    assert_eq!(
        code(&err),
        Some(&SqlState::INSUFFICIENT_PRIVILEGE),
        "{err:?}"
    );
}

#[test]
fn updated_at_is_kept_by_the_database() {
    let mut w = world("touch");
    let c = &mut w.client;
    let id = book(
        c,
        TENANT_A,
        provider(TENANT_A, 1),
        patient(TENANT_A, 1),
        "2026-01-20 14:00+00",
        45,
    )
    .unwrap();
    c.execute("UPDATE appointment SET created_at = created_at - interval '1 day', updated_at = created_at - interval '1 day' WHERE id = $1", &[&id]).unwrap();
    let moved: bool = c
        .query_one(
            "SELECT updated_at > created_at FROM appointment WHERE id = $1",
            &[&id],
        )
        .unwrap()
        .get(0);
    assert!(
        moved,
        "the trigger sets updated_at to now(), whatever the writer sent"
    );
}

/// The five mutually overlapping slot shapes of the booking race, as minutes relative to a midnight
/// `day` (UTC): 23:30+60, 23:45+30, 23:55+10 the evening before, 00:00+15 and 00:00+60. Every pair
/// overlaps (all of them hold [00:00, 00:05)).
fn race_shapes(day: &str) -> Vec<(String, i16)> {
    let midnight = chrono::DateTime::parse_from_rfc3339(&format!("{day}T00:00:00Z")).unwrap();
    [(-30, 60), (-15, 30), (-5, 10), (0, 15), (0, 60)]
        .iter()
        .map(|&(offset, minutes)| {
            let at = midnight + chrono::Duration::minutes(offset);
            (at.to_rfc3339(), minutes)
        })
        .collect()
}

/// `clients` connections, each booking one of `shapes` (round robin) for one provider, released at
/// the same instant by a barrier once every connection is open and warm. Returns each client's result
/// and the time from the release to the last answer.
///
/// Warm as an application's pooled connections are: each has booked the same shape for another
/// provider once (rolled back), so the race does not time each backend's first-use work (catalog
/// caches, PL/pgSQL compilation, foreign-key query plans).
fn booking_race(
    db: &str,
    clients: usize,
    shapes: &[(String, i16)],
) -> (Vec<Result<Uuid, postgres::Error>>, std::time::Duration) {
    let (a1, a2, p1) = (
        provider(TENANT_A, 1),
        provider(TENANT_A, 2),
        patient(TENANT_A, 1),
    );
    let barrier = Arc::new(Barrier::new(clients + 1));
    let handles: Vec<_> = (0..clients)
        .map(|i| {
            let db = db.to_string();
            let barrier = barrier.clone();
            let (at, minutes) = shapes[i % shapes.len()].clone();
            std::thread::spawn(move || {
                let mut c = common::connect(&db);
                c.batch_execute("SET TimeZone = 'UTC'; BEGIN").unwrap();
                book(&mut c, TENANT_A, a2, p1, &at, minutes).unwrap();
                c.batch_execute("ROLLBACK").unwrap();
                barrier.wait();
                book(&mut c, TENANT_A, a1, p1, &at, minutes)
            })
        })
        .collect();
    barrier.wait();
    let released = std::time::Instant::now();
    let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    (results, released.elapsed())
}

/// The race ends with one winner and every loser refused with 23P01 naming the winner's slot; no
/// deadlock (40P01) and no wait for the deadlock detector.
fn assert_race_outcome(
    db: &str,
    what: &str,
    results: &[Result<Uuid, postgres::Error>],
    settled: std::time::Duration,
) {
    eprintln!("{what}: {} clients settled in {settled:?}", results.len());
    let winners: Vec<Uuid> = results
        .iter()
        .filter_map(|r| r.as_ref().ok())
        .copied()
        .collect();
    assert_eq!(winners.len(), 1, "{what}: exactly one winner: {results:?}");
    let mut c = common::connect(db);
    c.batch_execute("SET TimeZone = 'UTC'").unwrap();
    let slot: String = c
        .query_one(
            "SELECT slot::text FROM appointment WHERE id = $1",
            &[&winners[0]],
        )
        .unwrap()
        .get(0);
    let mut refused = 0;
    for err in results.iter().filter_map(|r| r.as_ref().err()) {
        assert_eq!(
            code(err),
            Some(&SqlState::EXCLUSION_VIOLATION),
            "{what}: every loser gets 23P01, never 40P01: {err:?}"
        );
        let detail = err
            .as_db_error()
            .and_then(|e| e.detail())
            .unwrap_or_default();
        assert!(
            detail.contains(&slot),
            "{what}: the DETAIL names the winner's slot {slot}: {detail}"
        );
        refused += 1;
    }
    assert_eq!(refused, results.len() - 1);
    // deadlock_timeout is 1 s: a race that settles well below it cannot have waited for the deadlock
    // detector even once. Measured on a 2-core machine shared with concurrent builds: see the README.
    assert!(
        settled < std::time::Duration::from_millis(500),
        "{what}: the race settles in under 0.5 s, took {settled:?}"
    );
}

#[test]
fn thirty_two_colliding_bookings_queue_and_every_loser_gets_23p01() {
    let w = world("race32");
    // Inside one month: the shapes around midnight of Jan 15, all in January's partition.
    let (results, settled) = booking_race(&w.db, 32, &race_shapes("2026-01-15"));
    assert_race_outcome(&w.db, "inside January", &results, settled);
    // Across the Jan/Feb boundary: three shapes land in January, two in February, and the boundary
    // mirror adds a second exclusion check.
    let (results, settled) = booking_race(&w.db, 32, &race_shapes("2026-02-01"));
    assert_race_outcome(&w.db, "across the month boundary", &results, settled);
}

#[test]
fn bookings_of_different_providers_do_not_wait_for_each_other() {
    let w = world("parallel");
    let (a1, a2, p1, p2) = (
        provider(TENANT_A, 1),
        provider(TENANT_A, 2),
        patient(TENANT_A, 1),
        patient(TENANT_A, 2),
    );
    // Provider 1 is being booked in a transaction that stays open.
    let mut holder = common::connect(&w.db);
    holder.batch_execute("BEGIN").unwrap();
    book(&mut holder, TENANT_A, a1, p1, "2026-02-01 00:00+00", 30).unwrap();

    let mut other = common::connect(&w.db);
    other
        .batch_execute("SET lock_timeout = '300ms'; SET statement_timeout = '2s'")
        .unwrap();
    // Provider 2, the same slot (also near the boundary): no wait.
    let started = std::time::Instant::now();
    book(&mut other, TENANT_A, a2, p2, "2026-02-01 00:00+00", 30).unwrap();
    assert!(started.elapsed() < std::time::Duration::from_millis(300));
    // Provider 1 again, a slot that does not even overlap: it queues behind the open booking of the
    // same provider (that is the per-provider lock) and, with lock_timeout, gives up with 55P03.
    let err = book(&mut other, TENANT_A, a1, p2, "2026-02-01 09:00+00", 30).unwrap_err();
    assert_eq!(code(&err), Some(&SqlState::LOCK_NOT_AVAILABLE), "{err:?}");
    holder.batch_execute("COMMIT").unwrap();
    book(&mut other, TENANT_A, a1, p2, "2026-02-01 09:00+00", 30).unwrap();
}

/// The time zones of every built-in profile's tenants.
fn profile_time_zones() -> Vec<String> {
    let mut zones: Vec<String> = qcheck::dataset::builtin_names()
        .iter()
        .flat_map(|name| {
            qcheck::dataset::Profile::resolve(name)
                .unwrap()
                .spec
                .tenants
                .time_zones
        })
        .collect();
    zones.sort();
    zones.dedup();
    zones
}

#[test]
fn the_inlinable_slot_functions_give_the_values_of_the_old_ones() {
    let (_db, mut c) = common::migrated_db("slotfn");
    // The definitions 0001 shipped, under other names.
    c.batch_execute(
        "CREATE FUNCTION old_slot(start_at timestamptz, duration_min integer) RETURNS tstzrange
         LANGUAGE sql IMMUTABLE STRICT
         RETURN tstzrange(start_at, start_at + duration_min * interval '1 minute', '[)');
         CREATE FUNCTION old_near_boundary(slot tstzrange) RETURNS boolean
         LANGUAGE sql STABLE STRICT
         RETURN date_trunc('month', lower(slot), 'UTC') <> date_trunc('month', upper(slot) - interval '1 microsecond', 'UTC')
             OR lower(slot) < date_trunc('month', lower(slot), 'UTC') + interval '480 minutes';",
    )
    .unwrap();
    // Inlined: the planner replaces the call by its body (the point of 0003: no call per row).
    let plan: String = c
        .query(
            "EXPLAIN (VERBOSE, COSTS OFF)
             SELECT appointment_slot(t, d), appointment_near_boundary(r)
               FROM (VALUES (now(), 30, tstzrange(now(), now()))) v(t, d, r)",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get::<_, String>(0))
        .collect();
    assert!(
        !plan.contains("appointment_slot(") && !plan.contains("appointment_near_boundary("),
        "both functions are inlined: {plan}"
    );

    let zones = profile_time_zones();
    assert!(zones.len() >= 5, "{zones:?}");
    for zone in &zones {
        c.batch_execute(&format!("SET TimeZone = '{zone}'"))
            .unwrap();
        // Instants: around every UTC month boundary of 2025-12..2028-03 (every 5 minutes within 8 h,
        // and a microsecond either side), local midnights and month ends in this zone, the 2026 DST
        // transitions of Europe and North America, leap days, infinities, NULL. Durations: the schema's
        // range and beyond (0 gives an empty range), and NULL.
        let row = c
            .query_one(
                "WITH instants AS (
                     SELECT b + o * interval '1 minute' + e * interval '1 microsecond' AS t
                       FROM generate_series(timestamptz '2025-12-01 00:00+00', timestamptz '2028-03-01 00:00+00',
                                            interval '1 month') AS b,
                            generate_series(-500, 500, 5) AS o, (VALUES (-1), (0), (1)) AS x(e)
                     UNION ALL
                     SELECT date_trunc('month', d) + interval '1 month' - s
                       FROM generate_series(timestamp '2026-01-01', timestamp '2028-12-01', interval '1 month') AS d,
                            (VALUES (interval '0'), (interval '1 microsecond'), (interval '1 millisecond'),
                                    (interval '30 minutes'), (interval '1 day')) AS y(s)
                     UNION ALL
                     SELECT unnest(ARRAY['2026-03-08 01:59:59.999999', '2026-03-08 02:30', '2026-03-08 03:00',
                                         '2026-11-01 00:59:59.999999', '2026-11-01 01:30', '2026-11-01 02:00',
                                         '2026-03-29 01:59:59.999999', '2026-03-29 02:30', '2026-03-29 03:00',
                                         '2026-10-25 02:30', '2026-10-25 03:00', '2028-02-29 23:59:59.999999',
                                         '2028-02-29 00:00', '2024-02-29 12:00', '2026-12-31 23:59:59.999',
                                         'infinity', '-infinity']::timestamptz[])
                     UNION ALL SELECT NULL),
                 durations AS (SELECT unnest(ARRAY[0, 5, 30, 475, 480, 485, 1440, 44640, NULL]) AS d),
                 slots AS (SELECT t, d, appointment_slot(t, d) AS new, old_slot(t, d) AS old
                             FROM instants, durations)
                 SELECT count(*),
                        count(*) FILTER (WHERE new IS DISTINCT FROM old),
                        count(*) FILTER (WHERE appointment_near_boundary(old) IS DISTINCT FROM old_near_boundary(old)),
                        count(*) FILTER (WHERE old IS NULL),
                        count(*) FILTER (WHERE old_near_boundary(old))
                   FROM slots",
                &[],
            )
            .unwrap();
        let (cases, slot_diff, near_diff, nulls, near): (i64, i64, i64, i64, i64) =
            (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4));
        assert!(
            cases > 150_000 && nulls > 0 && near > 0,
            "{zone}: {cases} cases, {nulls} NULL, {near} near a boundary"
        );
        assert_eq!(
            (slot_diff, near_diff),
            (0, 0),
            "{zone}: the new definitions differ from the old ones"
        );
        // Ranges no slot makes: unbounded either side, empty, NULL.
        let odd: i64 = c
            .query_one(
                "SELECT count(*) FILTER (WHERE appointment_near_boundary(r) IS DISTINCT FROM old_near_boundary(r))
                   FROM unnest(ARRAY['(,)', '[2026-01-31 23:00+00,)', '(,2026-02-01 01:00+00)', 'empty',
                                     '[2026-02-01 07:59:59.999999+00,2026-02-01 08:00+00)', NULL]::tstzrange[]) r",
                &[],
            )
            .unwrap()
            .get(0);
        assert_eq!(odd, 0, "{zone}");
    }
}

#[test]
fn a_partition_made_by_plain_ddl_gets_its_guard() {
    let mut w = world("guard");
    let (a1, p1, p2) = (
        provider(TENANT_A, 1),
        patient(TENANT_A, 1),
        patient(TENANT_A, 2),
    );
    let c = &mut w.client;
    let unguarded =
        |c: &mut Client| -> Vec<String> { qcheck::schema::status(c).unwrap().unguarded_partitions };
    assert!(unguarded(c).is_empty());

    // CREATE TABLE ... PARTITION OF, as a DBA or pg_partman would.
    c.batch_execute(
        "CREATE TABLE appointment_2026_04 PARTITION OF appointment
             FOR VALUES FROM ('2026-04-01 00:00+00') TO ('2026-05-01 00:00+00')",
    )
    .unwrap();
    book(c, TENANT_A, a1, p1, "2026-04-10 09:00+00", 30).unwrap();
    let err = book(c, TENANT_A, a1, p2, "2026-04-10 09:00+00", 30).unwrap_err();
    assert_eq!(code(&err), Some(&SqlState::EXCLUSION_VIOLATION), "{err:?}");

    // ATTACH PARTITION of a table made apart. Its rows are checked as the guard is built: an overlapping
    // pair makes the ATTACH fail ...
    c.batch_execute(
        "CREATE TABLE appointment_2026_05 (LIKE appointment INCLUDING DEFAULTS INCLUDING GENERATED INCLUDING CONSTRAINTS)",
    )
    .unwrap();
    for patient_id in [p1, p2] {
        c.execute(
            "INSERT INTO appointment_2026_05 (id, tenant_id, provider_id, patient_id, scheduled_at, duration_min)
             VALUES ($1, $2, $3, $4, '2026-05-04 10:00+00', 30)",
            &[&Uuid::new_v4(), &TENANT_A, &a1, &patient_id],
        )
        .unwrap();
    }
    let attach = "ALTER TABLE appointment ATTACH PARTITION appointment_2026_05
                      FOR VALUES FROM ('2026-05-01 00:00+00') TO ('2026-06-01 00:00+00')";
    let err = c.batch_execute(attach).unwrap_err();
    assert_eq!(code(&err), Some(&SqlState::EXCLUSION_VIOLATION), "{err:?}");
    // ... and without the overlap it is attached with its guard.
    c.execute(
        "DELETE FROM appointment_2026_05 WHERE patient_id = $1",
        &[&p2],
    )
    .unwrap();
    c.batch_execute(attach).unwrap();
    let err = book(c, TENANT_A, a1, p2, "2026-05-04 10:15+00", 30).unwrap_err();
    assert_eq!(code(&err), Some(&SqlState::EXCLUSION_VIOLATION), "{err:?}");
    assert!(unguarded(c).is_empty());
    // Both also got migration 0005's provider-tenant dependency statistics, like every other leaf.
    let without_statistics: Vec<String> = c
        .query(
            "SELECT t.relid::text FROM pg_partition_tree('appointment') t
              WHERE t.isleaf AND NOT EXISTS (SELECT FROM pg_statistic_ext s
                                              WHERE s.stxrelid = t.relid AND s.stxkind = '{f}')",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(without_statistics.is_empty(), "{without_statistics:?}");

    // A bulk load's partition, made without its guard on purpose, is reported until it gets it; so is
    // a leaf whose constraint its owner dropped.
    c.batch_execute("SELECT create_appointment_partition('2026-06-01', false)")
        .unwrap();
    c.batch_execute(
        "ALTER TABLE appointment_2026_04 DROP CONSTRAINT appointment_2026_04_no_overlap",
    )
    .unwrap();
    assert_eq!(
        unguarded(c),
        vec!["appointment_2026_04", "appointment_y2026m06"]
    );
    c.batch_execute(
        "SELECT add_appointment_partition_exclusion('appointment_2026_04');
         SELECT add_appointment_partition_exclusion('appointment_y2026m06')",
    )
    .unwrap();
    assert!(unguarded(c).is_empty());
}

#[test]
fn deleted_patients_and_providers_cannot_be_booked() {
    let mut w = world("softdel");
    let (a1, a2, p1, p2) = (
        provider(TENANT_A, 1),
        provider(TENANT_A, 2),
        patient(TENANT_A, 1),
        patient(TENANT_A, 2),
    );
    let c = &mut w.client;
    let kept = book(c, TENANT_A, a2, p1, "2026-01-12 09:00+00", 30).unwrap();
    let earlier = book(c, TENANT_A, a1, p2, "2026-01-12 10:00+00", 30).unwrap();
    c.execute(
        "UPDATE appointment SET status = 'cancelled', cancelled_at = now() WHERE id = $1",
        &[&earlier],
    )
    .unwrap();
    c.execute(
        "UPDATE provider SET deleted_at = now() WHERE id = $1",
        &[&a1],
    )
    .unwrap();
    c.execute(
        "UPDATE patient SET deleted_at = now() WHERE id = $1",
        &[&p1],
    )
    .unwrap();
    let refused = |err: postgres::Error, what: &str| {
        let db = err.as_db_error().expect("a database error");
        assert_eq!(db.code().code(), "QB001", "{what}: {db:?}");
        assert!(
            db.message().contains(&format!("the {what} was deleted")),
            "{what}: {db:?}"
        );
    };
    // New bookings: refused for the deleted provider, and for the deleted patient.
    refused(
        book(c, TENANT_A, a1, p2, "2026-01-13 09:00+00", 30).unwrap_err(),
        "provider",
    );
    refused(
        book(c, TENANT_A, a2, p1, "2026-01-13 09:00+00", 30).unwrap_err(),
        "patient",
    );
    // Back into `booked` (a cancelled appointment of the deleted provider), and a reschedule of the
    // deleted patient's booking: also bookings, also refused.
    refused(
        c.execute(
            "UPDATE appointment SET status = 'booked', cancelled_at = NULL WHERE id = $1",
            &[&earlier],
        )
        .unwrap_err(),
        "provider",
    );
    refused(
        c.execute(
            "UPDATE appointment SET scheduled_at = scheduled_at + interval '1 hour' WHERE id = $1",
            &[&kept],
        )
        .unwrap_err(),
        "patient",
    );
    // The history stays writable: the kept booking can be completed, or cancelled.
    c.execute(
        "UPDATE appointment SET status = 'completed' WHERE id = $1",
        &[&kept],
    )
    .unwrap();
    // Live patients and providers are booked as before.
    book(c, TENANT_A, a2, p2, "2026-01-13 09:00+00", 30).unwrap();
}

/// operation, actor, session_role, old scheduled_at, new scheduled_at.
type AuditEntry = (
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
);

#[test]
fn a_reschedule_across_months_is_audited_as_one_update_with_the_login_role() {
    let mut w = world("moveaudit");
    let c = &mut w.client;
    c.batch_execute("SET app.actor = 'frontdesk@clinic-a'")
        .unwrap();
    let id = book(
        c,
        TENANT_A,
        provider(TENANT_A, 1),
        patient(TENANT_A, 1),
        "2026-01-31 15:00+00",
        30,
    )
    .unwrap();
    // To February: the row moves to another partition (a DELETE and an INSERT inside PostgreSQL).
    c.execute(
        "UPDATE appointment SET scheduled_at = '2026-02-02 09:00+00' WHERE id = $1",
        &[&id],
    )
    .unwrap();
    // Within February: an ordinary update.
    c.execute(
        "UPDATE appointment SET scheduled_at = '2026-02-03 09:00+00' WHERE id = $1",
        &[&id],
    )
    .unwrap();
    let login: String = c
        .query_one("SELECT session_user::text", &[])
        .unwrap()
        .get(0);
    let rows = c
        .query(
            "SELECT operation, actor, session_role, old_row->>'scheduled_at', new_row->>'scheduled_at'
               FROM appointment_audit WHERE appointment_id = $1 ORDER BY id",
            &[&id],
        )
        .unwrap();
    let trail: Vec<AuditEntry> = rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
        .collect();
    let entry = |op: &str, old: Option<&str>, new: &str| {
        (
            op.to_string(),
            "frontdesk@clinic-a".to_string(),
            Some(login.clone()),
            old.map(str::to_string),
            Some(new.to_string()),
        )
    };
    assert_eq!(
        trail,
        vec![
            entry("INSERT", None, "2026-01-31T15:00:00+00:00"),
            entry(
                "UPDATE",
                Some("2026-01-31T15:00:00+00:00"),
                "2026-02-02T09:00:00+00:00"
            ),
            entry(
                "UPDATE",
                Some("2026-02-02T09:00:00+00:00"),
                "2026-02-03T09:00:00+00:00"
            ),
        ],
        "no DELETE, no second INSERT; the login role beside the claimed actor"
    );
    // A multi-row statement moving several appointments still gives one UPDATE each.
    let other = book(
        c,
        TENANT_A,
        provider(TENANT_A, 2),
        patient(TENANT_A, 2),
        "2026-02-10 09:00+00",
        30,
    )
    .unwrap();
    c.execute(
        "UPDATE appointment SET scheduled_at = scheduled_at + interval '1 month' WHERE id IN ($1, $2)",
        &[&id, &other],
    )
    .unwrap();
    let ops: Vec<String> = c
        .query(
            "SELECT operation FROM appointment_audit WHERE appointment_id IN ($1, $2) ORDER BY id",
            &[&id, &other],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        ops,
        ["INSERT", "UPDATE", "UPDATE", "INSERT", "UPDATE", "UPDATE"]
    );
}

#[test]
fn a_migration_that_cannot_get_its_locks_gives_up_instead_of_stalling_the_application() {
    let (db, mut client) = common::migrated_db("locktimeout");
    assert_eq!(
        qcheck::schema::migrate_down(&mut client, 2).unwrap(),
        vec![5, 4, 3]
    );
    // A long transaction of the application has read appointment: 0003's CREATE TRIGGER needs a lock
    // that conflicts with none of the readers' but waits for this one.
    let mut app = common::connect(&db);
    app.batch_execute("BEGIN; LOCK TABLE appointment IN ROW EXCLUSIVE MODE")
        .unwrap();
    let timeouts = qcheck::schema::MigrationTimeouts {
        lock: "200ms".into(),
        statement: "1min".into(),
    };
    let started = std::time::Instant::now();
    let err = qcheck::schema::migrate_up_with(&mut client, &timeouts).unwrap_err();
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "gave up after lock_timeout"
    );
    match &err {
        qcheck::error::Error::Migration {
            version, source, ..
        } => {
            assert_eq!(*version, 3);
            assert_eq!(source.code(), Some(&SqlState::LOCK_NOT_AVAILABLE), "{err}");
        }
        other => panic!("expected a migration error, got {other}"),
    }
    app.batch_execute("COMMIT").unwrap();
    assert_eq!(
        qcheck::schema::migrate_up_with(&mut client, &timeouts).unwrap(),
        vec![3, 4, 5]
    );
    // The timeouts were the migration transaction's own.
    let lock: String = client
        .query_one("SELECT current_setting('lock_timeout')", &[])
        .unwrap()
        .get(0);
    assert_eq!(lock, "0");
}

#[test]
fn a_database_that_applied_0002_before_its_comment_was_corrected_is_up_to_date() {
    let (_db, mut client) = common::migrated_db("reworded");
    // What a database migrated by an earlier qcheck recorded for 0002: the sha256 of its first text.
    client
        .execute(
            "UPDATE qcheck_migration SET checksum = $1 WHERE version = 2",
            &[&"0a78e1dc11c6eff76b4bae08bac08d66862bf4323dc39523b0bd628ea4d0a399"],
        )
        .unwrap();
    let status = qcheck::schema::status(&mut client).unwrap();
    assert_eq!(status.migrations[1].state, "applied", "{status:?}");
    assert!(qcheck::schema::migrate_up(&mut client).unwrap().is_empty());
    let recorded: String = client
        .query_one(
            "SELECT checksum FROM qcheck_migration WHERE version = 2",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(
        recorded,
        qcheck::schema::migrations().unwrap()[1].checksum(),
        "the current text's checksum is recorded"
    );
}
