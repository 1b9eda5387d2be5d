//! `qcheck check` on a database whose `appointment` has a leaf without its exclusion constraint
//! (a partition made by plain DDL while the event trigger of migration 0003 was off): the gate fails
//! (exit 1) with a finding naming the leaf and the SQL that fixes it, in every output format; it
//! writes nothing on the server the user named; once fixed, the check passes again.

use serde_json::Value;

use crate::common::{self, qcheck, stderr, stdout};

/// The leaf the test makes by plain DDL, far from the seeded months.
const LEAF: &str = "appointment_guard_test";

fn check(url: &str, home: &std::path::Path, format: &str) -> std::process::Output {
    qcheck(
        &[
            "--database-url",
            url,
            "--format",
            format,
            "check",
            "--profile",
            "tiny",
            "--query",
            "provider_day",
        ],
        home,
    )
}

fn guarded(c: &mut postgres::Client) -> bool {
    common::value(
        c,
        "SELECT appointment_partition_guarded($1::text::regclass)",
        LEAF,
    )
}

#[test]
fn check_fails_on_a_partition_without_its_exclusion_constraint_and_names_the_fix() {
    let (db, mut c) = common::fresh_db("guard");
    let url = common::url(&db);
    let home = common::temp_home("guard");
    let out = qcheck(
        &["--database-url", &url, "seed", "--profile", "tiny"],
        &home,
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(check(&url, &home, "table").status.code(), Some(0));

    // A leaf made by plain DDL with the event trigger off, as a DBA or pg_partman could; the
    // trigger is enabled again right after (undone by the test itself, no transaction needed).
    c.batch_execute(&format!(
        "ALTER EVENT TRIGGER appointment_partition_guard DISABLE;
         CREATE TABLE {LEAF} PARTITION OF appointment
             FOR VALUES FROM ('2090-01-01 00:00+00') TO ('2090-02-01 00:00+00');
         ALTER EVENT TRIGGER appointment_partition_guard ENABLE;"
    ))
    .unwrap();
    assert!(!guarded(&mut c));
    let fix = format!("SELECT add_appointment_partition_exclusion('{LEAF}')");
    let finding = format!(
        "partition {LEAF} of appointment has no exclusion constraint: double bookings in its \
         month are not refused"
    );

    let out = check(&url, &home, "table");
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = stdout(&out).replace("\n    ", " ");
    assert!(
        text.contains(&format!("FAIL {finding}; fix: {fix}")),
        "{text}"
    );

    let out = check(&url, &home, "json");
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    crate::ci::assert_valid("check", &doc);
    assert_eq!(doc["passed"], false);
    assert_eq!(doc["queries"][0]["passed"], true, "the plan itself is fine");
    assert_eq!(
        doc["schema_findings"],
        serde_json::json!([{
            "kind": "unguarded-partition",
            "subject": LEAF,
            "message": finding,
            "fix": fix,
        }])
    );

    let out = check(&url, &home, "markdown");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains(&format!("- **FAIL** {finding}; fix: `{fix}`")),
        "{}",
        stdout(&out)
    );

    let out = check(&url, &home, "junit");
    assert_eq!(out.status.code(), Some(1));
    let xml = stdout(&out);
    assert!(
        xml.contains(&format!(
            r#"<testcase name="schema: {LEAF}" classname="schema""#
        )),
        "{xml}"
    );
    assert!(xml.contains(r#"type="schema""#), "{xml}");

    let out = check(&url, &home, "github");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains(&format!(
            "::error title=schema%3A {LEAF}::{finding}; fix: {fix}\n"
        )),
        "{}",
        stdout(&out)
    );

    // `migrate status` reports the same leaf, with the same fix.
    let out = qcheck(&["--database-url", &url, "migrate", "status"], &home);
    assert!(
        stdout(&out).contains(&format!(
            "unguarded partitions of appointment (no exclusion constraint: double bookings in \
             their months are not refused): {LEAF}"
        )),
        "{}",
        stdout(&out)
    );

    // Nothing was written to the server the user named; the fix it names works.
    assert!(!guarded(&mut c));
    c.batch_execute(&fix).unwrap();
    assert!(guarded(&mut c));
    assert_eq!(check(&url, &home, "table").status.code(), Some(0));
}
