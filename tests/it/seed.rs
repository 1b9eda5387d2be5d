//! The generator and loader against a real PostgreSQL (the shared throwaway cluster of this test
//! binary, one database per test): `qcheck seed` on the `tiny` profile is deterministic, follows the
//! profile, never breaks the schema's rules, leaves index-only scans without heap fetches, is cached,
//! and survives being killed mid-COPY.

use crate::common;

use std::time::{Duration, Instant};

use postgres::Client;
use qcheck::dataset::Profile;
use qcheck::db::{Session, Target};
use qcheck::generate::produce::{produce_to_nothing, segments};
use qcheck::generate::{
    SeedOutcome, SeedRequest, SeedStatus, World, current_dataset, ensure_seeded,
};
use qcheck::progress::Progress;
use qcheck::tls::TlsSettings;

/// The digest of `tiny` at scale 1 with seed 42. It changes only when the generator's output does
/// (then bump `GENERATOR_VERSION` too, see `generate::produce::tests::TINY_PINNED`): same profile,
/// scale and seed, same rows, on every machine.
const TINY_DIGEST: &str = "df1338748446a121962dd924ae7765b9da9208976c8befd3f99d6a8affae33b0";

/// A session on a fresh test database, as `--database-url` would give.
fn session(tag: &str) -> (String, Session) {
    let (name, _) = common::fresh_db(tag);
    let cfg = common::cluster().session.config(Some(&name));
    let session = Target::Server(Box::new(cfg), TlsSettings::default())
        .open()
        .unwrap();
    (name, session)
}

fn request(scale: f64, seed: u64) -> SeedRequest {
    SeedRequest::new("tiny", scale, seed, "tuned").unwrap()
}

fn seed(session: &Session, scale: f64, seed: u64) -> SeedOutcome {
    ensure_seeded(session, &request(scale, seed), &Progress::quiet()).unwrap()
}

fn count(client: &mut Client, sql: &str) -> i64 {
    client.query_one(sql, &[]).unwrap().get(0)
}

#[test]
fn the_digest_is_stable_across_fresh_seeds_and_pinned() {
    let (_, a) = session("digest_a");
    let (_, b) = session("digest_b");
    let first = seed(&a, 1.0, 42);
    let second = seed(&b, 1.0, 42);
    assert_eq!(first.status, SeedStatus::Seeded);
    assert_eq!(first.dataset.digest, second.dataset.digest);
    assert_eq!(first.dataset.digest, TINY_DIGEST);
    // The digest is the generator's, computed client-side: the same without any database.
    let world = World::plan(&Profile::resolve("tiny").unwrap(), 1.0, 42).unwrap();
    let produced = produce_to_nothing(&world, &segments(&world)).unwrap();
    assert_eq!(produced.digest, TINY_DIGEST);
}

#[test]
fn row_counts_follow_the_profile_at_two_scales() {
    let profile = Profile::resolve("tiny").unwrap();
    for (tag, scale) in [("counts_1", 1.0), ("counts_3", 3.0)] {
        let (name, s) = session(tag);
        let outcome = seed(&s, scale, 7);
        let want = profile.counts(scale);
        let mut c = common::connect(&name);
        assert_eq!(
            count(&mut c, "SELECT count(*) FROM tenant"),
            i64::try_from(want.tenants).unwrap()
        );
        assert_eq!(
            count(&mut c, "SELECT count(*) FROM provider"),
            i64::try_from(want.providers).unwrap()
        );
        assert_eq!(
            count(&mut c, "SELECT count(*) FROM patient"),
            i64::try_from(want.patients).unwrap()
        );
        assert_eq!(
            count(&mut c, "SELECT count(*) FROM appointment"),
            i64::try_from(want.appointments).unwrap()
        );
        let leaves = count(
            &mut c,
            "SELECT count(*) FROM pg_partition_tree('appointment') WHERE isleaf",
        );
        assert_eq!(leaves, i64::try_from(profile.months().len()).unwrap());
        // Every leaf got its exclusion constraint after the load.
        let constrained = count(
            &mut c,
            "SELECT count(*) FROM pg_constraint WHERE contype = 'x' AND conname LIKE 'appointment_y%_no_overlap'",
        );
        assert_eq!(constrained, leaves);
        // The summary reports what the database holds.
        let appt = outcome
            .tables
            .iter()
            .find(|t| t.table == "appointment")
            .unwrap();
        assert_eq!(appt.rows, want.appointments);
        assert_eq!(i64::from(appt.partitions), leaves);
        assert!(appt.table_bytes > 0 && appt.index_bytes > 0);
    }
}

#[test]
fn the_data_keeps_every_rule_of_the_schema() {
    let (name, s) = session("rules");
    seed(&s, 1.0, 42);
    let mut c = common::connect(&name);
    // No two appointments of a provider overlap, whatever their status or partition.
    let overlaps = count(
        &mut c,
        "SELECT count(*) FROM appointment a JOIN appointment b
            ON a.provider_id = b.provider_id AND (a.id, a.scheduled_at) < (b.id, b.scheduled_at)
           AND a.slot && b.slot",
    );
    assert_eq!(overlaps, 0);
    // Every reference stays inside its tenant (the load bypassed the foreign-key triggers).
    for (what, sql) in [
        (
            "provider",
            "SELECT count(*) FROM appointment a WHERE NOT EXISTS
               (SELECT FROM provider p WHERE p.id = a.provider_id AND p.tenant_id = a.tenant_id)",
        ),
        (
            "patient",
            "SELECT count(*) FROM appointment a WHERE NOT EXISTS
               (SELECT FROM patient p WHERE p.id = a.patient_id AND p.tenant_id = a.tenant_id)",
        ),
        (
            "tenant of provider",
            "SELECT count(*) FROM provider p WHERE NOT EXISTS (SELECT FROM tenant t WHERE t.id = p.tenant_id)",
        ),
        (
            "tenant of patient",
            "SELECT count(*) FROM patient p WHERE NOT EXISTS (SELECT FROM tenant t WHERE t.id = p.tenant_id)",
        ),
        (
            "deleted patient booked after deletion",
            "SELECT count(*) FROM appointment a JOIN patient p ON p.id = a.patient_id
              WHERE p.deleted_at IS NOT NULL AND upper(a.slot) > p.deleted_at",
        ),
        (
            // The booking guard's rule (migration 0003), which no trigger checked during the load.
            "live booking of a deleted patient or provider",
            "SELECT count(*) FROM appointment a
               JOIN patient pa ON pa.id = a.patient_id JOIN provider pr ON pr.id = a.provider_id
              WHERE a.status = 'booked' AND (pa.deleted_at IS NOT NULL OR pr.deleted_at IS NOT NULL)",
        ),
        (
            "leaf without its exclusion constraint",
            "SELECT count(*) FROM appointment_unguarded_partitions()",
        ),
        (
            "scratch table left behind (a leaf still detached)",
            "SELECT count(*) FROM pg_class WHERE obj_description(oid, 'pg_class') LIKE 'qcheck scratch%'",
        ),
        (
            "live MRN used twice",
            "SELECT count(*) FROM (SELECT tenant_id, mrn FROM patient WHERE deleted_at IS NULL
                                   GROUP BY 1, 2 HAVING count(*) > 1) d",
        ),
    ] {
        assert_eq!(count(&mut c, sql), 0, "{what}");
    }
    // Past appointments are completed / no-show / cancelled, upcoming ones booked / cancelled, in
    // roughly the profile's mix (tiny: 75/10/15 and 85/15).
    let as_of = "TIMESTAMPTZ '2026-04-15 00:00 UTC'";
    assert_eq!(
        count(
            &mut c,
            &format!(
                "SELECT count(*) FROM appointment WHERE upper(slot) <= {as_of} AND status = 'booked'"
            )
        ),
        0
    );
    assert_eq!(
        count(
            &mut c,
            &format!(
                "SELECT count(*) FROM appointment WHERE upper(slot) > {as_of} AND status IN ('completed', 'no_show')"
            )
        ),
        0
    );
    let share = |c: &mut Client, when: &str, status: &str| -> f64 {
        let row = c
            .query_one(
                &format!(
                    "SELECT (count(*) FILTER (WHERE status = '{status}'))::float8 / count(*) FROM appointment
                      WHERE {when}"
                ),
                &[],
            )
            .unwrap();
        row.get(0)
    };
    let past = format!("upper(slot) <= {as_of}");
    let future = format!("upper(slot) > {as_of}");
    for (when, status, want) in [
        (&past, "completed", 0.75),
        (&past, "no_show", 0.10),
        (&past, "cancelled", 0.15),
        (&future, "booked", 0.85),
        (&future, "cancelled", 0.15),
    ] {
        let got = share(&mut c, when, status);
        assert!(
            (got - want).abs() < 0.04,
            "{status} when {when}: {got} vs {want}"
        );
    }
    // Some appointments cross midnight UTC, and the boundary guard mirrors what it should.
    assert!(
        count(
            &mut c,
            "SELECT count(*) FROM appointment WHERE lower(slot)::date <> (upper(slot) - interval '1 us')::date"
        ) > 0
    );
    let mirror = count(
        &mut c,
        "SELECT count(*) FROM appointment WHERE status <> 'cancelled' AND appointment_near_boundary(slot)",
    );
    assert!(mirror > 0);
    assert_eq!(
        count(&mut c, "SELECT count(*) FROM appointment_boundary_slot"),
        mirror
    );
    // Audit trails: an INSERT for every sampled appointment, an UPDATE for those no longer booked.
    assert!(
        count(
            &mut c,
            "SELECT count(*) FROM appointment_audit WHERE operation = 'INSERT'"
        ) > 0
    );
    assert_eq!(
        count(
            &mut c,
            "SELECT count(*) FROM appointment_audit u JOIN appointment a ON a.id = u.appointment_id
              WHERE u.operation = 'UPDATE' AND (a.status = 'booked' OR u.new_row->>'status' <> a.status::text)"
        ),
        0
    );
}

/// The catalog entries of one leaf of `appointment` that make it a partition like any other: its
/// columns, constraints, triggers, indexes and statistics objects, with the leaf's name replaced by
/// `LEAF` (index names aside: PostgreSQL names the indexes it creates itself after their columns).
fn leaf_catalog(c: &mut Client, leaf: &str) -> Vec<String> {
    let sql = "
        SELECT format('column %s local=%s inh=%s notnull=%s generated=%s', attname, attislocal,
                      attinhcount, attnotnull, attgenerated)
          FROM pg_attribute WHERE attrelid = $1::text::regclass AND attnum > 0 AND NOT attisdropped
        UNION ALL
        SELECT format('constraint %s %s local=%s inh=%s parent=%s valid=%s %s',
                      replace(conname, $2, 'LEAF'), contype, conislocal, coninhcount,
                      conparentid <> 0, convalidated, pg_get_constraintdef(oid))
          FROM pg_constraint WHERE conrelid = $1::text::regclass
        UNION ALL
        SELECT format('trigger %s cloned=%s enabled=%s', tgname, tgparentid <> 0, tgenabled)
          FROM pg_trigger WHERE tgrelid = $1::text::regclass AND NOT tgisinternal
        UNION ALL
        SELECT format('index primary=%s unique=%s exclusion=%s valid=%s attached=%s %s', i.indisprimary,
                      i.indisunique, i.indisexclusion, i.indisvalid,
                      EXISTS (SELECT FROM pg_inherits h WHERE h.inhrelid = i.indexrelid),
                      regexp_replace(pg_get_indexdef(i.indexrelid), '^.* USING ', ''))
          FROM pg_index i WHERE i.indrelid = $1::text::regclass
        UNION ALL
        SELECT format('statistics %s %s', replace(stxname, $2, 'LEAF'), stxkind)
          FROM pg_statistic_ext WHERE stxrelid = $1::text::regclass
        UNION ALL
        SELECT format('relation partition=%s rls=%s comment=%s', relispartition, relrowsecurity,
                      obj_description(oid, 'pg_class'))
          FROM pg_class WHERE oid = $1::text::regclass
        ORDER BY 1";
    c.query(sql, &[&leaf, &leaf])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

#[test]
fn seeded_leaves_are_partitions_like_the_ones_create_appointment_partition_makes() {
    // The seed loads its leaves detached and attaches them back (see generate::load): afterwards each
    // must be exactly what create_appointment_partition and the strategy give a new month, with the
    // booking guard and the other triggers cloned back, constraints inherited, the primary key and
    // the strategy's indexes attached to the parent's, and migration 0005's statistics filled.
    let (name, s) = session("leaf_catalog");
    seed(&s, 1.0, 42);
    let mut c = common::connect(&name);
    let leaves: Vec<String> = c
        .query(
            "SELECT relid::text FROM pg_partition_tree('appointment') WHERE isleaf ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(leaves.len(), 4, "{leaves:?}");
    c.batch_execute("SELECT create_appointment_partition('2031-01-01')")
        .unwrap();
    let made = leaf_catalog(&mut c, "appointment_y2031m01");
    assert!(
        made.iter()
            .any(|l| l == "trigger appointment_booking_guard cloned=t enabled=O"),
        "{made:#?}"
    );
    assert!(
        made.iter()
            .any(|l| l == "statistics LEAF_provider_tenant {f}"),
        "{made:#?}"
    );
    for leaf in &leaves {
        assert_eq!(leaf_catalog(&mut c, leaf), made, "{leaf}");
    }
    // ANALYZE after the load filled the dependency statistics of every leaf.
    assert_eq!(
        count(
            &mut c,
            "SELECT count(*) FROM pg_stats_ext
              WHERE tablename LIKE 'appointment\\_y%' AND statistics_name LIKE '%\\_provider\\_tenant'
                AND dependencies IS NOT NULL"
        ),
        4
    );
}

#[test]
fn scratch_tables_are_qchecks_own_and_the_next_seed_drops_them() {
    // What a `seed --timings` killed while loading its plain-slot reference leaves behind: the twin,
    // marked as scratch when it was created. It is not a table of somebody else's (a plain seed must
    // not ask for --yes because of it), and the next seed drops it. An unmarked table stays foreign.
    let (name, s) = session("scratch");
    seed(&s, 1.0, 42);
    let mut c = common::connect(&name);
    c.batch_execute(&format!(
        "CREATE TABLE qcheck_timings_plain_slot (LIKE appointment INCLUDING ALL EXCLUDING GENERATED)
             PARTITION BY RANGE (scheduled_at);
         CREATE TABLE qcheck_timings_plain_slot_y2026m01 PARTITION OF qcheck_timings_plain_slot
             FOR VALUES FROM ('2026-01-01 00:00:00+00') TO ('2026-02-01 00:00:00+00');
         {};
         CREATE TABLE someone_elses (id int);",
        qcheck::schema::mark_scratch_sql(
            "qcheck_timings_plain_slot",
            "the plain-slot reference of seed --timings"
        )
    ))
    .unwrap();
    assert_eq!(
        qcheck::schema::foreign_tables(&mut c).unwrap(),
        ["someone_elses"]
    );
    assert_eq!(
        qcheck::schema::scratch_tables(&mut c).unwrap(),
        ["qcheck_timings_plain_slot"]
    );
    let mut forced = request(1.0, 42);
    forced.force = Some("--force");
    ensure_seeded(&s, &forced, &Progress::quiet()).unwrap();
    assert!(qcheck::schema::scratch_tables(&mut c).unwrap().is_empty());
    assert_eq!(
        count(
            &mut c,
            "SELECT count(*) FROM pg_class WHERE relname LIKE 'qcheck\\_timings%'"
        ),
        0
    );
    assert_eq!(
        qcheck::schema::foreign_tables(&mut c).unwrap(),
        ["someone_elses"]
    );
}

/// Every node of an EXPLAIN (FORMAT JSON) plan.
fn nodes(plan: &serde_json::Value, out: &mut Vec<serde_json::Value>) {
    out.push(plan.clone());
    if let Some(children) = plan.get("Plans").and_then(|p| p.as_array()) {
        for child in children {
            nodes(child, out);
        }
    }
}

/// Issue 11's realistic patients, checked in SQL on what was loaded: no patient has two overlapping
/// live appointments (live = not cancelled, the exclusion constraint's rule), nor two appointments
/// of any status on one local day; nobody has more than `max_per_week` in a local calendar week, and
/// the most popular patients do reach it (the skew is kept); the busiest patient, whom
/// `patient_history` pages through, has a history of tens to a few hundred appointments.
fn assert_realistic_patients(c: &mut Client, max_per_week: i64) {
    let overlapping_live_pairs = count(
        c,
        "SELECT count(*) FROM appointment a JOIN appointment b
            ON a.patient_id = b.patient_id AND (a.id, a.scheduled_at) < (b.id, b.scheduled_at)
           AND a.slot && b.slot
         WHERE a.status <> 'cancelled' AND b.status <> 'cancelled'",
    );
    assert_eq!(overlapping_live_pairs, 0);
    let local = "(a.scheduled_at AT TIME ZONE t.time_zone)";
    let busy_days = count(
        c,
        &format!(
            "SELECT count(*) FROM (SELECT 1 FROM appointment a JOIN tenant t ON t.id = a.tenant_id
              GROUP BY a.patient_id, {local}::date HAVING count(*) > 1) d"
        ),
    );
    assert_eq!(busy_days, 0, "patient-days with two appointments");
    let busiest_week = count(
        c,
        &format!(
            "SELECT max(n) FROM (SELECT count(*) AS n FROM appointment a JOIN tenant t ON t.id = a.tenant_id
              GROUP BY a.patient_id, date_trunc('week', {local})) w"
        ),
    );
    assert_eq!(busiest_week, max_per_week, "the cap holds and is reached");
    let busiest = count(
        c,
        "SELECT max(n) FROM (SELECT count(*) AS n FROM appointment GROUP BY patient_id) p",
    );
    assert!((20..=400).contains(&busiest), "busiest patient: {busiest}");
}

#[test]
fn patients_are_never_in_two_rooms_and_come_at_most_three_times_a_week() {
    let (name, s) = session("patients_tiny");
    seed(&s, 1.0, 42);
    assert_realistic_patients(&mut common::connect(&name), 3);

    let (name, s) = session("patients_clinic");
    let request = SeedRequest::new("clinic", 0.1, 42, "tuned").unwrap();
    ensure_seeded(&s, &request, &Progress::quiet()).unwrap();
    assert_realistic_patients(&mut common::connect(&name), 3);
}

#[test]
fn the_provider_day_index_scan_has_zero_heap_fetches_right_after_seeding() {
    let (name, s) = session("heap_fetches");
    seed(&s, 1.0, 42);
    let mut c = common::connect(&name);
    c.batch_execute("SET enable_seqscan = off; SET enable_bitmapscan = off")
        .unwrap();
    let provider: uuid::Uuid = c
        .query_one(
            "SELECT provider_id FROM appointment WHERE scheduled_at >= '2026-03-02' AND scheduled_at < '2026-03-03'
              GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1",
            &[],
        )
        .unwrap()
        .get(0);
    let row = c
        .query_one(
            "EXPLAIN (ANALYZE, FORMAT JSON)
             SELECT scheduled_at, duration_min, status, patient_id FROM appointment
              WHERE provider_id = $1 AND scheduled_at >= '2026-03-02' AND scheduled_at < '2026-03-03'
                AND status <> 'cancelled' ORDER BY scheduled_at",
            &[&provider],
        )
        .unwrap();
    let doc: serde_json::Value = row.get(0);
    let mut all = Vec::new();
    nodes(&doc[0]["Plan"], &mut all);
    let scans: Vec<&serde_json::Value> = all
        .iter()
        .filter(|n| n["Node Type"] == "Index Only Scan")
        .collect();
    assert!(!scans.is_empty(), "{doc:#}");
    for scan in scans {
        assert!(
            scan["Index Name"]
                .as_str()
                .unwrap()
                .ends_with("_provider_day_idx"),
            "the leaf index the seeder built, under its deterministic name: {scan:#}"
        );
        assert_eq!(scan["Heap Fetches"], 0, "{scan:#}");
        assert!(scan["Actual Rows"].as_u64().unwrap() > 0, "{scan:#}");
    }
    // The leaf indexes were attached to the strategy's parent index.
    let attached = count(
        &mut c,
        "SELECT count(*) FROM pg_inherits WHERE inhparent = 'appointment_provider_day_idx'::regclass",
    );
    assert_eq!(attached, 4);
    // They are the leaf indexes the seeder built under deterministic names, attached, not copies
    // built a second time: one index of that definition per leaf.
    let attached_by_name = count(
        &mut c,
        "SELECT count(*) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
          WHERE i.inhparent = 'appointment_provider_day_idx'::regclass
            AND c.relname ~ '^appointment_y[0-9]{4}m[0-9]{2}_provider_day_idx$'",
    );
    assert_eq!(attached_by_name, 4);
    let per_leaf = count(
        &mut c,
        "SELECT max(n) FROM (SELECT count(*) AS n FROM pg_index x JOIN pg_class t ON t.oid = x.indrelid
          WHERE t.relname ~ '^appointment_y' AND x.indnatts = 7 GROUP BY t.oid) s",
    );
    assert_eq!(per_leaf, 1, "one covering day-view index per leaf");
}

#[test]
fn the_same_request_is_a_no_op_and_a_different_one_reseeds() {
    let (name, s) = session("cache");
    let first = seed(&s, 1.0, 42);
    let mut c = common::connect(&name);
    let filenodes = |c: &mut Client| -> Vec<i64> {
        c.query(
            "SELECT pg_relation_filenode(relid)::int8 FROM pg_partition_tree('appointment') WHERE isleaf ORDER BY relid",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
    };
    let before = filenodes(&mut c);
    let t = Instant::now();
    let again = seed(&s, 1.0, 42);
    assert_eq!(again.status, SeedStatus::UpToDate);
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    assert_eq!(again.dataset, first.dataset);
    assert_eq!(
        filenodes(&mut c),
        before,
        "an up-to-date dataset is not touched"
    );

    // Another index strategy on the same data swaps the indexes only.
    let other = SeedRequest::new("tiny", 1.0, 42, "fk-only").unwrap();
    let swapped = ensure_seeded(&s, &other, &Progress::quiet()).unwrap();
    assert_eq!(swapped.status, SeedStatus::StrategyApplied);
    assert_eq!(swapped.dataset.digest, first.dataset.digest);
    assert_eq!(filenodes(&mut c), before);
    let status = qcheck::schema::status(&mut c).unwrap();
    assert_eq!(status.strategy.as_deref(), Some("fk-only"));

    // Another seed is another dataset.
    let reseeded = seed(&s, 1.0, 43);
    assert_eq!(reseeded.status, SeedStatus::Seeded);
    assert_ne!(reseeded.dataset.digest, first.dataset.digest);
    assert_ne!(filenodes(&mut c), before);
    assert_eq!(current_dataset(&mut c).unwrap().unwrap().seed, 43);
}

#[test]
fn a_seed_killed_during_copy_is_detected_and_redone() {
    let (name, _) = common::fresh_db("killed");
    let url = common::url(&name);
    let home = common::temp_home("killed");
    let mut watcher = common::connect(&name);
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_qcheck"))
        .args([
            "--database-url",
            &url,
            "seed",
            "--profile",
            "tiny",
            "--scale",
            "20",
        ])
        .env("QCHECK_HOME", &home)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the server is ingesting appointments, then kill the process hard.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut caught = false;
    while Instant::now() < deadline {
        let copying = count(
            &mut watcher,
            &format!(
                // The leaves are created inside the load transaction, invisible to this session:
                // a COPY into a relation that is not one of the committed tables is an appointment COPY.
                "SELECT count(*) FROM pg_stat_progress_copy p
                  WHERE p.datname = '{name}' AND p.tuples_processed > 0
                    AND p.relid NOT IN (SELECT oid FROM pg_class WHERE relname IN ('tenant', 'provider', 'patient'))"
            ),
        );
        if copying > 0 {
            child.kill().unwrap();
            caught = true;
            break;
        }
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        caught,
        "the seed ended before the test could catch its COPY: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The server rolls the load back when the client goes away; no record claims a dataset.
    let deadline = Instant::now() + Duration::from_secs(20);
    while count(
        &mut watcher,
        &format!(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = '{name}' AND pid <> pg_backend_pid()"
        ),
    ) > 0
    {
        assert!(
            Instant::now() < deadline,
            "the killed seed's sessions did not end"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(current_dataset(&mut watcher).unwrap().is_none());
    // The leaves it had detached for the load are left behind, marked as qcheck's scratch tables:
    // not somebody else's tables (a plain `qcheck seed` must not ask for --yes), dropped by the
    // next seed.
    assert!(
        !qcheck::schema::scratch_tables(&mut watcher)
            .unwrap()
            .is_empty()
    );
    assert!(
        qcheck::schema::foreign_tables(&mut watcher)
            .unwrap()
            .is_empty()
    );

    let s = Target::Server(
        Box::new(common::cluster().session.config(Some(&name))),
        TlsSettings::default(),
    )
    .open()
    .unwrap();
    let redone = seed(&s, 20.0, 42);
    assert_eq!(redone.status, SeedStatus::Seeded);
    let want = Profile::resolve("tiny").unwrap().counts(20.0);
    assert_eq!(
        count(&mut watcher, "SELECT count(*) FROM appointment"),
        i64::try_from(want.appointments).unwrap()
    );
    let world = World::plan(&Profile::resolve("tiny").unwrap(), 20.0, 42).unwrap();
    let produced = produce_to_nothing(&world, &segments(&world)).unwrap();
    assert_eq!(redone.dataset.digest, produced.digest);
    let _ = std::fs::remove_dir_all(&home);
}

#[test]
fn bad_input_exits_2_with_one_line() {
    let (name, _) = common::fresh_db("bad_input");
    let url = common::url(&name);
    let home = common::temp_home("bad_input");
    let bad_profile = home.join("broken.toml");
    std::fs::write(
        &bad_profile,
        "as_of = 2026-01-15\nmonths_before = 2\nmonthz_after = 2\n",
    )
    .unwrap();
    let bad_profile = bad_profile.to_str().unwrap().to_string();
    for (args, expect) in [
        (vec!["--scale", "0"], "invalid --scale 0"),
        (vec!["--scale", "-1"], "invalid --scale -1"),
        (vec!["--scale", "nan"], "invalid --scale NaN"),
        (vec!["--scale", "inf"], "invalid --scale inf"),
        (vec!["--scale", "1e9"], "lower --scale"),
        (vec!["--profile", "nope"], "known profiles: clinic, tiny"),
        (
            vec!["--profile", &bad_profile],
            "broken.toml:3: unknown field `monthz_after`",
        ),
    ] {
        let mut all = vec!["--database-url", &url, "seed"];
        all.extend(args.iter().copied());
        let out = common::qcheck(&all, &home);
        let err = common::stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains(expect), "{args:?}: {err}");
    }
    let _ = std::fs::remove_dir_all(&home);
}

/// `tiny` with one line replaced (`key = ...` by `line`).
fn tiny_with(key: &str, line: &str) -> String {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/datasets/tiny.toml"))
        .unwrap();
    replace_line(&text, key, line)
}

fn replace_line(text: &str, key: &str, line: &str) -> String {
    let mut found = false;
    let out: Vec<&str> = text
        .lines()
        .map(|l| {
            if l.starts_with(&format!("{key} =")) {
                found = true;
                line
            } else {
                l
            }
        })
        .collect();
    assert!(found, "{key}");
    out.join("\n")
}

#[test]
fn unbounded_profiles_fail_fast_and_keep_the_cached_dataset() {
    let (name, mut c) = common::fresh_db("bounded");
    let url = common::url(&name);
    let home = common::temp_home("bounded");
    let ok = common::qcheck(
        &["--database-url", &url, "seed", "--profile", "tiny"],
        &home,
    );
    assert_eq!(ok.status.code(), Some(0), "{}", common::stderr(&ok));
    let before = current_dataset(&mut c).unwrap().unwrap();
    let cases = [
        (
            tiny_with("providers", "providers = 1e15"),
            "providers = 1000000000000000 is out of range (max 1000000000)",
        ),
        (
            replace_line(
                &replace_line(
                    &tiny_with("tenants", "tenants = 1e7"),
                    "providers",
                    "providers = 1e7",
                ),
                "patients",
                "patients = 1e7",
            ),
            "the generator would keep about",
        ),
        (
            tiny_with("months_after", "months_after = 4294967295"),
            "months_after = 4294967295 is out of range (max 240)",
        ),
        (
            tiny_with("as_of", "as_of = 9999-12-15"),
            "outside the years 1900 to 2999",
        ),
        // Parses, but its providers' hours cannot hold the appointments: found by the plan, which
        // now runs before the cached dataset is given up.
        (tiny_with("appointments", "appointments = 1000000"), ""),
    ];
    for (i, (text, expect)) in cases.iter().enumerate() {
        let file = home.join(format!("bad{i}.toml"));
        std::fs::write(&file, text).unwrap();
        let start = Instant::now();
        let out = common::qcheck(
            &[
                "--database-url",
                &url,
                "seed",
                "--profile",
                file.to_str().unwrap(),
            ],
            &home,
        );
        let err = common::stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{i}: {err}");
        // One line, the error (the capacity case is found after `seeding on ...` is announced).
        let errors: Vec<&str> = err
            .lines()
            .filter(|l| !l.starts_with("qcheck: seeding on"))
            .collect();
        assert_eq!(errors.len(), 1, "{i}: {err}");
        assert!(errors[0].contains(expect), "{i}: {err}");
        assert!(!err.contains("panicked"), "{i}: {err}");
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{i}: {:?}",
            start.elapsed()
        );
        // The good dataset is still recorded and complete.
        let after = current_dataset(&mut c).unwrap().unwrap();
        assert_eq!(after.digest, before.digest, "{i}");
        assert_eq!(after.strategy, "tuned", "{i}");
        assert_eq!(
            count(&mut c, "SELECT count(*) FROM appointment"),
            i64::try_from(before.row_counts["appointment"]).unwrap(),
            "{i}"
        );
    }
    // A profile file is read bounded: not a regular file, or larger than 1 MiB.
    let big = home.join("big.toml");
    std::fs::write(&big, "#".repeat(2 << 20)).unwrap();
    for path in ["/dev/zero", big.to_str().unwrap()] {
        let out = common::qcheck(&["--database-url", &url, "seed", "--profile", path], &home);
        let err = common::stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{path}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{path}: {err}");
    }
    let _ = std::fs::remove_dir_all(&home);
}
