//! Rendering of `qcheck seed` (what was seeded: tables, phases, digest) and `qcheck seed --timings`
//! (the performance ratios against their baselines), for the terminal, Markdown and JSON.
//!
//! Pure: the command measures and seeds, then hands the plain results here and prints the strings.

use super::{Format, fmt, table};
use crate::generate::timings::SerialStep;
use crate::generate::{DatasetMeta, SeedOutcome, SeedStatus, Timings, TopologyTimings};

/// Why a command is about to seed, on one line: what the cache holds, what was asked for, and how
/// long the seed should take — `cached: tiny scale 1 seed 42; requested: clinic scale 1 seed 42 —
/// seeding, about 45 s`. `seconds` is the generator's estimate for the requested size. `force` is
/// the option that forces a seed (`--force`, `--timings`): "again" only when the cache holds the
/// requested data, so a forced seed on an empty database says nothing was cached.
pub fn reseed_note(
    cached: Option<&DatasetMeta>,
    wanted: &DatasetMeta,
    force: Option<&str>,
    seconds: f64,
) -> String {
    let describe = |m: &DatasetMeta| format!("{} scale {} seed {}", m.profile, m.scale, m.seed);
    let about = about(seconds);
    if let (Some(flag), Some(cached)) = (force, cached) {
        if cached.same_data(wanted) {
            return format!("{flag}: seeding {} again, {about}", describe(wanted));
        }
    }
    let Some(cached) = cached else {
        return format!(
            "no dataset cached yet; requested: {} — seeding, {about}",
            describe(wanted)
        );
    };
    let mut there = describe(cached);
    if there == describe(wanted) {
        // The same names: say which of the hidden inputs differs.
        let mut why = Vec::new();
        if cached.profile_hash != wanted.profile_hash {
            why.push("its profile file has changed since");
        }
        if cached.generator_version != wanted.generator_version {
            why.push("made by another version of qcheck's generator");
        }
        if cached.schema_checksum != wanted.schema_checksum {
            why.push("the schema's migrations have changed since");
        }
        if !why.is_empty() {
            there.push_str(&format!(" ({})", why.join("; ")));
        }
    }
    format!(
        "cached: {there}; requested: {} — seeding, {about}",
        describe(wanted)
    )
}

/// `about 3 s`, `about 45 s`, `about 4 min`: an estimate, rounded as one.
fn about(seconds: f64) -> String {
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "an estimate of seconds, clamped to 1 and up, far below u64::MAX"
    )]
    let s = seconds.max(1.0).round() as u64;
    match s {
        0..=9 => format!("about {s} s"),
        10..=89 => format!("about {} s", (s + 2) / 5 * 5),
        _ => format!("about {} min", (s + 30) / 60),
    }
}

/// Generator throughput the seed is designed for (rows/s, one core).
const TARGET_GENERATOR_ROWS_PER_SEC: f64 = 3e6;
/// Seed load throughput / raw binary COPY: at least this.
const TARGET_LOAD_RATIO: f64 = 0.8;
/// Seed end to end / serial sum of its steps: at most this.
const TARGET_END_TO_END_RATIO: f64 = 0.8;
/// Issue 11: the seed's appointment load at least this share of the plain-slot reference.
const TARGET_PLAIN_SLOT_RATIO: f64 = 0.8;

/// The one-line note (for stderr) of what the seed did: up to date, strategy applied, or seeded.
pub fn status_line(o: &SeedOutcome) -> String {
    let d = &o.dataset;
    let what = format!(
        "profile {}, scale {}, seed {}, strategy {}",
        d.profile, d.scale, d.seed, d.strategy
    );
    let mut line = match o.status {
        SeedStatus::UpToDate => format!("qcheck: dataset up to date ({what}) on {}", o.target),
        SeedStatus::StrategyApplied => format!(
            "qcheck: dataset up to date; index strategy `{}` applied in {} ({what})",
            d.strategy,
            fmt::duration_s(o.total_seconds)
        ),
        SeedStatus::Seeded => format!(
            "qcheck: seeded {what} in {} on {}",
            fmt::duration_s(o.total_seconds),
            o.target
        ),
    };
    for repair in &o.repairs {
        line.push_str("\nqcheck: ");
        line.push_str(repair);
    }
    line
}

/// The seed's result: the JSON document, or the tables (rows and sizes per table, time per phase)
/// and the dataset digest.
pub fn outcome(format: Format, o: &SeedOutcome) -> String {
    if format == Format::Json {
        return pretty_json(o);
    }
    let rows: Vec<Vec<String>> = o
        .tables
        .iter()
        .map(|t| {
            vec![
                t.table.clone(),
                fmt::count_u64(t.rows),
                t.partitions.to_string(),
                fmt::bytes(t.table_bytes as f64),
                fmt::bytes(t.index_bytes as f64),
            ]
        })
        .collect();
    let mut out = table(
        format,
        &["table", "rows", "partitions", "table size", "index size"],
        &rows,
    );
    out.push('\n');
    if !o.phases.is_empty() {
        let mut rows: Vec<Vec<String>> = o
            .phases
            .iter()
            .map(|p| vec![p.phase.clone(), fmt::duration_s(p.seconds)])
            .collect();
        rows.push(vec!["total".into(), fmt::duration_s(o.total_seconds)]);
        out.push_str(&table(format, &["phase", "time"], &rows));
        out.push('\n');
    }
    out.push_str(&format!("dataset digest: sha256:{}\n", o.dataset.digest));
    out
}

/// `qcheck seed --timings`: the JSON document with every figure, or the seed's tables followed by
/// one (measure, value, target) row per ratio.
pub fn timings(format: Format, t: &Timings) -> String {
    if format == Format::Json {
        return pretty_json(&timings_json(t));
    }
    timings_text(format, t)
}

/// The seed's tables and the ratio rows of one server's `seed --timings`.
fn timings_text(format: Format, t: &Timings) -> String {
    let mut out = outcome(format, &t.seed);
    out.push_str(&table(format, &["measure", "value", "target"], &t.rows()));
    out.push('\n');
    out
}

/// Every figure of one server's `seed --timings`, as the JSON document's fields.
fn timings_json(t: &Timings) -> serde_json::Value {
    serde_json::json!({
        "profile": t.seed.dataset.profile,
        "scale": t.seed.dataset.scale,
        "appointments": t.appointments,
        "generator_seconds": t.generator_seconds,
        "generator_rows_per_sec": t.generator_rows_per_sec(),
        "digest_bytes_per_sec": t.digest_bytes_per_sec,
        "seed_load_rows_per_sec": t.seed_load_rows_per_sec(),
        "copy_binary_rows_per_sec": t.copy_binary_rows_per_sec(),
        "copy_text_rows_per_sec": t.copy_text_rows_per_sec(),
        "load_ratio": t.load_ratio(),
        "plain_slot_rows_per_sec": t.plain_slot_rows_per_sec(),
        "plain_slot_ratio": t.plain_slot_ratio(),
        "serial_sum_seconds": t.serial_sum(),
        "end_to_end_seconds": t.seed.total_seconds,
        "end_to_end_ratio": t.end_to_end_ratio(),
        "seed": t.seed,
        "serial": t.serial,
    })
}

/// Why the single node's references have no Citus counterpart (said in every format).
pub const SINGLE_NODE_ONLY: &str = "the generator, raw server-side COPY, plain-slot reference and \
    serial-sum figures are measured on the single node only: they COPY files the server reads itself \
    into the partitions it holds, and a Citus coordinator's partitions are empty shells whose rows \
    live on the workers' shards";

/// `qcheck seed --timings` on Citus: the single node's timings as [`timings`] renders them, then
/// per seed phase the seconds and rows/s of both targets and the Citus/single ratio, the digests,
/// and why the references are the single node's only. JSON: the single node's document with a
/// `citus` object beside.
pub fn topology_timings(format: Format, t: &TopologyTimings) -> String {
    let phases = t.phases();
    if format == Format::Json {
        let mut doc = timings_json(&t.single);
        doc["citus"] = serde_json::json!({
            "target": t.citus.target,
            "rows": t.rows(),
            "same_digest": t.same_digest(),
            "phases": phases,
            "seed": t.citus,
            "single_node_only": SINGLE_NODE_ONLY,
        });
        return pretty_json(&doc);
    }
    let mut out = timings_text(format, &t.single);
    out.push_str(&format!(
        "\nThrough the coordinator ({}) vs the single node, same run; rows/s = the dataset's {} rows \
         / the phase's seconds:\n",
        t.citus.target,
        fmt::count_u64(t.rows())
    ));
    let rows: Vec<Vec<String>> = phases
        .iter()
        .map(|p| {
            let at = |seconds: f64, rate: f64| {
                format!("{}, {}", fmt::duration_s(seconds), fmt::rate(rate, "rows"))
            };
            vec![
                p.phase.clone(),
                at(p.single_seconds, p.single_rows_per_sec),
                at(p.citus_seconds, p.citus_rows_per_sec),
                fmt::ratio(p.citus_to_single),
            ]
        })
        .collect();
    out.push_str(&table(
        format,
        &["phase", "single node", "Citus", "Citus / single (rows/s)"],
        &rows,
    ));
    out.push('\n');
    if t.same_digest() {
        out.push_str(&format!(
            "dataset digest on Citus: sha256:{} (the same rows as the single node)\n",
            t.citus.dataset.digest
        ));
    } else {
        out.push_str(&format!(
            "dataset digest on Citus: sha256:{} differs from the single node's: the figures are not \
             comparable\n",
            t.citus.dataset.digest
        ));
    }
    out.push_str(&format!("note: {SINGLE_NODE_ONLY}\n"));
    out
}

/// The (measure, value, target) rows of the timings table, as a method of [`Timings`] so that every
/// caller (`qcheck seed --timings`, the seed bench) renders them alike.
pub trait TimingRows {
    /// (measure, value, target) rows, one per ratio and its baseline.
    fn rows(&self) -> Vec<Vec<String>>;
}

impl TimingRows for Timings {
    fn rows(&self) -> Vec<Vec<String>> {
        timing_rows(self)
    }
}

fn timing_rows(t: &Timings) -> Vec<Vec<String>> {
    let rows = |v: f64| fmt::rate(v, "rows");
    // Count and total time of the serial steps whose name starts with `prefix`.
    let group = |prefix: &str| {
        let steps: Vec<&SerialStep> = t
            .serial
            .iter()
            .filter(|s| s.step.starts_with(prefix))
            .collect();
        (
            steps.len(),
            fmt::duration_s(steps.iter().map(|s| s.seconds).sum::<f64>()),
        )
    };
    let (nx, tx) = group("exclusion ");
    let (ni, ti) = group("index ");
    let (_, tc) = group("COPY");
    let (_, tv) = group("VACUUM");
    vec![
        vec![
            "generator alone, 1 core (generate + encode to binary COPY)".into(),
            rows(t.generator_rows_per_sec()),
            format!(">= {}", rows(TARGET_GENERATOR_ROWS_PER_SEC)),
        ],
        vec![
            "dataset digest (sha256, on the loading threads)".into(),
            fmt::bytes_per_sec(t.digest_bytes_per_sec),
            String::new(),
        ],
        vec![
            "seed: appointment load (COPY FREEZE per detached leaf, generator overlapped; primary keys and re-attach included)".into(),
            format!(
                "{} = {} raw binary COPY",
                rows(t.seed_load_rows_per_sec()),
                fmt::ratio(t.load_ratio())
            ),
            format!(">= {}", fmt::ratio(TARGET_LOAD_RATIO)),
        ],
        vec![
            "seed load vs plain-slot reference (raw binary COPY FREEZE per leaf, 2 connections, \
             into a twin whose slot is a plain column; same indexes at the same step)"
                .into(),
            format!(
                "{} reference; seed = {} it",
                rows(t.plain_slot_rows_per_sec()),
                fmt::ratio(t.plain_slot_ratio())
            ),
            format!(">= {} (issue 11)", fmt::ratio(TARGET_PLAIN_SLOT_RATIO)),
        ],
        vec![
            "raw server-side COPY FROM file, binary".into(),
            rows(t.copy_binary_rows_per_sec()),
            String::new(),
        ],
        vec![
            "raw server-side COPY FROM file, text".into(),
            format!(
                "{} (binary is {} faster)",
                rows(t.copy_text_rows_per_sec()),
                fmt::ratio(t.copy_text_seconds / t.copy_binary_seconds)
            ),
            String::new(),
        ],
        vec![
            "serial sum of the unavoidable steps".into(),
            format!(
                "{} (COPY {tc}, {nx} exclusion constraints {tx}, {ni} indexes {ti}, VACUUM (ANALYZE) {tv})",
                fmt::duration_s(t.serial_sum())
            ),
            String::new(),
        ],
        vec![
            "seed end to end".into(),
            format!(
                "{} = {} the serial sum",
                fmt::duration_s(t.seed.total_seconds),
                fmt::ratio(t.end_to_end_ratio())
            ),
            format!("<= {}", fmt::ratio(TARGET_END_TO_END_RATIO)),
        ],
    ]
}

/// A versioned JSON document (see [`super::json`]).
fn pretty_json(v: &impl serde::Serialize) -> String {
    super::json::document(v)
}

#[cfg(test)]
mod tests {

    fn meta(profile: &str, scale: f64, seed: u64) -> DatasetMeta {
        DatasetMeta {
            profile: profile.into(),
            profile_hash: format!("hash of {profile}"),
            scale,
            seed,
            generator_version: 3,
            schema_checksum: "schema".into(),
            strategy: "tuned".into(),
            digest: String::new(),
            row_counts: std::collections::BTreeMap::new(),
            partitions: 4,
            completed_at: String::new(),
        }
    }

    /// A re-seed says what the cache holds, what was asked for, and about how long it takes.
    #[test]
    fn reseed_notes_say_why_and_how_long() {
        let tiny = meta("tiny", 1.0, 42);
        let clinic = meta("clinic", 1.0, 42);
        assert_eq!(
            reseed_note(Some(&tiny), &clinic, None, 42.5),
            "cached: tiny scale 1 seed 42; requested: clinic scale 1 seed 42 — seeding, about 45 s"
        );
        assert_eq!(
            reseed_note(None, &tiny, None, 1.62),
            "no dataset cached yet; requested: tiny scale 1 seed 42 — seeding, about 2 s"
        );
        let mut edited = tiny.clone();
        edited.profile_hash = "another".into();
        assert_eq!(
            reseed_note(Some(&tiny), &edited, None, 200.0),
            "cached: tiny scale 1 seed 42 (its profile file has changed since); requested: tiny \
             scale 1 seed 42 — seeding, about 3 min"
        );
        assert_eq!(
            reseed_note(Some(&tiny), &tiny, Some("--force"), 2.0),
            "--force: seeding tiny scale 1 seed 42 again, about 2 s"
        );
        // Forced on an empty database (`seed --timings` on a fresh home): nothing to seed again.
        assert_eq!(
            reseed_note(None, &tiny, Some("--timings"), 1.62),
            "no dataset cached yet; requested: tiny scale 1 seed 42 — seeding, about 2 s"
        );
        // Forced, but the cache holds other data: said as for any other change.
        assert_eq!(
            reseed_note(Some(&tiny), &edited, Some("--timings"), 200.0),
            "cached: tiny scale 1 seed 42 (its profile file has changed since); requested: tiny \
             scale 1 seed 42 — seeding, about 3 min"
        );
    }

    use super::*;
    use crate::generate::{DatasetMeta, PhaseTiming, TableSummary};

    fn seeded() -> SeedOutcome {
        SeedOutcome {
            status: SeedStatus::Seeded,
            target: "embedded PostgreSQL 15".into(),
            dataset: DatasetMeta {
                profile: "tiny".into(),
                profile_hash: "p".into(),
                scale: 1.0,
                seed: 42,
                generator_version: 1,
                schema_checksum: "s".into(),
                strategy: "tuned".into(),
                digest: "abc".into(),
                row_counts: std::collections::BTreeMap::default(),
                partitions: 24,
                completed_at: "2026-01-15T12:00:00Z".into(),
            },
            tables: vec![TableSummary {
                table: "appointment".into(),
                rows: 1_234_567,
                partitions: 24,
                table_bytes: 1_320_702_444,
                index_bytes: 1023,
            }],
            phases: vec![PhaseTiming {
                phase: "load".into(),
                seconds: 0.25,
            }],
            total_seconds: 42.04,
            steps: Vec::new(),
            appointment_copy_seconds: 2.0,
            repairs: Vec::new(),
        }
    }

    #[test]
    fn seed_tables_use_the_shared_formats() {
        let o = seeded();
        assert_eq!(
            status_line(&o),
            "qcheck: seeded profile tiny, scale 1, seed 42, strategy tuned in 42.0 s on embedded PostgreSQL 15"
        );
        let text = outcome(Format::Markdown, &o);
        assert!(
            text.contains("| appointment | 1,234,567 | 24 | 1.23 GB | 1023 B |"),
            "{text}"
        );
        assert!(text.contains("| load | 250 ms |"), "{text}");
        assert!(text.contains("| total | 42.0 s |"), "{text}");
        assert!(text.ends_with("dataset digest: sha256:abc\n"), "{text}");
        let json: serde_json::Value = serde_json::from_str(&outcome(Format::Json, &o)).unwrap();
        assert_eq!(json["tables"][0]["rows"], 1_234_567);
    }

    fn timings_fixture() -> Timings {
        Timings {
            seed: seeded(),
            appointments: 1_000_000,
            generator_seconds: 0.25,
            digest_bytes_per_sec: 2.5e9,
            copy_binary_seconds: 2.5,
            copy_text_seconds: 5.0,
            plain_slot_seconds: 1.0,
            serial: vec![
                SerialStep {
                    step: "COPY".into(),
                    seconds: 2.5,
                },
                SerialStep {
                    step: "exclusion appointment_y2026m01".into(),
                    seconds: 30.0,
                },
            ],
        }
    }

    #[test]
    fn timings_show_rates_and_ratios_against_targets() {
        let t = timings_fixture();
        let rows = timing_rows(&t);
        assert_eq!(rows[0][1..], ["4.00M rows/s", ">= 3.00M rows/s"]);
        assert_eq!(
            rows[2][1..],
            ["500k rows/s = 1.25× raw binary COPY", ">= 0.800×"]
        );
        assert_eq!(
            rows[3][1..],
            [
                "1.00M rows/s reference; seed = 0.500× it",
                ">= 0.800× (issue 11)"
            ]
        );
        assert_eq!(rows[5][1], "200k rows/s (binary is 2.00× faster)");
        assert_eq!(
            rows[6][1],
            "32.5 s (COPY 2.50 s, 1 exclusion constraints 30.0 s, 0 indexes 0 ms, VACUUM (ANALYZE) 0 ms)"
        );
        assert_eq!(rows[7][1..], ["42.0 s = 1.29× the serial sum", "<= 0.800×"]);
        let json: serde_json::Value = serde_json::from_str(&timings(Format::Json, &t)).unwrap();
        assert_eq!(json["load_ratio"], 1.25);
        assert_eq!(json["plain_slot_ratio"], 0.5);
    }

    /// On Citus: per phase both targets' seconds and rows/s (the dataset's rows over the phase's
    /// seconds) and their quotient, then the digests and the single-node-only note.
    #[test]
    fn citus_timings_compare_each_phase_with_the_single_node() {
        let mut single = timings_fixture();
        single.seed.dataset.row_counts =
            std::collections::BTreeMap::from([("appointment".into(), 800), ("tenant".into(), 200)]);
        single.seed.phases = vec![
            PhaseTiming {
                phase: "load".into(),
                seconds: 0.5,
            },
            PhaseTiming {
                phase: "record".into(),
                seconds: 0.1,
            },
        ];
        single.seed.total_seconds = 1.0;
        let mut citus = single.seed.clone();
        citus.target = "embedded Citus (coordinator + 2 workers)".into();
        // `record` missing on Citus: only the phases both ran are compared.
        citus.phases = vec![PhaseTiming {
            phase: "load".into(),
            seconds: 2.0,
        }];
        citus.total_seconds = 4.0;
        let t = TopologyTimings { single, citus };
        let text = topology_timings(Format::Markdown, &t);
        assert!(
            text.contains("| load | 500 ms, 2.00k rows/s | 2.00 s, 500 rows/s | 0.250× |"),
            "{text}"
        );
        assert!(
            text.contains("| total | 1.00 s, 1.00k rows/s | 4.00 s, 250 rows/s | 0.250× |"),
            "{text}"
        );
        let (_, compared) = text.split_once("Through the coordinator").unwrap();
        assert!(!compared.contains("| record |"), "{text}");
        assert!(text.contains("the dataset's 1,000 rows"), "{text}");
        assert!(
            text.contains("(the same rows as the single node)"),
            "{text}"
        );
        assert!(
            text.contains(&format!("note: {SINGLE_NODE_ONLY}")),
            "{text}"
        );
        let json: serde_json::Value =
            serde_json::from_str(&topology_timings(Format::Json, &t)).unwrap();
        assert_eq!(json["schema_version"], 1);
        assert_eq!(json["citus"]["phases"][0]["citus_to_single"], 0.25);
        assert_eq!(json["citus"]["phases"][1]["phase"], "total");
        assert_eq!(json["citus"]["same_digest"], true);
        assert_eq!(json["load_ratio"], 1.25);
        let mut other = t.clone();
        other.citus.dataset.digest = "def".into();
        assert!(
            topology_timings(Format::Table, &other).contains("differs from the single node's"),
            "a digest mismatch is said"
        );
    }
}
