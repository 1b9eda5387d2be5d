//! Strategy bookkeeping against a real PostgreSQL: every index a switch builds is recorded before it
//! is built, `qcheck migrate status` names the indexes that do not match the recorded strategy (by
//! name, and by definition for an index replaced under the same name), and `qcheck seed` repairs
//! them (drops the strays, rebuilds the missing and the changed).

use std::collections::BTreeMap;

use postgres::Client;
use qcheck::schema;

use crate::common;

/// Indexes per leaf of `appointment`.
fn leaf_indexes(c: &mut Client) -> BTreeMap<String, i64> {
    c.query(
        "SELECT t.relname::text, count(*) FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid
          WHERE t.relispartition AND pg_partition_root(t.oid) = 'appointment'::regclass
          GROUP BY 1 ORDER BY 1",
        &[],
    )
    .unwrap()
    .iter()
    .map(|r| (r.get(0), r.get(1)))
    .collect()
}

fn leaves(c: &mut Client) -> Vec<String> {
    c.query(
        "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
          WHERE i.inhparent = 'appointment'::regclass ORDER BY 1",
        &[],
    )
    .unwrap()
    .iter()
    .map(|r| r.get(0))
    .collect()
}

fn seed_cli(url: &str, home: &std::path::Path) -> String {
    let out = common::qcheck(&["--database-url", url, "seed", "--profile", "tiny"], home);
    assert_eq!(out.status.code(), Some(0), "{}", common::stderr(&out));
    common::stderr(&out)
}

fn status_cli(url: &str, home: &std::path::Path) -> String {
    let out = common::qcheck(&["--database-url", url, "migrate", "status"], home);
    assert_eq!(out.status.code(), Some(0), "{}", common::stderr(&out));
    common::stdout(&out)
}

#[test]
fn untracked_and_missing_indexes_are_reported_and_repaired_by_seed() {
    let (name, mut c) = common::fresh_db("drift");
    let url = common::url(&name);
    let home = common::temp_home("drift");
    seed_cli(&url, &home);
    let clean = leaf_indexes(&mut c);
    assert_eq!(clean.len(), 4, "{clean:?}");
    assert!(schema::strategy_drift(&mut c).unwrap().is_clean());
    assert!(!status_cli(&url, &home).contains("not part of strategy"));

    // An interrupted switch to tuned-no-include: a leaf index built on two partitions, recorded
    // nowhere; and a strategy index dropped by hand.
    let other = schema::strategy("tuned-no-include").unwrap();
    let plain = other
        .indexes()
        .find(|i| i.name == "appointment_provider_day_plain_idx")
        .unwrap();
    let all = leaves(&mut c);
    for leaf in &all[..2] {
        c.batch_execute(&plain.leaf_create_sql(leaf)).unwrap();
    }
    c.batch_execute("DROP INDEX patient_name_trgm_idx").unwrap();
    let drift = schema::strategy_drift(&mut c).unwrap();
    let strays: Vec<String> = all[..2].iter().map(|l| plain.leaf_index_name(l)).collect();
    assert_eq!(drift.stray, strays);
    assert_eq!(drift.missing, ["patient_name_trgm_idx"]);
    let status = status_cli(&url, &home);
    assert!(
        status.contains(&format!(
            "2 indexes not part of strategy tuned: {}",
            strays.join(", ")
        )),
        "{status}"
    );
    assert!(
        status.contains("1 index of strategy tuned missing: patient_name_trgm_idx"),
        "{status}"
    );

    let said = seed_cli(&url, &home);
    assert!(
        said.contains("dropped 2 indexes not part of strategy tuned"),
        "{said}"
    );
    assert!(said.contains("rebuilt strategy tuned"), "{said}");
    assert_eq!(leaf_indexes(&mut c), clean);
    assert!(schema::strategy_drift(&mut c).unwrap().is_clean());
    let exists: bool = c
        .query_one(
            "SELECT to_regclass('patient_name_trgm_idx') IS NOT NULL",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(exists);
    // Now clean: a plain "up to date".
    let said = seed_cli(&url, &home);
    assert!(
        said.contains("up to date") && !said.contains("dropped"),
        "{said}"
    );
}

#[test]
fn a_switch_interrupted_after_recording_is_undone_by_the_next_seed() {
    let (name, mut c) = common::fresh_db("recorded");
    let url = common::url(&name);
    let home = common::temp_home("recorded");
    seed_cli(&url, &home);
    let clean = leaf_indexes(&mut c);
    // What `seed --strategy fk-only` does before it is killed: the dataset names no strategy, the
    // plan is recorded, and some leaf indexes are built.
    c.batch_execute("UPDATE qcheck_meta SET strategy = ''")
        .unwrap();
    let fk = schema::strategy("fk-only").unwrap();
    let all = leaves(&mut c);
    schema::plan_strategy(&mut c, &fk, &all).unwrap();
    let first = fk.indexes().next().unwrap();
    for leaf in &all[..3] {
        c.batch_execute(&first.leaf_create_sql(leaf)).unwrap();
    }
    assert_ne!(leaf_indexes(&mut c), clean);
    // The builds are recorded: nothing stray, the unbuilt rest missing.
    let drift = schema::strategy_drift(&mut c).unwrap();
    assert!(drift.stray.is_empty(), "{drift:?}");
    assert!(!drift.missing.is_empty());

    seed_cli(&url, &home);
    assert_eq!(leaf_indexes(&mut c), clean);
    assert!(schema::strategy_drift(&mut c).unwrap().is_clean());
}

/// Indexes made and dropped by hand: one stray index, one strategy index missing.
fn drift_by_hand(c: &mut Client) {
    c.batch_execute(
        "CREATE INDEX by_hand_idx ON patient (created_at); DROP INDEX patient_name_trgm_idx",
    )
    .unwrap();
}

fn index_exists(c: &mut Client, name: &str) -> bool {
    common::value(c, "SELECT to_regclass($1) IS NOT NULL", name)
}

/// On a server the user named, `check`, `explain` and `compare` do not check plans on indexes that
/// differ from the dataset's strategy, nor repair them there: exit 2 naming the drift and the
/// `qcheck seed` command that repairs it.
#[test]
fn check_explain_and_compare_refuse_a_drifted_database_on_a_named_server() {
    let (name, mut c) = common::fresh_db("drift_server");
    let url = common::url(&name);
    let home = common::temp_home("drift-server");
    seed_cli(&url, &home);
    drift_by_hand(&mut c);
    for args in [
        vec!["check", "--profile", "tiny"],
        vec![
            "explain",
            "--profile",
            "tiny",
            "--query",
            "patient_name_search",
        ],
        vec![
            "compare",
            "--profile",
            "tiny",
            "--runs",
            "1",
            "--strategy",
            "tuned",
        ],
    ] {
        let mut all = vec!["--database-url", url.as_str()];
        all.extend(args.iter().copied());
        let out = common::qcheck(&all, &home);
        let err = common::stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
        assert!(
            err.contains(
                "holds the dataset tiny, scale 1, seed 42 with index strategy tuned whose indexes \
                 differ from it (1 index not part of strategy tuned: by_hand_idx; 1 index of \
                 strategy tuned missing: patient_name_trgm_idx)"
            ),
            "{args:?}: {err}"
        );
        assert!(
            err.contains("run `qcheck seed --profile tiny --scale 1 --seed 42 --strategy tuned --database-url"),
            "{args:?}: {err}"
        );
        assert!(
            index_exists(&mut c, "by_hand_idx"),
            "{args:?} changed nothing"
        );
        assert!(!index_exists(&mut c, "patient_name_trgm_idx"));
    }
    // The command it names repairs it, and check runs again.
    let said = seed_cli(&url, &home);
    assert!(
        said.contains("dropped 1 index not part of strategy tuned: by_hand_idx"),
        "{said}"
    );
    let out = common::qcheck(
        &[
            "--database-url",
            &url,
            "check",
            "--profile",
            "tiny",
            "--query",
            "patient_name_search",
        ],
        &home,
    );
    assert_eq!(out.status.code(), Some(0), "{}", common::stderr(&out));
    assert!(index_exists(&mut c, "patient_name_trgm_idx"));
}

/// On the embedded cluster (qcheck's own database) `check` repairs the drift as `seed` does, says
/// what it repaired, and checks plans on the strategy's indexes only.
#[test]
fn check_on_the_embedded_cluster_repairs_a_drifted_dataset_and_says_so() {
    let tc = common::cluster();
    let check = || {
        let out = common::qcheck_command(&tc.home)
            .args(["--pg-bin-dir", common::pg_bin().dir.to_str().unwrap()])
            .args([
                "check",
                "--profile",
                "tiny",
                "--query",
                "patient_name_search",
            ])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", common::stderr(&out));
        common::stderr(&out)
    };
    check();
    let mut c = tc.session.connect().unwrap();
    drift_by_hand(&mut c);
    let said = check();
    assert!(
        said.contains("qcheck: dropped 1 index not part of strategy tuned: by_hand_idx"),
        "{said}"
    );
    assert!(
        said.contains(
            "qcheck: rebuilt strategy tuned: 1 index missing, invalid or changed: patient_name_trgm_idx"
        ),
        "{said}"
    );
    assert!(!index_exists(&mut c, "by_hand_idx"));
    assert!(index_exists(&mut c, "patient_name_trgm_idx"));
    assert!(schema::strategy_drift(&mut c).unwrap().is_clean());

    // An index replaced under its name by another definition is rebuilt as the strategy says.
    redefine_by_hand(&mut c);
    let said = check();
    assert!(
        said.contains(
            "qcheck: rebuilt strategy tuned: 2 indexes missing, invalid or changed: \
             appointment_provider_day_idx, patient_name_trgm_idx"
        ),
        "{said}"
    );
    assert!(schema::strategy_drift(&mut c).unwrap().is_clean());
    assert!(definition(&mut c, "appointment_provider_day_idx").contains("INCLUDE (tenant_id,"));
}

/// Two strategy indexes replaced under their own names by other definitions: the day view's
/// without `tenant_id` in its INCLUDE (as on a dataset seeded before tuned gained it), the name
/// search's on another expression and with a predicate.
fn redefine_by_hand(c: &mut Client) {
    c.batch_execute(
        "DROP INDEX appointment_provider_day_idx;
         CREATE INDEX appointment_provider_day_idx ON appointment (provider_id, scheduled_at)
             INCLUDE (duration_min, status, patient_id, id) WHERE status <> 'cancelled';
         DROP INDEX patient_name_trgm_idx;
         CREATE INDEX patient_name_trgm_idx ON patient
             USING gin ((given_name || ' ' || family_name) gin_trgm_ops) WHERE deleted_at IS NULL;",
    )
    .unwrap();
}

fn definition(c: &mut Client, index: &str) -> String {
    common::value(c, "SELECT pg_get_indexdef(to_regclass($1))", index)
}

/// Indexes are compared by definition, not only by name: one replaced under its name is "changed"
/// in `migrate status` (text and JSON), refused on a server the user named (exit 2, the seed
/// command), and rebuilt by that command. The strategy's own indexes, written as its file writes
/// them, are the same definition as PostgreSQL stores them.
#[test]
fn an_index_redefined_under_its_name_is_changed_drift() {
    let (name, mut c) = common::fresh_db("redefined");
    let url = common::url(&name);
    let home = common::temp_home("redefined");
    seed_cli(&url, &home);
    assert!(schema::strategy_drift(&mut c).unwrap().is_clean());
    for s in schema::strategies().unwrap() {
        for def in s.indexes() {
            if index_exists(&mut c, &def.name) && s.name == "tuned" {
                assert_eq!(
                    schema::index_differences(&mut c, def).unwrap(),
                    Some(vec![]),
                    "{}",
                    def.name
                );
            }
        }
    }
    redefine_by_hand(&mut c);
    let drift = schema::strategy_drift(&mut c).unwrap();
    assert!(
        drift.stray.is_empty() && drift.missing.is_empty(),
        "{drift:?}"
    );
    assert_eq!(
        drift.changed,
        [
            schema::ChangedIndex {
                name: "appointment_provider_day_idx".into(),
                differs: vec!["include"],
            },
            schema::ChangedIndex {
                name: "patient_name_trgm_idx".into(),
                differs: vec!["keys", "predicate"],
            },
        ]
    );
    let line = "2 indexes of strategy tuned changed (defined otherwise in \
                sql/strategies/tuned.sql): appointment_provider_day_idx (include differs), \
                patient_name_trgm_idx (keys, predicate differ)";
    assert!(
        status_cli(&url, &home).contains(line),
        "{}",
        status_cli(&url, &home)
    );
    let out = common::qcheck(
        &[
            "--database-url",
            &url,
            "--format",
            "json",
            "migrate",
            "status",
        ],
        &home,
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    crate::ci::assert_valid("migrate-status", &doc);
    assert_eq!(
        doc["drift"]["changed"][0],
        serde_json::json!({"name": "appointment_provider_day_idx", "differs": ["include"]})
    );

    let out = common::qcheck(
        &["--database-url", &url, "check", "--profile", "tiny"],
        &home,
    );
    let err = common::stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains(line), "{err}");
    assert!(
        err.contains("run `qcheck seed --profile tiny --scale 1 --seed 42 --strategy tuned"),
        "{err}"
    );
    assert!(
        !definition(&mut c, "appointment_provider_day_idx").contains("tenant_id"),
        "check wrote nothing"
    );

    let said = seed_cli(&url, &home);
    assert!(
        said.contains(
            "rebuilt strategy tuned: 2 indexes missing, invalid or changed: \
             appointment_provider_day_idx, patient_name_trgm_idx"
        ),
        "{said}"
    );
    assert!(schema::strategy_drift(&mut c).unwrap().is_clean());
    assert!(definition(&mut c, "appointment_provider_day_idx").contains("INCLUDE (tenant_id,"));

    // A definition of the same name on another table, or over a column the table lacks.
    let differences = |c: &mut Client, sql: &str| {
        let stmt = &qcheck::sql::split_statements(sql).unwrap()[0];
        let def = schema::IndexDef::parse(stmt).unwrap().unwrap();
        schema::index_differences(c, &def).unwrap()
    };
    assert_eq!(
        differences(
            &mut c,
            "CREATE INDEX appointment_provider_day_idx ON patient (id)"
        ),
        Some(vec!["table"])
    );
    assert_eq!(
        differences(
            &mut c,
            "CREATE INDEX appointment_provider_day_idx ON appointment (provider_id, nope) \
             INCLUDE (tenant_id, duration_min, status, patient_id, id) WHERE status <> 'cancelled'"
        ),
        Some(vec!["keys", "include", "predicate"])
    );
    assert_eq!(
        differences(&mut c, "CREATE INDEX no_such_idx ON appointment (id)"),
        None
    );
}
