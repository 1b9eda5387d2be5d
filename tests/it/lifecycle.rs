//! The embedded cluster's lifecycle when it is shared: homes with awkward characters, refused
//! binaries, and many qcheck processes on one home (parallel CI jobs use the default home).

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use qcheck::cluster::Cluster;
use qcheck::db::Target;

use crate::common::{self, stderr, stdout};

fn bin_dir() -> String {
    common::pg_bin().dir.to_str().unwrap().to_string()
}

fn qcheck_on(home: &Path, args: &[&str]) -> Command {
    let mut cmd = common::qcheck_command(home);
    cmd.arg("--pg-bin-dir").arg(bin_dir()).args(args);
    cmd
}

fn running(home: &Path) -> bool {
    Cluster::new(common::pg_bin(), home.to_path_buf())
        .unwrap()
        .is_running()
        .unwrap()
}

/// Starts, connects (through the session and through the quoted conn string) and stops.
fn start_connect_stop(home: &Path) {
    let cluster = Cluster::new(common::pg_bin(), home.to_path_buf()).unwrap();
    let session = Target::Embedded(cluster.clone()).open().unwrap();
    let one: i32 = session
        .connect()
        .unwrap()
        .query_one("SELECT 1", &[])
        .unwrap()
        .get(0);
    assert_eq!(one, 1);
    let mut by_string =
        postgres::Client::connect(&cluster.conn_string("qcheck"), postgres::NoTls).unwrap();
    let socket: String = by_string
        .query_one("SHOW unix_socket_directories", &[])
        .unwrap()
        .get(0);
    assert!(socket.contains(&*cluster.socket_dir().to_string_lossy()) || socket.starts_with('"'));
    let listen: String = by_string
        .query_one("SHOW listen_addresses", &[])
        .unwrap()
        .get(0);
    assert_eq!(listen, "", "no TCP listener");
    drop(by_string);
    session.close().unwrap();
    assert!(
        !cluster.is_running().unwrap(),
        "the session stopped what it started"
    );
    cluster.destroy().unwrap();
    assert!(
        !cluster.socket_dir().exists(),
        "no socket folder left in /tmp"
    );
}

#[test]
fn homes_with_a_quote_a_comma_and_a_space_start_connect_and_stop() {
    let base = common::temp_home("life-quote");
    // With a comma the socket goes to the short folder; without one it stays inside, quoted.
    start_connect_stop(&base.join("it's, a home"));
    start_connect_stop(&base.join("it's a home"));
    let _ = std::fs::remove_dir_all(base);
}

#[test]
fn refused_binaries_are_one_line_and_create_no_folder() {
    let base = common::temp_home("life-bin");
    for (script, said) in [
        ("exit 0", "said nothing"),
        ("echo garbage 9.1", "said `garbage 9.1`"),
        ("echo 'postgres (PostgreSQL) 13.9'", "too old"),
    ] {
        let dir = base.join("bin");
        std::fs::create_dir_all(&dir).unwrap();
        for name in ["initdb", "pg_ctl", "postgres"] {
            let path = dir.join(name);
            std::fs::write(&path, format!("#!/bin/sh\n{script}\n")).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        let home = base.join("home");
        let out = Command::new(env!("CARGO_BIN_EXE_qcheck"))
            .args(["--pg-bin-dir", dir.to_str().unwrap(), "migrate", "status"])
            .env("QCHECK_HOME", &home)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        let err = stderr(&out);
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        assert!(err.contains(dir.to_str().unwrap()), "{err}");
        assert!(err.contains(said), "{err}");
        assert!(err.contains("PostgreSQL 14 or later"), "{err}");
        assert!(!home.exists(), "a refused run creates no folder");
    }
    let _ = std::fs::remove_dir_all(base);
}

fn run_all(mut cmds: Vec<Command>) -> Vec<Output> {
    let children: Vec<_> = cmds
        .iter_mut()
        .map(|c| {
            c.stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    children
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect()
}

#[test]
fn eight_processes_share_one_fresh_home() {
    let base = common::temp_home("life-eight");
    let home = base.join("home");

    // Nobody asks to keep the server: all succeed, and the last one out stops it.
    let cmds = (0..8)
        .map(|_| qcheck_on(&home, &["migrate", "status"]))
        .collect();
    for out in run_all(cmds) {
        assert!(out.status.success(), "{}", stderr(&out));
    }
    assert!(!running(&home), "no server left behind");

    // One of them is `cluster start`: the server is kept, until `cluster stop`.
    let cmds = (0..8)
        .map(|i| {
            if i == 3 {
                qcheck_on(&home, &["cluster", "start"])
            } else {
                qcheck_on(&home, &["migrate", "status"])
            }
        })
        .collect();
    for out in run_all(cmds) {
        assert!(out.status.success(), "{}", stderr(&out));
    }
    assert!(running(&home), "`cluster start` keeps it");
    let out = qcheck_on(&home, &["cluster", "stop"]).output().unwrap();
    assert!(stderr(&out).contains("cluster stopped"), "{}", stderr(&out));
    assert!(!running(&home));
    let _ = std::fs::remove_dir_all(base);
}

#[test]
fn a_stop_while_another_user_is_mid_query_does_not_kill_the_query() {
    let base = common::temp_home("life-midquery");
    let home = base.join("home");
    let cluster = Cluster::new(common::pg_bin(), home.clone()).unwrap();
    let target = Target::Embedded(cluster.clone());
    let starter = target.open().unwrap();
    let user = target.open().unwrap();
    let mut client = user.connect().unwrap();
    let query = std::thread::spawn(move || {
        client
            .query_one("SELECT pg_sleep(3)::text || 'done'", &[])
            .map(|row| row.get::<_, String>(0))
    });
    std::thread::sleep(Duration::from_millis(500));

    // The session that started the server ends, another process comes and goes, and a user asks to
    // stop: the server stays up for the query.
    starter.close().unwrap();
    let out = qcheck_on(&home, &["migrate", "status"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let out = qcheck_on(&home, &["cluster", "stop"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("in use"), "{}", stderr(&out));
    let out = qcheck_on(&home, &["cluster", "destroy"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    assert!(stderr(&out).contains("in use"), "{}", stderr(&out));
    assert!(cluster.is_running().unwrap());

    assert_eq!(query.join().unwrap().unwrap(), "done");
    // The last user stops it.
    user.close().unwrap();
    assert!(!cluster.is_running().unwrap());
    let _ = std::fs::remove_dir_all(base);
}

/// The dataset a `check --format json` run reports: (seed, digest), and whether all ten passed.
fn checked_dataset(out: &Output) -> (u64, String, bool) {
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}{}", stdout(out), stderr(out)));
    let dataset = &doc["dataset"];
    assert_eq!(dataset["profile"], "tiny", "{doc}");
    (
        dataset["seed"].as_u64().unwrap(),
        dataset["digest"].as_str().unwrap().to_string(),
        doc["passed"].as_bool().unwrap(),
    )
}

/// Parallel CI jobs on one home asking for two datasets: each run holds the dataset lock shared for
/// its whole run, a re-seed waits for the runs reading the current one, and a run waiting for
/// another's seed says so. Before the lock, runs read each other's half-replaced data (exit 1 and 2,
/// reports naming a seed whose data they had not read).
#[test]
fn eight_checks_of_two_datasets_on_one_fresh_home_each_read_their_own() {
    let base = common::temp_home("life-datasets");
    let home = base.join("home");
    let seeds: Vec<u64> = (0..8).map(|i| 1 + i % 2).collect();
    let cmds = seeds
        .iter()
        .map(|seed| {
            qcheck_on(
                &home,
                &[
                    "check",
                    "--profile",
                    "tiny",
                    "--seed",
                    &seed.to_string(),
                    "--format",
                    "json",
                ],
            )
        })
        .collect();
    let started = std::time::Instant::now();
    let outs = run_all(cmds);
    let took = started.elapsed();
    let mut digests = std::collections::BTreeMap::new();
    for (seed, out) in seeds.iter().zip(&outs) {
        assert_eq!(out.status.code(), Some(0), "seed {seed}: {}", stderr(out));
        let (read, digest, passed) = checked_dataset(out);
        assert_eq!(
            read,
            *seed,
            "the run asked for seed {seed}: {}",
            stderr(out)
        );
        assert!(passed);
        // Every run of one seed read the same rows.
        assert_eq!(
            digests.entry(read).or_insert_with(|| digest.clone()),
            &digest
        );
        let err = stderr(out);
        for line in err.lines().filter(|l| l.contains("waiting for")) {
            assert!(
                line.starts_with("qcheck: waiting for ")
                    && line.contains("to finish with the dataset of embedded PostgreSQL")
                    && line.contains(&format!("tiny, scale 1, seed {seed}, strategy tuned")),
                "{line}"
            );
        }
    }
    assert_eq!(digests.len(), 2, "two datasets: {digests:?}");
    assert!(!running(&home), "no server left behind");
    eprintln!("8 checks of 2 datasets on a fresh home: {took:?}");
    let _ = std::fs::remove_dir_all(base);
}

/// Advisory locks of the dataset lock waited for (not granted) in database `db`.
fn lock_waiters(db: &str) -> i64 {
    common::connect(db)
        .query_one(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted
                AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
            &[],
        )
        .unwrap()
        .get(0)
}

/// A seed waits for a run reading the dataset, says for what, and replaces the dataset only after
/// that run is done.
#[test]
fn a_seed_waits_for_a_run_reading_the_dataset_and_says_for_what() {
    use qcheck::generate::{DatasetLock, current_dataset};

    let (db, mut client) = common::fresh_db("lock_wait");
    let url = common::url(&db);
    let base = common::temp_home("life-lockwait");
    let seed = |n: &str| {
        common::qcheck_command(&base)
            .args([
                "--database-url",
                &url,
                "seed",
                "--profile",
                "tiny",
                "--seed",
                n,
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let out = seed("1").wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));

    let tc = common::cluster();
    let target = Target::Server(Box::new(tc.session.config(Some(&db))), tc.session.tls());
    let session = target.open().unwrap();
    let reader = DatasetLock::shared(&session, "reading for the test").unwrap();
    let child = seed("2");
    let start = std::time::Instant::now();
    while lock_waiters(&db) == 0 {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the seed never waited"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        current_dataset(&mut client).unwrap().unwrap().seed,
        1,
        "not replaced yet"
    );
    drop(reader);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(current_dataset(&mut client).unwrap().unwrap().seed, 2);
    let err = stderr(&out);
    let line = err
        .lines()
        .find(|l| l.contains("waiting"))
        .unwrap_or_default();
    assert!(
        line.starts_with("qcheck: waiting for another qcheck process (reading for the test) to finish with the dataset of host=")
            && line.ends_with("before seeding tiny, scale 1, seed 2, strategy tuned"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(base);
}
