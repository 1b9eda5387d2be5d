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
        vec![1, 2, 4]
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
        qcheck::schema::migrate_down(&mut client, 2).unwrap(),
        vec![4],
        "down --to 2 reverts only 0004"
    );
    assert_eq!(
        policy(&mut client),
        "(tenant_id = app_tenant_id())",
        "0004 down restores 0001's policy"
    );
    assert_eq!(
        qcheck::schema::migrate_down(&mut client, 1).unwrap(),
        vec![2],
        "down --to 1 reverts only 0002"
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
        vec![1, 2, 4]
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
