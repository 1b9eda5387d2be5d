//! Ctrl-C, SIGTERM and `--statement-timeout`: a query qcheck sends never outlives qcheck, and none
//! runs unbounded. Each test runs the binary on a query that sleeps on the server.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use qcheck::cluster::Cluster;

use crate::common::{self, stderr};

/// A query folder with one query, `slow`, that sleeps 30 s on the server; `tag` makes its text
/// unique in pg_stat_activity (tests run in parallel on the shared cluster).
fn slow_queries(base: &Path, tag: &str) -> PathBuf {
    let dir = base.join("queries");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("slow.sql"),
        format!(
            "-- name: slow\n-- summary: Sleeps on the server.\n-- params: n <- SELECT 1\n\
             SELECT pg_sleep(30), $1::int AS {tag}\n"
        ),
    )
    .unwrap();
    dir
}

fn qcheck_cmd(home: &Path, args: &[&str]) -> Command {
    let mut cmd = common::qcheck_command(home);
    cmd.arg("--pg-bin-dir")
        .arg(common::pg_bin().dir)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    cmd
}

/// Backends running the tagged query, seen through `conn` (`None` while the server is unreachable).
fn running_queries(conn: &str, tag: &str) -> Option<i64> {
    let mut client = postgres::Client::connect(conn, postgres::NoTls).ok()?;
    let n: i64 = client
        .query_one(
            "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%' || $1 || '%' \
               AND pid <> pg_backend_pid()",
            &[&tag],
        )
        .ok()?
        .get(0);
    Some(n)
}

/// Whether `ok` holds within `timeout`, asked every `every`.
fn poll(timeout: Duration, every: Duration, mut ok: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while !ok() {
        if start.elapsed() > timeout {
            return false;
        }
        std::thread::sleep(every);
    }
    true
}

fn wait_until(what: &str, timeout: Duration, ok: impl FnMut() -> bool) {
    assert!(
        poll(timeout, Duration::from_millis(100), ok),
        "timed out waiting until {what}"
    );
}

/// Sends `signal` to `child` once the query runs; returns its exit code, stderr and how long it took
/// to exit after the signal.
fn interrupt(mut child: Child, conn: &str, tag: &str, signal: i32) -> (i32, String, Duration) {
    wait_until(
        "the query runs on the server",
        Duration::from_secs(60),
        || {
            assert!(child.try_wait().unwrap().is_none(), "qcheck ended early");
            running_queries(conn, tag) == Some(1)
        },
    );
    let sent = Instant::now();
    // SAFETY: kill(2) on our own child's pid.
    let pid = i32::try_from(child.id()).unwrap();
    assert_eq!(unsafe { libc::kill(pid, signal) }, 0);
    let mut status = None;
    wait_until("qcheck exits", Duration::from_secs(10), || {
        status = child.try_wait().unwrap();
        status.is_some()
    });
    let took = sent.elapsed();
    let out = child.wait_with_output().unwrap();
    (status.unwrap().code().unwrap(), stderr(&out), took)
}

#[test]
fn ctrl_c_on_the_embedded_cluster_cancels_the_query_and_stops_the_server_it_started() {
    let base = common::temp_home("intr-embedded");
    let home = base.join("home");
    let tag = "intr_embedded_sigint";
    let queries = slow_queries(&base, tag);
    let child = qcheck_cmd(&home, &["check", "--queries", queries.to_str().unwrap()])
        .spawn()
        .unwrap();
    let cluster = Cluster::new(common::pg_bin(), home.clone()).unwrap();
    let conn = cluster.conn_string("qcheck");
    let (code, err, took) = interrupt(child, &conn, tag, libc::SIGINT);
    assert_eq!(code, 130, "{err}");
    assert_eq!(err.trim(), "qcheck: interrupted");
    assert!(took < Duration::from_secs(3), "took {took:?}");
    assert!(
        !cluster.is_running().unwrap(),
        "the server this qcheck started is stopped"
    );
    assert!(
        !cluster.data_dir().join("postmaster.pid").exists(),
        "no postmaster left: the query cannot be running"
    );
    cluster.destroy().unwrap();
    let _ = std::fs::remove_dir_all(&base);
}

fn signal(child: &Child, signal: i32) {
    // SAFETY: kill(2) on our own child's pid.
    let pid = i32::try_from(child.id()).unwrap();
    assert_eq!(unsafe { libc::kill(pid, signal) }, 0);
}

/// A second Ctrl-C while the first one's cleanup waits (here: for the lifecycle lock, which the test
/// holds, so the cleanup cannot finish) exits at once, 130. The query was cancelled by the first; the
/// server keeps its stop mark, so the next qcheck command on the home stops it.
#[test]
fn a_second_ctrl_c_during_the_cleanup_exits_at_once() {
    let base = common::temp_home("intr-twice");
    let home = base.join("home");
    let tag = "intr_twice_sigint";
    let queries = slow_queries(&base, tag);
    let mut child = qcheck_cmd(&home, &["check", "--queries", queries.to_str().unwrap()])
        .spawn()
        .unwrap();
    let cluster = Cluster::new(common::pg_bin(), home.clone()).unwrap();
    let conn = cluster.conn_string("qcheck");
    wait_until("the query runs", Duration::from_secs(60), || {
        assert!(child.try_wait().unwrap().is_none(), "qcheck ended early");
        running_queries(&conn, tag) == Some(1)
    });
    let file = std::fs::File::create(home.join(format!("pg{}.lock", cluster.bin.major))).unwrap();
    let lifecycle = nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusive).unwrap();

    signal(&child, libc::SIGINT);
    wait_until(
        "the first Ctrl-C cancels the query",
        Duration::from_secs(5),
        || running_queries(&conn, tag) == Some(0),
    );
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        child.try_wait().unwrap().is_none(),
        "the cleanup waits for the lifecycle lock"
    );
    let sent = Instant::now();
    signal(&child, libc::SIGINT);
    let mut status = None;
    wait_until("qcheck exits", Duration::from_secs(2), || {
        status = child.try_wait().unwrap();
        status.is_some()
    });
    assert!(
        sent.elapsed() < Duration::from_secs(1),
        "{:?}",
        sent.elapsed()
    );
    assert_eq!(status.unwrap().code(), Some(130));

    drop(lifecycle);
    assert!(
        cluster.is_running().unwrap(),
        "the cut-short cleanup left it"
    );
    let out = qcheck_cmd(&home, &["migrate", "status"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        !cluster.is_running().unwrap(),
        "the next command, its last user, stops it"
    );
    cluster.destroy().unwrap();
    let _ = std::fs::remove_dir_all(&base);
}

/// Child processes of `pid` named `name`, from /proc.
fn children_named(pid: u32, name: &str) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| {
            let child: u32 = e.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(e.path().join("stat")).ok()?;
            // `pid (comm) state ppid ...`; comm may hold spaces, so split after its `)`.
            let (head, rest) = stat.rsplit_once(')')?;
            let comm = head.split_once('(')?.1;
            let ppid: u32 = rest.split_whitespace().nth(1)?.parse().ok()?;
            (ppid == pid && comm == name).then_some(child)
        })
        .collect()
}

/// Whether `pid` is a live process (not gone, not a zombie).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(')')
                .map(|(_, r)| r.trim_start().starts_with('Z'))
        })
        == Some(false)
}

/// SIGTERM during `compare`'s harness check reaches pgbench: qcheck exits 143, pgbench is gone, and
/// so is pgbench's server-side query, here one that waits for a lock the test holds (a killed client's
/// query would otherwise wait on).
#[test]
fn sigterm_during_compare_stops_pgbench_and_its_server_side_query() {
    let tag = "intr_pgbench";
    let base = common::temp_home(tag);
    let (db, mut client) = common::fresh_db(tag);
    let url = common::url(&db);
    let out = qcheck_cmd(
        &base.join("home"),
        &["--database-url", &url, "seed", "--profile", "tiny"],
    )
    .output()
    .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let out_dir = base.join("report");
    let mut child = qcheck_cmd(
        &base.join("home"),
        &[
            "--database-url",
            &url,
            "compare",
            "--profile",
            "tiny",
            "--strategy",
            "tuned",
            "--query",
            "provider_day",
            "--runs",
            "1",
            "--warmup",
            "0",
            "--bookings",
            "1",
            "--cancellations",
            "1",
            "--harness-runs",
            "16000",
            "--out",
            out_dir.to_str().unwrap(),
        ],
    )
    .spawn()
    .unwrap();
    let name = format!("qcheck-pgbench-{}", child.id());
    let pgbench_backends = |client: &mut postgres::Client, waiting: bool| -> i64 {
        client
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1
                    AND (NOT $2 OR wait_event_type = 'Lock')",
                &[&name, &waiting],
            )
            .unwrap()
            .get(0)
    };
    let mut watcher = common::connect(&db);
    // pgbench runs alternate with qcheck's own timing loops: lock the table while a pgbench run is
    // on, so that its next transaction waits; if qcheck's loop came first and waits instead, let go
    // and try again.
    let mut pgbench = Vec::new();
    for _ in 0..20 {
        let runs = poll(Duration::from_secs(120), Duration::from_millis(10), || {
            assert!(child.try_wait().unwrap().is_none(), "qcheck ended early");
            pgbench_backends(&mut watcher, false) == 1
        });
        assert!(runs, "pgbench never ran");
        client
            .batch_execute("BEGIN; LOCK TABLE appointment IN ACCESS EXCLUSIVE MODE")
            .unwrap();
        if poll(Duration::from_secs(2), Duration::from_millis(20), || {
            pgbench_backends(&mut watcher, true) == 1
        }) {
            pgbench = children_named(child.id(), "pgbench");
            break;
        }
        client.batch_execute("ROLLBACK").unwrap();
    }
    assert_eq!(
        pgbench.len(),
        1,
        "a pgbench waiting on the lock: {pgbench:?}"
    );

    signal(&child, libc::SIGTERM);
    let mut status = None;
    wait_until("qcheck exits", Duration::from_secs(10), || {
        status = child.try_wait().unwrap();
        status.is_some()
    });
    let err = stderr(&child.wait_with_output().unwrap());
    assert_eq!(status.unwrap().code(), Some(143), "{err}");
    wait_until("pgbench is gone", Duration::from_secs(5), || {
        !alive(pgbench[0])
    });
    wait_until(
        "pgbench's server-side query is gone, the lock still held",
        Duration::from_secs(5),
        || pgbench_backends(&mut watcher, false) == 0,
    );
    client.batch_execute("ROLLBACK").unwrap();
    let _ = std::fs::remove_dir_all(&base);
}

/// On a server the user named, qcheck stops nothing: the cancel request alone ends the query.
fn on_a_named_server(tag: &str, signal: i32, expected: i32) {
    let base = common::temp_home(tag);
    let (db, _client) = common::fresh_db(tag);
    let url = common::url(&db);
    let queries = slow_queries(&base, tag);
    let child = qcheck_cmd(
        &base.join("home"),
        &[
            "--database-url",
            &url,
            "explain",
            "--queries",
            queries.to_str().unwrap(),
            "--query",
            "slow",
        ],
    )
    .spawn()
    .unwrap();
    let conn = common::cluster().cluster.conn_string(&db);
    let (code, err, took) = interrupt(child, &conn, tag, signal);
    assert_eq!(code, expected, "{err}");
    assert_eq!(err.trim(), "qcheck: interrupted");
    assert!(took < Duration::from_secs(3), "took {took:?}");
    wait_until(
        "the query is gone from pg_stat_activity",
        Duration::from_secs(2),
        || running_queries(&conn, tag) == Some(0),
    );
    let _ = std::fs::remove_dir_all(&base);
}

#[test]
fn sigint_on_a_named_server_cancels_the_query_and_exits_130() {
    on_a_named_server("intr_url_sigint", libc::SIGINT, 130);
}

#[test]
fn sigterm_on_a_named_server_cancels_the_query_and_exits_143() {
    on_a_named_server("intr_url_sigterm", libc::SIGTERM, 143);
}

#[test]
fn a_statement_timeout_stops_the_query_with_one_line_and_exit_2() {
    let tag = "intr_timeout";
    let base = common::temp_home(tag);
    let (db, _client) = common::fresh_db(tag);
    let queries = slow_queries(&base, tag);
    let start = Instant::now();
    let out = qcheck_cmd(
        &base.join("home"),
        &[
            "--database-url",
            &common::url(&db),
            "--statement-timeout",
            "1s",
            "explain",
            "--queries",
            queries.to_str().unwrap(),
            "--query",
            "slow",
        ],
    )
    .output()
    .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(start.elapsed() < Duration::from_secs(20));
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("query `slow`"), "{err}");
    assert!(err.contains("statement timeout"), "{err}");
    assert!(err.contains("--statement-timeout is 1000 ms"), "{err}");
    let _ = std::fs::remove_dir_all(&base);
}

#[test]
fn durations_and_write_counts_are_checked_before_anything_runs() {
    let home = common::temp_home("intr-usage").join("home");
    for bad in ["5m", "1.5s", "30", "1 s"] {
        let out = qcheck_cmd(&home, &["--statement-timeout", bad, "list"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{bad}");
        assert!(stderr(&out).contains("is not a duration"), "{bad}");
    }
    let out = qcheck_cmd(&home, &["compare", "--bookings", "100000000"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("at most 1000000"), "{}", stderr(&out));
    assert!(!home.exists(), "no cluster was made for a usage error");
}
