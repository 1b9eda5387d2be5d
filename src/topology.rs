//! Citus: the appointment workload on a coordinator and N workers, embedded or the user's own.
//!
//! A clinic chain that outgrows one server distributes its data by tenant, and for PostgreSQL the
//! engine built for that is Citus. qcheck proves plans on such a cluster the way it does on one node,
//! so it needs three things this module owns:
//!
//! - **The embedded topology** (`--citus-workers N`): N+1 ordinary embedded clusters under
//!   `<home>/citus-<N>w/` (`coordinator`, `worker-1`, ...), each with `shared_preload_libraries =
//!   'citus'`, Unix sockets only. The coordinator is a [`Cluster`] whose
//!   [`followers`](Cluster::followers) are the workers: they start before it and stop after it under
//!   its lifecycle lock, and its users lock alone says whether the topology is in use, so every locking
//!   guarantee of the single node (see [`crate::cluster`]) holds for the whole topology. Each N is a
//!   topology of its own (a dataset on two workers is never mistaken for one on one worker).
//! - **Registration** ([`prepare_database`]): Citus keeps its metadata per database, so every
//!   database qcheck works in exists on every node with the extension, and the coordinator knows the
//!   workers (`citus_set_coordinator_host`, `citus_add_node`, by socket folder and port).
//! - **The distribution step** ([`distribute`]): after the migrations, on any database with the
//!   `citus` extension (embedded or `--database-url`), `sql/citus/distribute.sql` makes every key,
//!   unique index and exclusion constraint lead with `tenant_id`, re-points the trigger functions at
//!   tenant-scoped statements, and distributes the tables (see that file for why each change).
//!
//! [`detect`] reads what a server is: a user's own coordinator shows its Citus version and worker
//! count in the target line.

use std::path::{Path, PathBuf};

use postgres::{Client, Config};

use crate::cluster::{self, Cluster, PgBin};
use crate::db;
use crate::error::{DbContext, Error, Result};

/// The distribution step, run after the migrations when the database has the `citus` extension.
pub const DISTRIBUTE_SQL: &str = include_str!("../sql/citus/distribute.sql");

/// The most workers `--citus-workers` starts on one machine.
pub const MAX_WORKERS: u32 = 8;

/// Shards per worker of the embedded topology (`citus.shard_count` = this × workers). Citus's
/// default, 32 shards, is sized for many cores per worker; on one machine every shard of every month
/// partition is a table of its own, so fewer shards keep seeding and DDL proportionate.
pub const SHARDS_PER_WORKER: u32 = 4;

/// The Citus topology's folder under a home: one per worker count.
pub fn topology_home(home: &Path, workers: u32) -> PathBuf {
    home.join(format!("citus-{workers}w"))
}

/// Where `citus.so` must be for `shared_preload_libraries = 'citus'` to load: the installation's
/// `pg_config --pkglibdir`, else `<bindir>/../lib` (Debian's layout).
pub fn citus_library(bin: &PgBin) -> PathBuf {
    let from_pg_config = std::process::Command::new(bin.program("pg_config"))
        .arg("--pkglibdir")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    let lib = from_pg_config.unwrap_or_else(|| bin.dir.join("../lib"));
    lib.join("citus.so")
}

/// The embedded Citus topology with `workers` workers under `home`: a coordinator [`Cluster`] whose
/// followers are the workers. Exit 2 ([`Error::CitusMissing`]) when the extension is not installed.
pub fn citus_cluster(bin: &PgBin, home: &Path, workers: u32) -> Result<Cluster> {
    if workers == 0 || workers > MAX_WORKERS {
        return Err(Error::Topology(format!(
            "--citus-workers {workers}: choose 1 to {MAX_WORKERS} workers"
        )));
    }
    let library = citus_library(bin);
    if !library.is_file() {
        return Err(Error::CitusMissing {
            version: bin.version.clone(),
            missing: library,
        });
    }
    let base = topology_home(home, workers);
    let mut settings = node_settings();
    settings.push((
        "citus.shard_count".into(),
        (SHARDS_PER_WORKER * workers).to_string(),
    ));
    let mut coordinator = Cluster::new(bin.clone(), base.join("coordinator"))?;
    coordinator.extra_settings = settings;
    for i in 1..=workers {
        let mut worker = Cluster::new(bin.clone(), base.join(format!("worker-{i}")))?;
        worker.extra_settings = node_settings();
        coordinator.followers.push(worker);
    }
    Ok(coordinator)
}

/// Settings of every node: Citus preloaded; row triggers on distributed tables allowed (the audit
/// trail and the boundary guard write colocated tables from a shard's trigger, which Citus calls
/// unsafe only for tables that are not colocated); `SET LOCAL` propagated to the workers, because
/// the row-level security policies run on the shards and read `app.tenant_id` there.
fn node_settings() -> Vec<(String, String)> {
    vec![
        ("shared_preload_libraries".into(), "'citus'".into()),
        ("citus.enable_unsafe_triggers".into(), "on".into()),
        ("citus.propagate_set_commands".into(), "'local'".into()),
    ]
}

/// Whether a cluster is a Citus coordinator of the embedded topology.
pub fn is_citus(cluster: &Cluster) -> bool {
    !cluster.followers.is_empty()
}

/// One node of `qcheck cluster status`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct NodeStatus {
    /// `single`, `coordinator` or `worker N`.
    pub role: String,
    /// The port its socket is named after (every node has a socket folder of its own).
    pub port: u16,
    /// `running`, `stopped` or `not initialized`.
    pub state: String,
    /// The node's cluster status.
    #[serde(flatten)]
    pub status: cluster::Status,
}

/// Every node of the embedded target, the coordinator first (a single node alone).
pub fn node_statuses(cluster: &Cluster) -> Result<Vec<NodeStatus>> {
    let node = |role: String, c: &Cluster| -> Result<NodeStatus> {
        let status = c.status()?;
        let state = match (status.initialized, status.running) {
            (false, _) => "not initialized",
            (true, true) => "running",
            (true, false) => "stopped",
        };
        Ok(NodeStatus {
            role,
            port: cluster::PORT,
            state: state.into(),
            status,
        })
    };
    let mut out = vec![node(
        if is_citus(cluster) {
            "coordinator"
        } else {
            "single"
        }
        .into(),
        cluster,
    )?];
    for (i, worker) in cluster.followers.iter().enumerate() {
        out.push(node(format!("worker {}", i + 1), worker)?);
    }
    Ok(out)
}

fn node_config(node: &Cluster, dbname: &str) -> Config {
    let mut cfg = Config::new();
    cfg.host_path(node.socket_dir())
        .port(cluster::PORT)
        .user(cluster::SUPERUSER)
        .dbname(dbname);
    cfg
}

/// Makes `dbname` usable on the embedded topology: the database on every node with the `citus`
/// extension, the coordinator and the workers registered on the coordinator. Idempotent; the
/// topology must be running.
pub fn prepare_database(coordinator: &Cluster, dbname: &str) -> Result<()> {
    // Registering a node copies cluster-wide objects (roles) to it: two registrations at once, in two
    // databases, fail on the worker with "tuple concurrently updated". One at a time per topology.
    let lock_path = coordinator.home.with_extension("register.lock");
    let _registering = cluster::lock_file(&lock_path, nix::fcntl::FlockArg::LockExclusive)?
        .ok_or_else(|| {
            Error::io(
                &lock_path,
                std::io::Error::from(std::io::ErrorKind::WouldBlock),
            )
        })?;
    for node in coordinator.followers.iter().chain([coordinator]) {
        let mut admin = db::connect(&node_config(node, "postgres"))?;
        let exists = admin
            .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&dbname])
            .db("looking up the database on a Citus node")?
            .is_some();
        if !exists {
            admin
                .batch_execute(&format!(
                    "CREATE DATABASE {}",
                    crate::schema::quote_ident(dbname)
                ))
                .db(format!(
                    "creating database {dbname} on {}",
                    node.socket_dir().display()
                ))?;
        }
        let mut client = db::connect(&node_config(node, dbname))?;
        client
            .batch_execute("CREATE EXTENSION IF NOT EXISTS citus")
            .db(format!(
                "creating the citus extension on {}",
                node.socket_dir().display()
            ))?;
    }
    let mut client = db::connect(&node_config(coordinator, dbname))?;
    let host = coordinator.socket_dir().display().to_string();
    let port = i32::from(cluster::PORT);
    let has_coordinator = client
        .query_opt("SELECT 1 FROM pg_dist_node WHERE groupid = 0", &[])
        .db("reading the Citus node list")?
        .is_some();
    if !has_coordinator {
        client
            .execute("SELECT citus_set_coordinator_host($1, $2)", &[&host, &port])
            .db("registering the Citus coordinator")?;
    }
    for worker in &coordinator.followers {
        let host = worker.socket_dir().display().to_string();
        let known = client
            .query_opt(
                "SELECT 1 FROM pg_dist_node WHERE nodename = $1 AND nodeport = $2",
                &[&host, &port],
            )
            .db("reading the Citus node list")?
            .is_some();
        if !known {
            client
                .execute("SELECT citus_add_node($1, $2)", &[&host, &port])
                .db(format!("registering the Citus worker on {host}"))?;
        }
    }
    // Citus connects to the workers as the current role, and the application role is NOLOGIN: the
    // runner checks the plans as a login member of it (see `runner::role`). The embedded topology
    // has one; on a user's own cluster the application's login role is theirs to name.
    client
        .batch_execute(&format!(
            "DO $$ BEGIN CREATE ROLE {app} NOLOGIN;
             EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$;
             DO $$ BEGIN CREATE ROLE {login} LOGIN IN ROLE {app};
             EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$",
            app = crate::schema::APP_ROLE,
            login = CITUS_APP_LOGIN,
        ))
        .db(format!("creating the login role {CITUS_APP_LOGIN}"))?;
    Ok(())
}

/// The embedded topology's login member of the application role, which the runner checks the
/// queries as on Citus ([`prepare_database`]).
pub const CITUS_APP_LOGIN: &str = "qcheck_citus_app";

/// What a server is, as far as Citus goes.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CitusInfo {
    /// e.g. "13.2.2".
    pub version: String,
    /// Active primary workers registered on this coordinator.
    pub workers: i64,
}

impl std::fmt::Display for CitusInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Citus {} coordinator, {} worker{}",
            self.version,
            self.workers,
            if self.workers == 1 { "" } else { "s" }
        )
    }
}

/// Whether the connected database has the `citus` extension, with its version and worker count;
/// `None` on plain PostgreSQL.
pub fn detect(client: &mut Client) -> Result<Option<CitusInfo>> {
    let installed = client
        .query_opt("SELECT 1 FROM pg_extension WHERE extname = 'citus'", &[])
        .db("looking for the citus extension")?
        .is_some();
    if !installed {
        return Ok(None);
    }
    let row = client
        .query_one(
            "SELECT coalesce((regexp_match(citus_version(), '^Citus (\\S+)'))[1], citus_version()),
                    (SELECT count(*) FROM pg_dist_node
                      WHERE groupid <> 0 AND noderole = 'primary' AND isactive)",
            &[],
        )
        .db("reading the Citus version and workers")?;
    Ok(Some(CitusInfo {
        version: row.get(0),
        workers: row.get(1),
    }))
}

/// The target line with what [`detect`] found, e.g. `host=db port=5432 ... (Citus 13.2.2
/// coordinator, 2 workers)`.
pub fn describe_connected(target: &db::Target, client: &mut Client) -> Result<String> {
    let base = target.describe();
    Ok(match detect(client)? {
        Some(info) if !matches!(target, db::Target::Embedded(c) if is_citus(c)) => {
            format!("{base} ({info})")
        }
        _ => base,
    })
}

/// Runs a script one statement at a time. Citus propagates DDL to the workers as several commands in
/// one string, which a worker refuses inside a multi-statement simple query ("cannot insert multiple
/// commands into a prepared statement"), so a script on Citus is never sent in one piece. An error
/// names the file and the statement's line.
pub fn run_script(
    client: &mut impl postgres::GenericClient,
    sql: &str,
    first_line: usize,
    file: &str,
) -> Result<()> {
    let statements =
        crate::sql::split_statements(sql).map_err(|e| Error::Topology(format!("{file}: {e}")))?;
    for stmt in statements {
        client
            .batch_execute(&stmt.text)
            .db(format!("{file}:{}", stmt.line + first_line - 1))?;
    }
    Ok(())
}

/// The distribution step (see the module doc and `sql/citus/distribute.sql`): on a database with the
/// `citus` extension whose tables are not distributed yet, applies the Citus form of the model.
/// Returns whether it did. The function overrides are applied every time (a later migration's
/// `CREATE OR REPLACE` would bring back the single-node form). Call with the migrations applied.
pub fn distribute(client: &mut Client) -> Result<bool> {
    if detect(client)?.is_none() {
        return Ok(false);
    }
    let distributed = client
        .query_one(
            "SELECT to_regclass('appointment') IS NULL
                 OR EXISTS (SELECT 1 FROM pg_dist_partition WHERE logicalrelid = 'appointment'::regclass)",
            &[],
        )
        .db("looking up whether the model is distributed")?
        .get::<_, bool>(0);
    let (keys, functions) = DISTRIBUTE_SQL
        .split_once("-- qcheck: functions\n")
        .expect("distribute.sql has a functions section");
    let mut tx = client
        .transaction()
        .db("starting the Citus distribution step")?;
    tx.batch_execute(
        "SET LOCAL citus.enable_unsafe_triggers = on;
         SET LOCAL citus.multi_shard_modify_mode = sequential",
    )
    .db("setting up the Citus distribution step")?;
    if !distributed {
        run_script(&mut tx, keys, 1, "sql/citus/distribute.sql")?;
    }
    let offset = keys.lines().count() + 1;
    run_script(&mut tx, functions, offset + 1, "sql/citus/distribute.sql")?;
    tx.commit().db("committing the Citus distribution step")?;
    // For later sessions of any client: DDL on tables with triggers (migrate down) and SET LOCAL
    // reaching the shards' RLS policies. ALTER DATABASE needs the database's owner; a user's own
    // cluster may set these in its configuration instead.
    let dbname: String = client
        .query_one("SELECT current_database()", &[])
        .db("reading the database name")?
        .get(0);
    let db = crate::schema::quote_ident(&dbname);
    client
        .batch_execute(&format!(
            "ALTER DATABASE {db} SET citus.enable_unsafe_triggers = on;
             ALTER DATABASE {db} SET citus.propagate_set_commands = 'local';
             SET citus.enable_unsafe_triggers = on;
             SET citus.propagate_set_commands = 'local'"
        ))
        .db("setting the Citus options of the database")?;
    Ok(!distributed)
}

/// The seed's hook for Citus, before its reset transaction: a dataset already there is removed by
/// migrating down and up again (empty distributed tables, the strategy's indexes rebuilt by the
/// seed as always). The single-node reset cannot be used: Citus propagates `TRUNCATE` to the shards
/// and drops a dropped partition's shards from triggers, which `session_replication_role = replica`
/// silences, and without `replica` the shards' own append-only trigger on `appointment_audit`
/// refuses the `TRUNCATE` (`DISABLE TRIGGER` on the coordinator does not reach the shards).
pub fn empty_for_seed(client: &mut Client) -> Result<()> {
    if crate::schema::data_rows(client)?.is_empty() {
        return Ok(());
    }
    crate::schema::migrate_down(client, 0)?;
    crate::schema::migrate_up(client)?;
    Ok(())
}

/// The seed's hook for Citus at the start of its reset transaction: every statement on one
/// connection per worker, because the distributed tables have foreign keys to the reference table
/// `tenant`, and Citus refuses parallel DDL on them once the transaction has touched it.
pub fn before_reset(client: &mut Client) -> Result<()> {
    client
        .batch_execute("SET LOCAL citus.multi_shard_modify_mode = sequential")
        .db("choosing sequential mode for the Citus seed")
}
