//! The dataset lock: a run that reads a database's dataset never sees it replaced underneath.
//!
//! Parallel CI jobs share one home (and so one database), and may ask for different datasets or
//! strategies. A `check` or `explain` holds the lock *shared* for its whole run; seeding, a strategy
//! switch or repair, and `compare` (which swaps strategies) hold it *exclusively*. So a run that
//! wants another dataset waits until the runs reading the current one are done (saying what it
//! waits for), replaces it, and then reads what it seeded.
//!
//! It is a PostgreSQL session-level advisory lock on a connection of its own, not a lock file:
//! the dataset lives in the database, so the lock is per database and holds for every client of
//! that server, also CI jobs on different machines sharing a server of their own. The server drops
//! it when the connection ends, however qcheck ends. PostgreSQL queues lock requests fairly (a
//! request for the shared lock waits behind a queued exclusive one), so a seed is never starved by
//! a stream of readers. And the switch from exclusive to shared after a seed is atomic (the shared
//! lock is taken while the exclusive one is still held), so no other seed can come in between.
//!
//! Going from shared to exclusive is never done while holding the shared lock: two processes both
//! holding it and both waiting for the exclusive one would wait for each other. A reader that finds
//! the wrong dataset releases its shared lock, then waits for the exclusive one, then checks again
//! (another process may have seeded in between).

use postgres::Client;

use crate::db::{Conn, Session};
use crate::error::{DbContext, Result};

/// Advisory lock key of the dataset ("qseed"). Seeds held it exclusively before readers took it too,
/// so an older qcheck seeding the same database still excludes a newer one.
const KEY: i64 = 0x71_7365_6564;

/// A held dataset lock (see the module doc); dropping it closes its connection, which releases it.
#[derive(Debug)]
pub struct DatasetLock {
    client: Conn,
    exclusive: bool,
}

impl DatasetLock {
    /// Waits for the shared lock: the dataset is then not replaced until it is dropped. `purpose`
    /// says what this process does with the dataset ("checking tiny, scale 1, seed 2, strategy
    /// tuned"); it is shown to processes that wait for this one.
    pub fn shared(session: &Session, purpose: &str) -> Result<DatasetLock> {
        DatasetLock::take(session, false, purpose)
    }

    /// Waits for the exclusive lock, needed to seed, switch strategies or repair indexes.
    pub fn exclusive(session: &Session, purpose: &str) -> Result<DatasetLock> {
        DatasetLock::take(session, true, purpose)
    }

    fn take(session: &Session, exclusive: bool, purpose: &str) -> Result<DatasetLock> {
        let mut client = session.connect()?;
        // Waiting for a seed at scale takes minutes: no statement timeout on this connection.
        client
            .batch_execute("SET statement_timeout = 0; SET lock_timeout = 0")
            .db("preparing the dataset lock's connection")?;
        announce(&mut client, purpose)?;
        let (try_lock, lock) = if exclusive {
            ("pg_try_advisory_lock", "pg_advisory_lock")
        } else {
            ("pg_try_advisory_lock_shared", "pg_advisory_lock_shared")
        };
        let got: bool = client
            .query_one(&format!("SELECT {try_lock}($1)"), &[&KEY])
            .db("taking the dataset lock")?
            .get(0);
        if !got {
            eprintln!(
                "qcheck: {}",
                waiting_line(&mut client, purpose, &session.target.describe())?
            );
            client
                .execute(&format!("SELECT {lock}($1)"), &[&KEY])
                .db("waiting for the dataset lock")?;
        }
        Ok(DatasetLock { client, exclusive })
    }

    /// Turns an exclusive lock into a shared one without letting go of it: no other seed can come
    /// in between (PostgreSQL grants a lock its holder already conflicts with ahead of the queue).
    pub fn downgrade(&mut self, purpose: &str) -> Result<()> {
        if !self.exclusive {
            return Ok(());
        }
        self.client
            .execute("SELECT pg_advisory_lock_shared($1)", &[&KEY])
            .db("keeping the dataset lock shared")?;
        self.client
            .execute("SELECT pg_advisory_unlock($1)", &[&KEY])
            .db("releasing the exclusive dataset lock")?;
        self.exclusive = false;
        announce(&mut self.client, purpose)
    }

    /// Whether the lock is held exclusively.
    pub fn is_exclusive(&self) -> bool {
        self.exclusive
    }

    /// The lock's connection (no statement timeout), for reading the dataset while it is held and,
    /// under the exclusive lock, for seeding it.
    pub fn client(&mut self) -> &mut Client {
        &mut self.client
    }
}

/// Shows what this process does in `application_name` (63 bytes at most), where waiting processes
/// read it.
fn announce(client: &mut Client, purpose: &str) -> Result<()> {
    let mut name = format!("qcheck: {purpose}");
    while name.len() > 63 {
        name.pop();
    }
    client
        .execute("SELECT set_config('application_name', $1, false)", &[&name])
        .db("naming the dataset lock's connection")?;
    Ok(())
}

/// `waiting for 3 other qcheck processes (reading tiny, scale 1, seed 1, strategy tuned) to finish
/// with the dataset of TARGET before seeding tiny, scale 1, seed 2, strategy tuned`: the holders,
/// and the seeds queued ahead (a shared request waits behind a queued exclusive one).
fn waiting_line(client: &mut Client, purpose: &str, target: &str) -> Result<String> {
    let holders: Vec<String> = client
        .query(
            "SELECT coalesce(nullif(a.application_name, ''), 'pid ' || l.pid)
               FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid
              WHERE l.locktype = 'advisory' AND l.objsubid = 1
                AND (l.granted OR l.mode = 'ExclusiveLock')
                AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
                AND l.classid::int8 = $1 AND l.objid::int8 = $2 AND l.pid <> pg_backend_pid()
              ORDER BY l.pid",
            &[&(KEY >> 32), &(KEY & 0xffff_ffff)],
        )
        .db("reading who holds the dataset lock")?
        .iter()
        .map(|r| {
            let name: String = r.get(0);
            name.strip_prefix("qcheck: ").unwrap_or(&name).to_string()
        })
        .collect();
    let mut kinds = holders.clone();
    kinds.sort();
    kinds.dedup();
    // None listed: released since the try, or held by a role this one cannot see.
    let who = match holders.len() {
        0 | 1 => "another qcheck process".to_string(),
        n => format!("{n} other qcheck processes"),
    };
    let what = if kinds.is_empty() {
        String::new()
    } else {
        format!(" ({})", kinds.join("; "))
    };
    Ok(format!(
        "waiting for {who}{what} to finish with the dataset of {target} before {purpose}"
    ))
}
