//! Ctrl-C and SIGTERM: cancel what runs on the server, end this process's use of the embedded
//! server, exit 130 (SIGINT) or 143 (SIGTERM) with one line on stderr.
//!
//! A process-global registry holds the cancel token of every open connection ([`CancelGuard`],
//! registered by [`crate::db::connect`], removed when the connection drops) and every server use of
//! an open [`crate::db::Session`]. [`install`] starts a thread that waits for the signals with
//! `signal-hook` (the handler itself only writes to a pipe, so no lock or allocation happens in signal
//! context); on the first one the thread sends a cancel request for every registered connection, then
//! ends the session's server uses under the rules of [`crate::cluster`] (the server is stopped only
//! when this process is its last user and a qcheck process started it), prints `qcheck: interrupted`
//! and exits. A second signal during that cleanup exits at once with the same code.
//!
//! Child processes qcheck waits for (pgbench, in `compare`'s harness check) are registered too
//! ([`ChildGuard`]): the signal thread sends each SIGTERM first, then cancels the query its
//! connection runs on the server (found by the unique `application_name` qcheck gave it; a killed
//! client's query would otherwise run on to its end), and removes its scratch folder.
//!
//! Without [`install`] (the library, the tests) nothing listens: the registry is just bookkeeping.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use postgres::{CancelToken, NoTls};

use crate::cluster::{Cluster, ServerUse};
use crate::tls::TlsSettings;

static NEXT_ID: AtomicU64 = AtomicU64::new(1);
static TOKENS: Mutex<Vec<(u64, CancelToken)>> = Mutex::new(Vec::new());
static USES: Mutex<Vec<(u64, Cluster, ServerUse)>> = Mutex::new(Vec::new());
static CHILDREN: Mutex<Vec<(u64, Child)>> = Mutex::new(Vec::new());
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Keeps a connection's cancel token registered while it lives.
#[derive(Debug)]
pub struct CancelGuard(u64);

impl CancelGuard {
    /// Registers `token` until the guard drops.
    pub fn register(token: CancelToken) -> CancelGuard {
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        lock(&TOKENS).push((id, token));
        CancelGuard(id)
    }
}

impl Drop for CancelGuard {
    fn drop(&mut self) {
        lock(&TOKENS).retain(|(id, _)| *id != self.0);
    }
}

/// A child process qcheck waits for: its pid, the server its connection goes to with the
/// `application_name` it connects under, and its scratch folder.
#[derive(Debug)]
pub struct Child {
    /// The child's process id.
    pub pid: u32,
    /// Where the child connects (settings and TLS) and the `application_name` it was given, unique to
    /// it: its server-side query is cancelled by that name.
    pub server: Option<(postgres::Config, TlsSettings, String)>,
    /// A folder of the child's to remove (its scripts and logs).
    pub scratch: Option<PathBuf>,
}

/// Keeps a child process registered while qcheck waits for it (see the module doc).
#[derive(Debug)]
pub struct ChildGuard(u64);

impl ChildGuard {
    /// Registers `child` until the guard drops.
    pub fn register(child: Child) -> ChildGuard {
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        lock(&CHILDREN).push((id, child));
        ChildGuard(id)
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        lock(&CHILDREN).retain(|(id, _)| *id != self.0);
    }
}

/// Ends a registered child: SIGTERM, then a cancel of its server-side query, then its folder.
fn stop_child(child: &Child) {
    if let Ok(pid) = i32::try_from(child.pid) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGTERM,
        );
    }
    if let Some((cfg, tls, name)) = &child.server {
        if let Ok(mut client) = crate::db::connect_with(cfg, tls) {
            let _ = client.execute(
                "SELECT pg_cancel_backend(pid) FROM pg_stat_activity
                  WHERE application_name = $1 AND pid <> pg_backend_pid()",
                &[name],
            );
        }
    }
    if let Some(dir) = &child.scratch {
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// Registers a session's use of an embedded server; returns the id [`release_use`] takes.
pub(crate) fn register_use(cluster: Cluster, server_use: ServerUse) -> u64 {
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    lock(&USES).push((id, cluster, server_use));
    id
}

/// Ends the registered use `id` (no-op when the signal thread already ended it). The registry stays
/// locked while the server is stopped, so an exit never cuts a stop short.
pub(crate) fn release_use(id: u64) -> crate::error::Result<()> {
    let mut uses = lock(&USES);
    if let Some(i) = uses.iter().position(|(u, _, _)| *u == id) {
        let (_, cluster, server_use) = uses.remove(i);
        cluster.release(server_use)?;
    }
    Ok(())
}

/// Whether a signal arrived: the main thread then leaves the exit to the signal thread.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// Blocks forever; called by the main thread once interrupted, while the signal thread cleans up
/// and exits the process.
pub fn wait_for_exit() -> ! {
    loop {
        std::thread::park();
    }
}

/// The exit code for a signal: 128 + its number (130 SIGINT, 143 SIGTERM).
pub fn exit_code(signal: i32) -> i32 {
    128 + signal
}

/// Stops every registered child (see [`ChildGuard`]), cancels every registered connection's running
/// query, then ends every registered server use.
pub fn cleanup() {
    let children: Vec<(u64, Child)> = lock(&CHILDREN).drain(..).collect();
    for (_, child) in &children {
        stop_child(child);
    }
    let tokens: Vec<CancelToken> = lock(&TOKENS).iter().map(|(_, t)| t.clone()).collect();
    for token in tokens {
        let _ = token.cancel_query(NoTls);
    }
    let mut uses = lock(&USES);
    for (_, cluster, server_use) in uses.drain(..) {
        let _ = cluster.release(server_use);
    }
}

/// Starts the signal thread (the `qcheck` binary calls it first thing). SIGINT and SIGTERM then
/// cancel, clean up and exit 130 / 143; a second one during the cleanup exits at once.
pub fn install() -> std::io::Result<()> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    use signal_hook::flag;
    use signal_hook::iterator::Signals;

    let again = Arc::new(AtomicBool::new(false));
    for sig in [SIGINT, SIGTERM] {
        // Runs before the flag is set: exits only on the second signal.
        flag::register_conditional_shutdown(sig, exit_code(sig), Arc::clone(&again))?;
        flag::register(sig, Arc::clone(&again))?;
    }
    let mut signals = Signals::new([SIGINT, SIGTERM])?;
    std::thread::Builder::new()
        .name("qcheck-signals".into())
        .spawn(move || {
            if let Some(sig) = signals.forever().next() {
                INTERRUPTED.store(true, Ordering::SeqCst);
                cleanup();
                eprintln!("qcheck: interrupted");
                std::process::exit(exit_code(sig));
            }
        })?;
    Ok(())
}
