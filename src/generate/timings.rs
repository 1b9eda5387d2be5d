//! `qcheck seed --timings`: the seed's performance as ratios measured in one run on one server.
//!
//! Three figures, each against its own baseline, so they mean the same on a fast or a slow machine:
//! - the seed's appointment load throughput against a raw server-side binary `COPY appointment FROM
//!   'file'` of the identical rows into the same (empty, constraint-free) partitioned table — and, for
//!   the record, text COPY of the same rows, which is why the loader uses binary;
//! - the seed's appointment load against the *plain-slot reference*: the same rows, with their
//!   `slot` computed client-side, loaded by raw server-side binary `COPY leaf FROM 'file' (FREEZE)`
//!   into a twin of `appointment` whose `slot` is a plain column — what ingest would cost without
//!   the generated column's function call per row (see [`plain_slot_reference`] for why it is the
//!   fair comparison);
//! - the generator alone (generation and encoding to binary COPY) on one core, in rows per second
//!   (the digest is computed by the loading threads, which mostly wait for the server; its sha256
//!   throughput is printed beside);
//! - the seed end to end against the serial sum of its unavoidable steps, each run alone one after
//!   another: the COPY, every exclusion constraint, every strategy index, VACUUM (ANALYZE).
//!
//! It seeds (forced), then measures the baselines in the same database, which leaves the same complete
//! dataset behind (the appointments are reloaded from the file, constraints and indexes rebuilt).

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use postgres::Client;
use serde::Serialize;

use super::load::{existing_leaves, in_transaction};
use super::lock::DatasetLock;
use super::meta;
use super::post::prepare_session;
use super::produce::{Segment, generate_only};
use super::rows::{APPOINTMENT_COLUMNS, Appointment};
use super::seed::{SeedOutcome, SeedRequest, ensure_seeded, ensure_seeded_under};
use super::world::World;
use crate::db::Session;
use crate::error::{DbContext, Error, IoContext, Result};
use crate::progress::Progress;
use crate::schema;
use sha2::Digest;

/// One step of the serial baseline.
#[derive(Debug, Clone, Serialize)]
pub struct SerialStep {
    /// What ran: `COPY`, `exclusion <leaf>`, `index <name>` or `VACUUM (ANALYZE)`.
    pub step: String,
    /// Wall-clock seconds.
    pub seconds: f64,
}

/// The measurements of `qcheck seed --timings` (rendered by `report::seed`).
#[derive(Debug, Clone, Serialize)]
pub struct Timings {
    /// The seed run (forced) whose load is measured.
    pub seed: SeedOutcome,
    /// Appointments the generator produced.
    pub appointments: u64,
    /// Best of three runs of the generator alone, in seconds.
    pub generator_seconds: f64,
    /// sha256 throughput (the dataset digest, computed by the loading threads).
    pub digest_bytes_per_sec: f64,
    /// Server-side binary `COPY FROM` file of every appointment, in seconds.
    pub copy_binary_seconds: f64,
    /// The same in text format (rolled back), in seconds.
    pub copy_text_seconds: f64,
    /// The seed's unavoidable steps, each run alone one after another.
    pub serial: Vec<SerialStep>,
    /// The plain-slot reference (see [`plain_slot_reference`]), in seconds.
    pub plain_slot_seconds: f64,
}

impl Timings {
    /// Appointments per second of the generator alone.
    pub fn generator_rows_per_sec(&self) -> f64 {
        self.appointments as f64 / self.generator_seconds
    }
    /// Appointments per second of the seed's own load.
    pub fn seed_load_rows_per_sec(&self) -> f64 {
        self.appointments as f64 / self.seed.appointment_copy_seconds
    }
    /// Appointments per second of the binary COPY baseline.
    pub fn copy_binary_rows_per_sec(&self) -> f64 {
        self.appointments as f64 / self.copy_binary_seconds
    }
    /// Appointments per second of the text COPY baseline.
    pub fn copy_text_rows_per_sec(&self) -> f64 {
        self.appointments as f64 / self.copy_text_seconds
    }
    /// Seed load throughput / raw binary COPY throughput (target >= 0.8).
    pub fn load_ratio(&self) -> f64 {
        self.seed_load_rows_per_sec() / self.copy_binary_rows_per_sec()
    }
    /// Appointments per second of the plain-slot reference.
    pub fn plain_slot_rows_per_sec(&self) -> f64 {
        self.appointments as f64 / self.plain_slot_seconds
    }
    /// Seed load throughput / plain-slot reference throughput (issue 11's target: >= 0.8 once the
    /// slot function is inlinable).
    pub fn plain_slot_ratio(&self) -> f64 {
        self.seed_load_rows_per_sec() / self.plain_slot_rows_per_sec()
    }
    /// Seconds of the serial steps, summed.
    pub fn serial_sum(&self) -> f64 {
        self.serial.iter().map(|s| s.seconds).sum()
    }
    /// Seed end to end / serial sum of its unavoidable steps (target <= 0.8).
    pub fn end_to_end_ratio(&self) -> f64 {
        self.seed.total_seconds / self.serial_sum()
    }
}

/// `request` as `--timings` seeds it: forced, so the seed is measured even when cached.
fn forced(request: &SeedRequest) -> SeedRequest {
    let mut forced = request.clone();
    forced.force = Some("--timings");
    forced
}

/// Seeds `request` (forced) on the session's Citus coordinator, the seed `seed --timings` measures
/// through it (the single node's side is [`measure`]).
pub fn seed_forced(
    session: &Session,
    request: &SeedRequest,
    progress: &Progress,
) -> Result<SeedOutcome> {
    ensure_seeded(session, &forced(request), progress)
}

/// `qcheck seed --timings` on Citus: the same dataset (profile, scale, seed) seeded through the
/// coordinator and on the single node of the same home, in one run, so that the Citus/single ratios
/// compare two seeds on the same machine under the same load.
#[derive(Debug, Clone, Serialize)]
pub struct TopologyTimings {
    /// The single node's [`measure`]: its seed and the server-file references, which a coordinator
    /// cannot take (they COPY files the server reads itself into the partitions it holds, and a
    /// coordinator's partitions are empty shells whose rows live on the workers' shards).
    pub single: Timings,
    /// The forced seed through the coordinator.
    pub citus: SeedOutcome,
}

/// One seed phase on both targets.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PhaseRates {
    /// The phase (`load`, `constraints+indexes`, ..., `total`).
    pub phase: String,
    /// Seconds on the single node.
    pub single_seconds: f64,
    /// The dataset's rows per second of the phase on the single node.
    pub single_rows_per_sec: f64,
    /// Seconds through the coordinator.
    pub citus_seconds: f64,
    /// The dataset's rows per second of the phase through the coordinator.
    pub citus_rows_per_sec: f64,
    /// Citus rows/s divided by single-node rows/s (above 1: Citus is faster).
    pub citus_to_single: f64,
}

impl TopologyTimings {
    /// Rows of the dataset (every table), the numerator of every phase's rows/s.
    pub fn rows(&self) -> u64 {
        self.single.seed.dataset.row_counts.values().sum()
    }

    /// Whether both targets hold the same rows (the same dataset digest).
    pub fn same_digest(&self) -> bool {
        self.single.seed.dataset.digest == self.citus.dataset.digest
    }

    /// Every phase both seeds ran, in the single node's order, then the total.
    pub fn phases(&self) -> Vec<PhaseRates> {
        let rows = self.rows() as f64;
        let rates = |phase: &str, single: f64, citus: f64| PhaseRates {
            phase: phase.to_string(),
            single_seconds: single,
            single_rows_per_sec: rows / single,
            citus_seconds: citus,
            citus_rows_per_sec: rows / citus,
            citus_to_single: (rows / citus) / (rows / single),
        };
        let mut out: Vec<PhaseRates> = self
            .single
            .seed
            .phases
            .iter()
            .filter_map(|s| {
                let c = self.citus.phases.iter().find(|c| c.phase == s.phase)?;
                Some(rates(&s.phase, s.seconds, c.seconds))
            })
            .collect();
        out.push(rates(
            "total",
            self.single.seed.total_seconds,
            self.citus.total_seconds,
        ));
        out
    }
}

/// Seeds `request` (forced) and measures the baselines. Needs a superuser (server-side COPY FROM a
/// file, which the server reads itself: it must run on this machine).
/// Holds the exclusive dataset lock from the seed to the end: the baselines drop and reload the
/// appointments, which no other process may read (nor reseed) in between.
pub fn measure(session: &Session, request: &SeedRequest, progress: &Progress) -> Result<Timings> {
    let mut lock = DatasetLock::exclusive(
        session,
        &format!("measuring seed --timings of {}", request.describe()),
    )?;
    let seed = ensure_seeded_under(session, &mut lock, &forced(request), progress)?;

    progress.note("timings: the generator alone ...");
    let world = World::plan(&request.profile, request.scale, request.seed)?;
    let segs: Vec<Segment> = (0..world.months.len()).map(Segment::Appointments).collect();
    // Best of three: the machine is shared, and the generator's own speed is what is asked.
    let mut generator_seconds = f64::INFINITY;
    let mut appointments = 0;
    for _ in 0..3 {
        let t = Instant::now();
        appointments = generate_only(&world, &segs)
            .ok_or_else(|| Error::Dataset("the generator stopped".into()))?;
        generator_seconds = generator_seconds.min(t.elapsed().as_secs_f64());
    }
    // The digest runs on the loading threads, beside the generator: its own throughput.
    #[allow(
        clippy::cast_possible_truncation,
        reason = "a repeating byte pattern: keeping the low byte is the intent"
    )]
    let sample: Vec<u8> = (0..64 << 20).map(|i: u32| i as u8).collect();
    let t = Instant::now();
    std::hint::black_box(sha2::Sha256::digest(&sample));
    let digest_bytes_per_sec = sample.len() as f64 / t.elapsed().as_secs_f64();

    progress.note("timings: writing the appointments to files for server-side COPY ...");
    let files = CopyFiles::write(&world)?;
    let mut client = session.connect()?;
    prepare_session(&mut client)?;
    meta::clear(&mut client)?;

    progress.note("timings: text COPY FROM file (rolled back) ...");
    // Measured inside a transaction that is rolled back: the dataset stays as the seed loaded it.
    client
        .batch_execute("BEGIN")
        .db("text COPY baseline: BEGIN")?;
    let text = copy_from_file(&mut client, &world, &files.text, "text");
    let _ = client.batch_execute("ROLLBACK");
    let copy_text_seconds = text?;

    progress.note("timings: binary COPY FROM file ...");
    let mut serial = Vec::new();
    let copy_binary_seconds = in_transaction(&mut client, "binary COPY baseline", |c| {
        copy_from_file(c, &world, &files.binary, "binary")
    })?;
    serial.push(SerialStep {
        step: "COPY".into(),
        seconds: copy_binary_seconds,
    });

    // Now `appointment` is as the seed's load sees it (empty leaves were just filled, no exclusion
    // constraints, no strategy indexes): the twin copies exactly that.
    progress.note("timings: plain-slot reference (a twin whose slot is a plain column) ...");
    let plain_slot_seconds = plain_slot_reference(session, &mut client, &world)?;

    progress.note("timings: exclusion constraints, one after another ...");
    for leaf in existing_leaves(&mut client)? {
        let t = Instant::now();
        client
            .execute(
                "SELECT add_appointment_partition_exclusion($1::text::regclass)",
                &[&leaf],
            )
            .db(format!("exclusion constraint of {leaf}"))?;
        serial.push(SerialStep {
            step: format!("exclusion {leaf}"),
            seconds: t.elapsed().as_secs_f64(),
        });
    }
    progress.note("timings: strategy indexes, one after another ...");
    let strategy = schema::strategy(&request.strategy)?;
    for built in schema::apply_strategy(&mut client, &strategy)? {
        serial.push(SerialStep {
            step: format!("index {}", built.name),
            seconds: built.build_ms / 1e3,
        });
    }
    progress.note("timings: VACUUM (ANALYZE) ...");
    let t = Instant::now();
    client
        .batch_execute("VACUUM (ANALYZE)")
        .db("VACUUM (ANALYZE) baseline")?;
    serial.push(SerialStep {
        step: "VACUUM (ANALYZE)".into(),
        seconds: t.elapsed().as_secs_f64(),
    });

    // Same rows, constraints, indexes and statistics as the seed left: the dataset is complete again.
    meta::write(&mut client, &seed.dataset)?;
    Ok(Timings {
        seed,
        appointments,
        generator_seconds,
        digest_bytes_per_sec,
        copy_binary_seconds,
        copy_text_seconds,
        serial,
        plain_slot_seconds,
    })
}

/// The twin of `appointment` the plain-slot reference loads (dropped afterwards).
pub const PLAIN_SLOT_TWIN: &str = "qcheck_timings_plain_slot";

/// The plain-slot reference: the seed's appointment load, minus the generated column.
///
/// What makes it the fair comparison — everything but the `slot` column's generation is the seed's:
/// - the table: `CREATE TABLE twin (LIKE appointment INCLUDING ALL EXCLUDING GENERATED)`,
///   partitioned by the same months, so the same columns, types, defaults, NOT NULL and CHECK
///   constraints, storage, and the same indexes — taken at the moment of the pipeline the seed
///   loads in (the caller creates it right after the binary baseline, when the leaves have their
///   primary key and the migrations' indexes but no exclusion constraint and no strategy index);
///   foreign keys are not copied, and in the seed's load they cost nothing either (its
///   `session_replication_role = replica` silences their triggers, and this load runs the same);
/// - the load: one `COPY leaf FROM 'file' (FORMAT binary, FREEZE)` per month leaf, each leaf
///   truncated in the same transaction, the leaves shared by two connections in parallel, as the
///   seed does;
/// - the rows: the identical appointments, in the same order, with `slot` encoded client-side.
///
/// What differs is what the reference measures: no function call per row, and no generator or
/// client round trips (the files are written before the clock starts, the server reads them
/// itself). So the ratio says how close the seed's load gets to the server's raw ingest of the same
/// rows. Needs a superuser, like the other baselines. The twin and the files are removed whatever
/// happens.
pub fn plain_slot_reference(session: &Session, client: &mut Client, w: &World) -> Result<f64> {
    let files = LeafFiles::write(w)?;
    let leaves = create_twin(client, w)?;
    let loaded = load_twin(session, &leaves, &files);
    // Dropped whatever happened. A run killed outright leaves it behind, marked as qcheck's scratch
    // table: no later command takes it for somebody else's, and the next seed drops it.
    let dropped = client
        .batch_execute(&format!(
            "DROP TABLE IF EXISTS {}",
            schema::quote_ident(PLAIN_SLOT_TWIN)
        ))
        .db("dropping the plain-slot twin");
    let seconds = loaded?;
    dropped?;
    Ok(seconds)
}

/// Creates (and commits) the twin and its month leaves; returns the quoted leaf names in month
/// order.
fn create_twin(client: &mut Client, w: &World) -> Result<Vec<String>> {
    let twin = schema::quote_ident(PLAIN_SLOT_TWIN);
    let mut sql = format!(
        "DROP TABLE IF EXISTS {twin};
         CREATE TABLE {twin} (LIKE appointment INCLUDING ALL EXCLUDING GENERATED)
             PARTITION BY RANGE (scheduled_at);
         {};",
        schema::mark_scratch_sql(
            PLAIN_SLOT_TWIN,
            "the plain-slot reference of seed --timings"
        )
    );
    let mut leaves = Vec::with_capacity(w.months.len());
    for m in &w.months {
        let leaf = schema::quote_ident(&format!(
            "{PLAIN_SLOT_TWIN}{}",
            m.leaf.trim_start_matches("appointment")
        ));
        let next = crate::dataset::add_months(m.first, 1);
        sql.push_str(&format!(
            "CREATE TABLE {leaf} PARTITION OF {twin}
                 FOR VALUES FROM ('{} 00:00:00+00') TO ('{} 00:00:00+00');",
            m.first.format("%Y-%m-%d"),
            next.format("%Y-%m-%d")
        ));
        leaves.push(leaf);
    }
    in_transaction(client, "creating the plain-slot twin", |c| {
        c.batch_execute(&sql)
            .db("creating the plain-slot twin of appointment")
    })?;
    Ok(leaves)
}

/// Loads every leaf of the twin from its file on two connections, as the seed shares its leaves;
/// returns the wall-clock seconds from the first COPY to the end of the last.
fn load_twin(session: &Session, leaves: &[String], files: &LeafFiles) -> Result<f64> {
    let mut clients = [session.connect()?, session.connect()?];
    for c in &mut clients {
        prepare_session(c)?;
    }
    let next = AtomicUsize::new(0);
    let t = Instant::now();
    let results: Vec<Result<()>> = std::thread::scope(|s| {
        let handles: Vec<_> = clients
            .iter_mut()
            .map(|c| {
                let next = &next;
                s.spawn(move || {
                    in_transaction(c, "plain-slot reference", |c| {
                        c.batch_execute("SET LOCAL session_replication_role = replica")
                            .db("silencing triggers (--timings needs a superuser)")?;
                        while let (Some(leaf), Some(file)) = {
                            let m = next.fetch_add(1, Ordering::SeqCst);
                            (leaves.get(m), files.files.get(m))
                        } {
                            // Truncated in this transaction, so that COPY FREEZE accepts it.
                            c.batch_execute(&format!(
                                "TRUNCATE {leaf};
                                 COPY {leaf} ({APPOINTMENT_COLUMNS}, slot) FROM '{}' (FORMAT binary, FREEZE)",
                                file.display()
                            ))
                            .db(format!("plain-slot reference: COPY into {leaf}"))?;
                        }
                        Ok(())
                    })
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    Err(Error::Dataset("a reference loader thread panicked".into()))
                })
            })
            .collect()
    });
    let seconds = t.elapsed().as_secs_f64();
    for r in results {
        r?;
    }
    Ok(seconds)
}

/// One binary COPY file per month leaf, each row the seed's appointment plus its `slot`
/// (`[scheduled_at, end)` in tstzrange's binary form), in a private folder under the temp dir that
/// the server's OS user can read; removed when dropped.
struct LeafFiles {
    dir: PathBuf,
    files: Vec<PathBuf>,
}

impl LeafFiles {
    fn write(w: &World) -> Result<LeafFiles> {
        let dir = std::env::temp_dir().join(format!("qcheck-plain-slot-{}", std::process::id()));
        std::fs::create_dir_all(&dir).at(&dir)?;
        let mut out = LeafFiles {
            dir,
            files: Vec::new(),
        };
        std::fs::set_permissions(&out.dir, std::fs::Permissions::from_mode(0o755)).at(&out.dir)?;
        let mut row = super::copy::StackRow::new();
        for (m, month) in w.months.iter().enumerate() {
            let path = out.dir.join(format!("{}.bin", month.leaf));
            let mut file =
                std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&path).at(&path)?);
            let mut buf = Vec::with_capacity(1 << 20);
            buf.extend_from_slice(super::copy::BINARY_HEADER);
            let mut failed = None;
            w.month_appointments(m, &mut |a: &Appointment| {
                encode_with_slot(a, w, &mut row, &mut buf);
                if buf.len() > (1 << 20) {
                    if let Err(e) = file.write_all(&buf) {
                        failed.get_or_insert(e);
                    }
                    buf.clear();
                }
            });
            if let Some(e) = failed {
                return Err(Error::io(&path, e));
            }
            buf.extend_from_slice(super::copy::BINARY_TRAILER);
            file.write_all(&buf).at(&path)?;
            file.flush().at(&path)?;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).at(&path)?;
            out.files.push(path);
        }
        Ok(out)
    }
}

impl Drop for LeafFiles {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The seed's binary row of `a` with a 13th field, `slot` = `[scheduled_at, end)`: tstzrange's
/// binary form is a flags byte (0x02: lower bound inclusive, upper exclusive) and each bound as a
/// length-prefixed timestamptz.
fn encode_with_slot(
    a: &Appointment,
    w: &World,
    row: &mut super::copy::StackRow,
    buf: &mut Vec<u8>,
) {
    let start = buf.len();
    a.encode_binary_with(w, row, buf);
    buf[start..start + 2].copy_from_slice(&13i16.to_be_bytes());
    buf.extend_from_slice(&25i32.to_be_bytes());
    buf.push(0x02);
    for bound in [a.scheduled_at, a.end()] {
        buf.extend_from_slice(&8i32.to_be_bytes());
        buf.extend_from_slice(&bound.to_be_bytes());
    }
}

/// Replaces the appointment partitions by empty ones without exclusion constraints (and drops the
/// strategy's indexes), as the seed's load sees them, then COPYs the file in through the parent.
fn copy_from_file(c: &mut Client, w: &World, file: &std::path::Path, format: &str) -> Result<f64> {
    c.batch_execute("SET LOCAL session_replication_role = replica")
        .db("silencing triggers (--timings needs a superuser)")?;
    schema::drop_strategy_indexes(c)?;
    let leaves = existing_leaves(c)?;
    if !leaves.is_empty() {
        let list: Vec<String> = leaves.iter().map(|l| schema::quote_ident(l)).collect();
        c.batch_execute(&format!("DROP TABLE {}", list.join(", ")))
            .db("dropping the partitions")?;
    }
    for m in &w.months {
        c.execute(
            "SELECT create_appointment_partition($1, false)",
            &[&m.first],
        )
        .db(format!("creating {}", m.leaf))?;
    }
    let sql = format!(
        "COPY appointment ({APPOINTMENT_COLUMNS}) FROM '{}' (FORMAT {format})",
        file.display()
    );
    let t = Instant::now();
    c.batch_execute(&sql).db(format!(
        "{format} COPY FROM {} (the server must run on this machine)",
        file.display()
    ))?;
    Ok(t.elapsed().as_secs_f64())
}

/// The appointments as a binary and a text COPY file under /tmp, readable by the server's OS user;
/// removed when dropped.
struct CopyFiles {
    binary: PathBuf,
    text: PathBuf,
}

impl CopyFiles {
    fn write(w: &World) -> Result<CopyFiles> {
        let base = std::env::temp_dir().join(format!("qcheck-timings-{}", std::process::id()));
        let files = CopyFiles {
            binary: base.with_extension("bin"),
            text: base.with_extension("txt"),
        };
        let mut bin = std::io::BufWriter::with_capacity(
            1 << 20,
            std::fs::File::create(&files.binary).at(&files.binary)?,
        );
        let mut txt = std::io::BufWriter::with_capacity(
            1 << 20,
            std::fs::File::create(&files.text).at(&files.text)?,
        );
        bin.write_all(super::copy::BINARY_HEADER)
            .at(&files.binary)?;
        let (mut bbuf, mut tbuf) = (Vec::with_capacity(1 << 20), Vec::with_capacity(1 << 20));
        let mut failed = None;
        for m in 0..w.months.len() {
            w.month_appointments(m, &mut |a: &Appointment| {
                a.encode_binary(w, &mut bbuf);
                a.encode_text(w, &mut tbuf);
                if bbuf.len() > (1 << 20) {
                    if let Err(e) = bin.write_all(&bbuf).and_then(|()| txt.write_all(&tbuf)) {
                        failed.get_or_insert(e);
                    }
                    bbuf.clear();
                    tbuf.clear();
                }
            });
        }
        if let Some(e) = failed {
            return Err(Error::io(&files.binary, e));
        }
        bin.write_all(&bbuf).at(&files.binary)?;
        bin.write_all(super::copy::BINARY_TRAILER)
            .at(&files.binary)?;
        txt.write_all(&tbuf).at(&files.text)?;
        bin.flush().at(&files.binary)?;
        txt.flush().at(&files.text)?;
        for f in [&files.binary, &files.text] {
            std::fs::set_permissions(f, std::fs::Permissions::from_mode(0o644)).at(f)?;
        }
        Ok(files)
    }
}

impl Drop for CopyFiles {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.binary);
        let _ = std::fs::remove_file(&self.text);
    }
}
