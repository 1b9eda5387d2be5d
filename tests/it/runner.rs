//! How qcheck runs a query file's SQL (`qcheck::runner`): nothing a query does persists, whatever
//! it is; EXPLAIN and the timing loop use one prepared statement under both plan modes.

use std::path::Path;

use postgres::Client;
use qcheck::catalog::{self, Query};
use qcheck::plan::{Mode, PartitionMap};
use qcheck::runner::{RunAs, Runner};

use crate::common;

const TENANT: &str = "00000000-0000-4000-8000-000000000001";

/// A migrated database with one tenant.
fn db_with_a_tenant(tag: &str) -> (String, qcheck::db::Conn) {
    let (db, mut client) = common::migrated_db(tag);
    client
        .execute(
            "INSERT INTO tenant (id, name) VALUES ($1::text::uuid, 'Clinic One')",
            &[&TENANT],
        )
        .unwrap();
    (db, client)
}

/// A digest of every row of the tables a query file could touch.
fn checksum(client: &mut Client) -> String {
    client
        .query_one(
            "SELECT md5(coalesce((SELECT string_agg(t::text, ',' ORDER BY t.id) FROM tenant t), '')
                     || coalesce((SELECT string_agg(a::text, ',' ORDER BY a.id) FROM appointment_audit a), ''))",
            &[],
        )
        .unwrap()
        .get(0)
}

/// `qcheck check --queries DIR [extra]` against database `db`.
fn check_folder(db: &str, dir: &Path, extra: &[&str]) -> std::process::Output {
    let url = common::url(db);
    let mut args = vec![
        "--database-url",
        &url,
        "check",
        "--queries",
        dir.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    common::qcheck(&args, dir)
}

fn query(text: &str) -> Query {
    catalog::parse(Path::new("queries/q.sql"), text).unwrap()
}

#[test]
fn an_update_query_is_analysed_and_leaves_no_trace() {
    let (_db, mut client) = db_with_a_tenant("runner_update");
    let before = checksum(&mut client);
    let q = query(&format!(
        "-- name: rename\n-- summary: Renames a tenant.\n-- params: tenant <- SELECT '{TENANT}'\n\
         -- expect: no seq-scan\n\
         UPDATE tenant SET name = name || ' (renamed)', updated_at = now() WHERE id = $1 RETURNING id"
    ));
    let mut runner = Runner::new(&mut client, RunAs::connected());
    let checked = runner
        .check(
            &q,
            &[],
            &PartitionMap::from_catalog(std::collections::BTreeMap::default()),
        )
        .unwrap();
    // The plans are real: the UPDATE ran under EXPLAIN ANALYZE and found its row.
    for mode in Mode::BOTH {
        let plan = checked.plan(mode);
        assert_eq!(plan.plan.root.node_type, "ModifyTable", "{mode}");
        assert_eq!(plan.facts.result_rows, Some(1.0), "{mode}");
    }
    // The timing loop executes it too, many times.
    let prepared = runner.prepare(&q).unwrap();
    let samples = runner
        .time(&prepared, &checked.params, Mode::Generic, 2, 20)
        .unwrap();
    assert_eq!(samples.len(), 20);
    drop(prepared);
    assert_eq!(checksum(&mut client), before, "the UPDATE persisted");
}

#[test]
fn an_insert_query_file_run_by_the_binary_leaves_no_trace() {
    let (db, mut client) = db_with_a_tenant("runner_insert");
    let before = checksum(&mut client);
    let dir = common::temp_home("runner-insert");
    std::fs::write(
        dir.join("add.sql"),
        "-- name: add_tenant\n-- summary: Adds a tenant.\n-- params: name <- SELECT 'Clinic Two'\n\
         INSERT INTO tenant (id, name) VALUES (gen_random_uuid(), $1)",
    )
    .unwrap();
    // Adding a tenant is the owner's job, not the application's (RLS: a tenant row must be the
    // session's own tenant): --as-owner.
    let out = check_folder(&db, &dir, &["--as-owner"]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    assert!(common::stdout(&out).contains("add_tenant"));
    assert_eq!(checksum(&mut client), before, "the INSERT persisted");
    // As the application (the default on qcheck's model), a query file must say whose rows it
    // reads: without a `-- tenant:` line it is refused with what to do, and nothing runs.
    let out = check_folder(&db, &dir, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", common::stdout(&out));
    let err = common::stderr(&out);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains("cannot check the queries as role `qcheck_app`: query `add_tenant`")
            && err.contains("add a `-- tenant:")
            && err.contains("--as-owner"),
        "{err}"
    );
    assert_eq!(checksum(&mut client), before);
}

#[test]
fn a_file_with_two_statements_is_refused_and_runs_neither() {
    let (db, mut client) = db_with_a_tenant("runner_two");
    let before = checksum(&mut client);
    let dir = common::temp_home("runner-two");
    std::fs::write(
        dir.join("two.sql"),
        format!(
            "-- name: two\n-- summary: Two statements.\n\
             SELECT 1;\nUPDATE tenant SET name = 'hijacked' WHERE id = '{TENANT}'"
        ),
    )
    .unwrap();
    let out = check_folder(&db, &dir, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", common::stderr(&out));
    let err = common::stderr(&out);
    assert!(err.contains("two.sql"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert_eq!(checksum(&mut client), before, "the second statement ran");
}

#[test]
fn a_failing_statement_names_the_query_and_the_server_error() {
    let (_db, mut client) = db_with_a_tenant("runner_fail");
    let q = query(
        "-- name: broken\n-- summary: Divides by zero.\n-- params: n <- SELECT 0\n\
         SELECT 1 / $1::int",
    );
    let err = Runner::new(&mut client, RunAs::connected())
        .check(
            &q,
            &[],
            &PartitionMap::from_catalog(std::collections::BTreeMap::default()),
        )
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("query `broken` (queries/q.sql): custom plan: executing: division by zero (SQLSTATE 22012)"),
        "{err}"
    );
    // The connection is usable afterwards: the failed transaction was rolled back.
    assert_eq!(checksum(&mut client).len(), 32);
}
