//! qcheck on the user's own server: `check`, `explain` and `compare` never write there to prepare the
//! data (they name the `qcheck seed` command instead), `seed` and `migrate` refuse a database holding
//! tables that are not qcheck's unless `--yes`, `migrate down` asks for `--yes` before deleting rows
//! and keeps the `qcheck_app` role while roles are members of it.

use crate::common;

use postgres::Client;

use crate::common::{qcheck, stderr};

/// The relations of the test database's public schema, by name.
fn relations(client: &mut Client) -> Vec<String> {
    client
        .query(
            "SELECT relname::text FROM pg_class WHERE relnamespace = 'public'::regnamespace ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

fn count(client: &mut Client, sql: &str) -> i64 {
    client.query_one(sql, &[]).unwrap().get(0)
}

/// The test database's URL with a password in it (the test cluster trusts its socket, so any
/// password connects): no message may repeat it.
fn url_with_password(db: &str) -> String {
    common::url(db).replacen("qcheck@", "qcheck:s3cret@", 1)
}

#[test]
fn a_user_database_is_left_alone_until_seed_is_told_yes() {
    let (db, mut client) = common::fresh_db("safety_user");
    client
        .batch_execute("CREATE TABLE orders (id int PRIMARY KEY, total numeric); INSERT INTO orders VALUES (1, 9.5)")
        .unwrap();
    let before = relations(&mut client);
    let home = common::temp_home("safety-user");
    let url = url_with_password(&db);

    for args in [
        vec!["check", "--profile", "tiny"],
        vec!["explain", "--profile", "tiny", "--query", "provider_day"],
        vec!["compare", "--profile", "tiny", "--runs", "1"],
    ] {
        let mut all = vec!["--database-url", url.as_str()];
        all.extend(args.iter().copied());
        let out = qcheck(&all, &home);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains("holds no qcheck schema"), "{err}");
        assert!(
            err.contains("`qcheck seed --profile tiny --scale 1 --seed 42 --strategy tuned --database-url 'postgresql://qcheck@/"),
            "{err}"
        );
        assert!(!err.contains("s3cret"), "{err}");
        assert_eq!(relations(&mut client), before, "{args:?} wrote nothing");
    }

    let out = qcheck(
        &["--database-url", &url, "seed", "--profile", "tiny"],
        &home,
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("not qcheck's (orders)") && err.contains("--yes"),
        "{err}"
    );
    assert!(!err.contains("s3cret"), "{err}");
    assert_eq!(
        relations(&mut client),
        before,
        "the refused seed wrote nothing"
    );

    let out = qcheck(
        &["--database-url", &url, "seed", "--profile", "tiny", "--yes"],
        &home,
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.lines()
            .next()
            .unwrap_or_default()
            .starts_with("qcheck: seeding on host=")
            && err.contains(&format!("user=qcheck dbname={db}")),
        "the target comes first: {err}"
    );
    assert!(!err.contains("s3cret"), "{err}");
    assert_eq!(count(&mut client, "SELECT count(*) FROM orders"), 1);

    // Seeded: check runs; another scale is the same one-line refusal, and nothing is re-seeded.
    let out = qcheck(
        &[
            "--database-url",
            &url,
            "check",
            "--profile",
            "tiny",
            "--query",
            "provider_day",
        ],
        &home,
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let appointments = count(&mut client, "SELECT count(*) FROM appointment");
    let out = qcheck(
        &[
            "--database-url",
            &url,
            "check",
            "--profile",
            "tiny",
            "--scale",
            "2",
            "--strategy",
            "fk-only",
        ],
        &home,
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("holds the dataset tiny, scale 1, seed 42, not the dataset tiny, scale 2, seed 42 with index strategy fk-only"),
        "{err}"
    );
    assert!(
        err.contains("`qcheck seed --profile tiny --scale 2 --seed 42 --strategy fk-only"),
        "{err}"
    );
    assert_eq!(
        count(&mut client, "SELECT count(*) FROM appointment"),
        appointments
    );
    let _ = std::fs::remove_dir_all(home);
}

#[test]
fn migrate_down_asks_before_deleting_rows_and_keeps_a_role_in_use() {
    let (db, mut client) = common::fresh_db("safety_down");
    let home = common::temp_home("safety-down");
    let url = common::url(&db);
    let out = qcheck(
        &["--database-url", &url, "seed", "--profile", "tiny"],
        &home,
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let appointments = count(&mut client, "SELECT count(*) FROM appointment");
    assert!(appointments > 0);

    // An application login role, member of qcheck_app (roles are cluster-wide: one per test run).
    let login = format!("safety_app_{}", std::process::id());
    client
        .batch_execute(&format!(
            "DROP ROLE IF EXISTS {login}; CREATE ROLE {login} LOGIN; GRANT qcheck_app TO {login}"
        ))
        .unwrap();

    let out = qcheck(&["--database-url", &url, "migrate", "down"], &home);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(
        err.contains("appointment ") && err.contains("patient ") && err.contains("--yes"),
        "{err}"
    );
    assert_eq!(
        count(&mut client, "SELECT count(*) FROM appointment"),
        appointments,
        "nothing deleted"
    );

    let out = qcheck(&["--database-url", &url, "migrate", "down", "--yes"], &home);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("reverted migrations 0005, 0004, 0003, 0002, 0001"),
        "{err}"
    );
    assert!(
        err.contains(&format!("kept role qcheck_app: {login} is")),
        "{err}"
    );
    assert!(
        relations(&mut client).is_empty(),
        "every qcheck table dropped"
    );
    let member = count(
        &mut client,
        &format!(
            "SELECT count(*) FROM pg_auth_members WHERE roleid = 'qcheck_app'::regrole AND member = '{login}'::regrole"
        ),
    );
    assert_eq!(member, 1, "the membership survives");

    let out = qcheck(&["--database-url", &url, "migrate"], &home);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // The application reads again through its membership: no "permission denied".
    client.batch_execute(&format!("SET ROLE {login}")).unwrap();
    assert_eq!(count(&mut client, "SELECT count(*) FROM appointment"), 0);
    client
        .batch_execute(&format!(
            "RESET ROLE; REVOKE qcheck_app FROM {login}; DROP ROLE {login}"
        ))
        .unwrap();
    let _ = std::fs::remove_dir_all(home);
}
