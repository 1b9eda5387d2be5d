//! The `qcheck` binary as a user runs it: the embedded cluster's lifecycle, `migrate`, and the one-line
//! errors (exit 2) for a missing PostgreSQL and an unreachable server.

use crate::common;

use crate::common::{qcheck, stderr, stdout};

fn assert_one_line_error(out: &std::process::Output, needle: &str) {
    assert_eq!(
        out.status.code(),
        Some(2),
        "exit code; stderr: {}",
        stderr(out)
    );
    let err = stderr(out);
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    assert!(err.starts_with("qcheck: error: "), "{err}");
    assert!(err.contains(needle), "`{needle}` in: {err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn migrate_then_psql_then_down_on_the_embedded_cluster() {
    let base = common::temp_home("cli-migrate");
    let home = base.join("home");
    let bin = common::pg_bin();
    let bin_dir = bin.dir.to_str().unwrap().to_string();

    let out = qcheck(&["--pg-bin-dir", &bin_dir, "migrate"], &home);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("applied migrations 0001, 0002, 0003, 0004, 0005"),
        "{}",
        stderr(&out)
    );

    // `migrate` stopped the server it started; `cluster url` starts it and leaves it running.
    let out = qcheck(
        &[
            "--pg-bin-dir",
            &bin_dir,
            "cluster",
            "status",
            "--format",
            "json",
        ],
        &home,
    );
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status["running"], false, "{status}");
    assert_eq!(status["initialized"], true);

    let out = qcheck(&["--pg-bin-dir", &bin_dir, "cluster", "url"], &home);
    assert!(out.status.success(), "{}", stderr(&out));
    let url = stdout(&out).trim().to_string();
    assert!(
        url.starts_with("postgresql://qcheck@/qcheck?host="),
        "{url}"
    );

    let psql = |args: &[&str]| {
        let out = std::process::Command::new(bin.program("psql"))
            .arg(&url)
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "psql: {}", stderr(&out));
        stdout(&out)
    };
    let described = psql(&["-X", "-c", r"\d+ appointment"]);
    assert!(
        described.contains("Partitioned table \"public.appointment\""),
        "{described}"
    );
    assert!(
        described.contains("Partition key: RANGE (scheduled_at)"),
        "{described}"
    );
    assert!(
        described.contains("appointment_provider_day_idx"),
        "the default strategy's indexes: {described}"
    );

    let out = qcheck(&["--pg-bin-dir", &bin_dir, "migrate", "status"], &home);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("appointment_model") && text.contains("applied"),
        "{text}"
    );
    assert!(text.contains("index strategy: tuned"), "{text}");

    // Running `migrate` again changes nothing.
    let out = qcheck(&["--pg-bin-dir", &bin_dir, "migrate"], &home);
    assert!(
        stderr(&out).contains("schema up to date"),
        "{}",
        stderr(&out)
    );

    let out = qcheck(&["--pg-bin-dir", &bin_dir, "migrate", "down"], &home);
    assert!(out.status.success(), "{}", stderr(&out));
    let relations = psql(&[
        "-X",
        "-At",
        "-c",
        "SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace",
    ]);
    assert_eq!(
        relations.trim(),
        "0",
        "migrate down leaves no relation behind"
    );

    let out = qcheck(&["--pg-bin-dir", &bin_dir, "cluster", "stop"], &home);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = qcheck(&["--pg-bin-dir", &bin_dir, "cluster", "destroy"], &home);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!home.join(format!("pg{}", bin.major)).exists());
    let _ = std::fs::remove_dir_all(base);
}

#[test]
fn missing_postgresql_binaries_are_one_clear_line() {
    let base = common::temp_home("cli-nobin");
    let empty = base.join("empty-bin");
    std::fs::create_dir_all(&empty).unwrap();
    let out = qcheck(
        &["--pg-bin-dir", empty.to_str().unwrap(), "migrate"],
        &base.join("home"),
    );
    assert_one_line_error(&out, "initdb, pg_ctl, postgres missing");

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_qcheck"))
        .args(["cluster", "status"])
        .env("QCHECK_PG_BIN", &empty)
        .env("QCHECK_HOME", base.join("home"))
        .output()
        .unwrap();
    assert_one_line_error(&out, "not a PostgreSQL bin folder");
    let _ = std::fs::remove_dir_all(base);
}

#[test]
fn an_unreachable_server_is_one_clear_line_without_the_password() {
    let base = common::temp_home("cli-unreachable");
    // Port 1 on loopback: nothing listens there.
    let out = qcheck(
        &[
            "--database-url",
            "postgresql://alice:s3cret@127.0.0.1:1/app?connect_timeout=3",
            "migrate",
        ],
        &base.join("home"),
    );
    assert_one_line_error(
        &out,
        "cannot connect to host=127.0.0.1 port=1 user=alice dbname=app",
    );
    assert!(!stderr(&out).contains("s3cret"));

    let out = qcheck(
        &[
            "--database-url",
            "postgresql://alice:s3cret@host:notaport/app",
            "migrate",
        ],
        &base.join("home"),
    );
    assert_one_line_error(&out, "invalid --database-url");
    assert!(!stderr(&out).contains("s3cret"));
    let _ = std::fs::remove_dir_all(base);
}

#[test]
fn the_libpq_variables_select_a_server() {
    let base = common::temp_home("cli-pgenv");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_qcheck"))
        .args(["migrate", "status"])
        .env_remove("DATABASE_URL")
        .env("QCHECK_HOME", base.join("home"))
        .env("PGHOST", "127.0.0.1")
        .env("PGPORT", "1")
        .env("PGUSER", "bob")
        .env("PGDATABASE", "clinic")
        .env("PGCONNECT_TIMEOUT", "3")
        .output()
        .unwrap();
    assert_one_line_error(
        &out,
        "cannot connect to host=127.0.0.1 port=1 user=bob dbname=clinic",
    );
    let _ = std::fs::remove_dir_all(base);
}

#[test]
fn migrate_works_against_a_server_given_by_url() {
    let (db, _client) = common::fresh_db("cli_url");
    let base = common::temp_home("cli-url");
    let url = common::url(&db);
    let out = qcheck(
        &["--database-url", &url, "migrate", "--format", "json"],
        &base.join("home"),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["applied"], serde_json::json!([1, 2, 3, 4, 5]));
    assert_eq!(doc["strategy"], "tuned");
    assert!(
        !base.join("home").exists(),
        "no embedded cluster was created"
    );
    let _ = std::fs::remove_dir_all(base);
}

/// psql's resolution end to end on the shared cluster (reached over its socket folder): a URL
/// without host takes PGHOST, a service file names the server, and a password file others can read
/// is ignored with a warning.
#[test]
fn psql_style_settings_reach_the_shared_cluster() {
    use std::os::unix::fs::PermissionsExt;
    let (db, _client) = common::fresh_db("cli_libpq");
    let base = common::temp_home("cli-libpq");
    let socket = common::cluster().cluster.socket_dir();
    let socket = socket.to_str().unwrap();
    let run = |args: &[&str], vars: &[(&str, &str)]| {
        let mut cmd = common::qcheck_command(&base.join("home"));
        cmd.args(args).envs(vars.iter().copied());
        cmd.output().unwrap()
    };

    let url = format!("postgresql://qcheck@/{db}");
    let out = run(
        &["--database-url", &url, "migrate", "status"],
        &[("PGHOST", socket), ("PGPORT", "5432")],
    );
    assert!(out.status.success(), "{}", stderr(&out));

    let services = base.join("services.conf");
    std::fs::write(
        &services,
        format!("[shared]\nhost={socket}\nport=5432\nuser=qcheck\ndbname={db}\n"),
    )
    .unwrap();
    let pgpass = base.join("pgpass");
    std::fs::write(&pgpass, "*:*:*:*:unused\n").unwrap();
    std::fs::set_permissions(&pgpass, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = run(
        &["migrate", "status"],
        &[
            ("PGSERVICE", "shared"),
            ("PGSERVICEFILE", services.to_str().unwrap()),
            ("PGPASSFILE", pgpass.to_str().unwrap()),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("has group or world access"),
        "{}",
        stderr(&out)
    );
    assert!(!base.join("home").exists(), "no embedded cluster was made");

    let out = run(
        &["migrate", "status"],
        &[
            ("PGSERVICE", "missing"),
            ("PGSERVICEFILE", services.to_str().unwrap()),
            ("PGSYSCONFDIR", base.to_str().unwrap()),
        ],
    );
    assert_one_line_error(&out, "definition of service \"missing\" not found");
    let _ = std::fs::remove_dir_all(base);
}
