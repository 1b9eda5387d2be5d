//! The report writers on fixed measurements: two strategies, two queries, plans from the captured
//! PostgreSQL 15 fixtures (one meets its expectations, one does not).

use std::collections::BTreeMap;
use std::time::Duration;

use super::*;
use crate::compare::model::*;
use crate::plan::Mode;
use crate::report::test_support::{INDEX_ONLY, SEQ_SCAN, query_check};

/// Five rounds of 20 executions around `base_us`, each round a little slower than the last (a
/// spread of about ±10%).
fn latency(base_us: u64) -> Latency {
    let rounds: Vec<Vec<Duration>> = (0..5)
        .map(|r| {
            (0..20)
                .map(|i| Duration::from_micros(base_us + (r * 4 + i) * base_us / 100))
                .collect()
        })
        .collect();
    Latency::from_rounds(&rounds)
}

fn strategy(name: &str, summary: &str, good: bool, scale: u64) -> StrategyResult {
    let (custom, generic) = if good {
        (INDEX_ONLY, INDEX_ONLY)
    } else {
        (SEQ_SCAN, INDEX_ONLY)
    };
    let checks: Vec<_> = ["patient_range", "patient_count"]
        .iter()
        .map(|n| query_check(n, custom, generic))
        .collect();
    let queries = checks
        .iter()
        .zip(1u64..)
        .map(|(check, i)| {
            let base = scale * i;
            QueryResult::new(check, latency(base * 150), latency(base * 40))
        })
        .collect();
    let wal = |per: u64, n: usize| {
        WriteBatch::median_of(
            [400, 440, 380, 500, 420]
                .iter()
                .map(|us| {
                    WriteBatch::new(&vec![Duration::from_micros(us * scale); n], per * n as u64)
                })
                .collect(),
        )
    };
    StrategyResult {
        name: name.into(),
        summary: summary.into(),
        indexes: vec![IndexInfo {
            name: format!("{name}_idx"),
            table: "appointment".into(),
            bytes: 40 * 1024 * 1024 * i64::try_from(scale).unwrap(),
            build_ms: 1500.0 * scale as f64,
            definition: format!(
                "CREATE INDEX {name}_idx ON public.appointment USING btree (provider_id)"
            ),
        }],
        total_index_bytes: 40 * 1024 * 1024 * i64::try_from(scale).unwrap(),
        build_ms: 1500.0 * scale as f64,
        writes: WriteCost {
            bookings: wal(2000 * scale, 100),
            cancellations: wal(900 * scale, 25),
        },
        contention: Some(contention(scale)),
        queries,
        baseline: crate::baseline::Baseline::capture(
            &checks,
            &crate::plan::PartitionMap::none(),
            None,
            None,
        ),
    }
}

/// A sweep at 1, 4 and 16 clients: without collisions throughput grows, with them deadlocks appear.
fn contention(scale: u64) -> Contention {
    let mut levels = Vec::new();
    for clients in [1usize, 4, 16] {
        for collisions in [false, true] {
            let per_sec = 1000.0 * (clients as f64).sqrt() / scale as f64
                * if collisions { 0.5 } else { 1.0 };
            let attempts = 2 * clients * 1000
                / usize::try_from(scale).unwrap()
                / if collisions { 2 } else { 1 };
            let deadlocks = if collisions { clients - 1 } else { 0 };
            let taken = if collisions { attempts / 4 } else { 0 };
            levels.push(ContentionLevel {
                clients,
                collisions,
                seconds: 2.0,
                attempts,
                booked: attempts - taken - deadlocks,
                exclusion_violations: taken,
                deadlocks,
                other_errors: 0,
                other_example: None,
                per_sec,
                per_sec_spread: Spread::of(vec![per_sec * 0.9, per_sec, per_sec * 1.1, per_sec]),
                latency: latency(500 * clients as u64),
            });
        }
    }
    Contention {
        seconds_per_level: 2.0,
        collision_share: 0.25,
        zipf_s: 1.0,
        providers: 200,
        levels,
    }
}

pub fn fixture() -> Comparison {
    Comparison {
        stamp: Stamp {
            qcheck_version: "0.1.0".into(),
            git_revision: "abc123def456".into(),
            generated_at: "2026-01-15T12:00:00Z".into(),
            target: "embedded PostgreSQL 15.18 in /tmp/qcheck".into(),
            postgres_version: "15.18".into(),
            settings: vec![
                Setting {
                    name: "shared_buffers".into(),
                    value: "512MB".into(),
                    source: "configuration file".into(),
                },
                Setting {
                    name: "plan_cache_mode".into(),
                    value: "auto".into(),
                    source: "default".into(),
                },
            ],
            machine: Machine {
                cores: 2,
                memory_bytes: Some(24 * 1024 * 1024 * 1024),
                cpu: Some("Test CPU".into()),
                os: "linux x86_64".into(),
                server_is_local: true,
            },
        },
        dataset: DatasetInfo {
            profile: "clinic".into(),
            scale: 1.0,
            seed: 42,
            generator_version: 1,
            digest: "feedface".into(),
            row_counts: BTreeMap::from([("appointment".into(), 1_000_000)]),
            partitions: 24,
            table_bytes: 300 * 1024 * 1024,
            constraint_index_bytes: 120 * 1024 * 1024,
            seed_seconds: Some(12.5),
        },
        method: Method {
            runs: 100,
            rounds: 5,
            warmup: 10,
            bookings_requested: 100,
            cancellations_requested: 25,
            description: vec!["Latency: real executions.".into()],
        },
        strategies: vec![
            strategy("fk-only", "An index per foreign key.", false, 2),
            strategy("tuned", "The design's own indexes.", true, 1),
        ],
        base: "fk-only".into(),
        race: Some(Race {
            clients: 32,
            boundary: "2026-01-31T23:00:00Z".into(),
            shapes: vec!["23:30+60".into(), "00:00+15".into()],
            strategy: "tuned".into(),
            rounds: vec![
                RaceRound {
                    settle_ms: 13_200.0,
                    booked: 1,
                    exclusion_violations: 17,
                    deadlocks: 14,
                    other_errors: 0,
                    other_example: None,
                },
                RaceRound {
                    settle_ms: 16_000.0,
                    booked: 1,
                    exclusion_violations: 20,
                    deadlocks: 11,
                    other_errors: 0,
                    other_example: None,
                },
            ],
            settle_spread: Spread::of(vec![13_200.0, 16_000.0]),
        }),
        harness: Some(HarnessCheck {
            query: "patient_range".into(),
            params: "lo=1000".into(),
            strategy: "tuned".into(),
            runs: 100,
            rounds: 4,
            warmup: 10,
            script: "SELECT count(*) FROM patient WHERE id >= :lo;\n".into(),
            modes: vec![HarnessMode {
                mode: Mode::Custom,
                qcheck: latency(100),
                pgbench: latency(98),
                ratio_p50: 1.02,
                ratio_mean: 1.01,
                command: "PGOPTIONS='-c plan_cache_mode=force_custom_plan' pgbench -n -M prepared"
                    .into(),
            }],
        }),
        left_in_place: "tuned".into(),
        notes: vec!["a note".into()],
        wall_seconds: 42.5,
    }
}

#[test]
fn markdown_report() {
    insta::assert_snapshot!(markdown(&fixture()));
}

/// `report.json` as a whole, with the figures that vary from run to run redacted (here they are
/// fixed, but a refreshed fixture must not churn the snapshot).
#[test]
fn json_report() {
    let v: serde_json::Value = serde_json::from_str(&json(&fixture())).unwrap();
    insta::assert_json_snapshot!(v, {
        ".wall_seconds" => "[seconds]",
        ".strategies[].queries[].*.plan" => "[plan]",
        ".strategies[].queries[].*.latency" => "[latency]",
        ".harness.modes[].qcheck" => "[latency]",
        ".harness.modes[].pgbench" => "[latency]",
        ".strategies[].contention.levels[].latency" => "[latency]",
    });
}

#[test]
fn json_carries_its_schema_version_spreads_and_judgements() {
    let v: serde_json::Value = serde_json::from_str(&json(&fixture())).unwrap();
    assert_eq!(v["schema_version"], crate::report::json::SCHEMA_VERSION);
    let q = &v["strategies"][0]["queries"][0]["custom"]["latency"];
    assert_eq!(q["p50_rounds"]["values"].as_array().unwrap().len(), 5);
    assert!(q["p50_rounds"]["min"].as_f64().unwrap() < q["p50_rounds"]["max"].as_f64().unwrap());
    let b = &v["strategies"][0]["writes"]["bookings"];
    assert_eq!(b["per_sec_spread"]["values"].as_array().unwrap().len(), 5);
    assert_eq!(b["passes_per_sec"].as_array().unwrap().len(), 5);
    assert!(b["wal_bytes_per_op_spread"]["min"].as_f64().unwrap() > 0.0);
    assert_eq!(v["base"], "fk-only");
    assert_eq!(v["judgements"]["base"], "fk-only");
    assert!(
        v["judgements"]["headline"]
            .as_str()
            .unwrap()
            .starts_with("tuned meets")
    );
    assert_eq!(
        v["judgements"]["latency"][0]["queries"][0]["p50"]["verdict"],
        "base"
    );
    let levels = v["strategies"][1]["contention"]["levels"]
        .as_array()
        .unwrap();
    assert_eq!(levels.len(), 6);
    assert_eq!(levels[5]["deadlocks"], 15);
    assert_eq!(v["race"]["rounds"][0]["deadlocks"], 14);
}

#[test]
fn the_headline_names_the_gap_the_cost_and_the_noise() {
    let c = fixture();
    let h = noise::headline(&c);
    // tuned (1×) against fk-only (2×, whose spread does not reach tuned's): 2× faster, half the
    // index, and bookings/s twice as high beyond noise.
    assert!(
        h.starts_with("tuned meets expectations in 4/4 plans (fk-only: 2/4)"),
        "{h}"
    );
    assert!(h.contains("× faster than fk-only at p50"), "{h}");
    assert!(h.contains("40.0 MB less index"), "{h}");
    assert!(h.contains("bookings/s 2.00× higher"), "{h}");
    assert!(
        h.contains("collision race settles in 16.0 s (slowest of 2) with 25 deadlocks"),
        "{h}"
    );
}

#[test]
fn overlapping_spreads_are_not_ranked() {
    let mut c = fixture();
    // Make tuned's provider latency the same as fk-only's, one round apart: the medians differ,
    // the ranges overlap.
    let fk = c.strategies[0].queries[0].custom.latency.clone();
    let mut close = fk.clone();
    close.p50_ms *= 0.97;
    close.p50_rounds.values.rotate_left(1);
    c.strategies[1].queries[0].custom.latency = close;
    let (s, q) = (&c.strategies[1], &c.strategies[1].queries[0]);
    let v = noise::latency_vs_base(&c, s, q, Mode::Custom);
    assert_eq!(v.verdict, noise::Verdict::SameWithinNoise);
    let md = markdown(&c);
    assert!(md.contains("same within noise (0.970×)"), "{md}");
}

#[test]
fn identical_plans_are_marked() {
    let c = fixture();
    // patient_count's generic plan is the same fixture under both strategies, its custom plan not.
    assert!(!noise::identical_plans(&c, "patient_count"));
    let mut same = fixture();
    same.strategies[0] = strategy("fk-only", "x", true, 2);
    assert!(noise::identical_plans(&same, "patient_count"));
    assert!(markdown(&same).contains("| patient_count ≡ |"));
}

#[test]
fn the_contention_targets_are_judged() {
    let c = fixture();
    let t = contention_targets(&c);
    let find = |needle: &str| t.iter().find(|(name, _, _)| name.contains(needle)).unwrap();
    assert!(!find("no deadlock").1, "{t:?}");
    assert!(!find("0.8×").1, "0.5× with collisions: {t:?}");
    assert!(!find("under 0.5 s").1);
    let md = markdown(&c);
    assert!(
        md.contains("## Contention") && md.contains("NOT MET"),
        "{md}"
    );
}

#[test]
fn json_holds_every_figure() {
    let v: serde_json::Value = serde_json::from_str(&json(&fixture())).unwrap();
    let s = &v["strategies"][0];
    for key in [
        "total_index_bytes",
        "build_ms",
        "indexes",
        "writes",
        "queries",
    ] {
        assert!(!s[key].is_null(), "{key}");
    }
    assert_eq!(s["writes"]["bookings"]["wal_bytes_per_op"], 4000.0);
    let q = &s["queries"][0];
    for mode in ["custom", "generic"] {
        let p = &q[mode];
        for key in [
            "shape",
            "verdicts",
            "planning_ms",
            "execution_ms",
            "shared_buffers",
            "plan",
        ] {
            assert!(!p[key].is_null(), "{mode}.{key}");
        }
        for key in ["p50_ms", "p95_ms", "p99_ms"] {
            assert!(
                p["latency"][key].as_f64().unwrap() > 0.0,
                "{mode}.latency.{key}"
            );
        }
    }
    assert_eq!(v["stamp"]["settings"][0]["name"], "shared_buffers");
    assert_eq!(v["harness"]["modes"][0]["ratio_p50"], 1.02);
}

#[test]
fn html_is_self_contained_with_charts_matrix_and_plans() {
    let page = html(&fixture());
    assert!(page.starts_with("<!doctype html>") && page.trim_end().ends_with("</html>"));
    // Charts: the contention lines as inline SVG (wide and narrow), the rest HTML bars; nothing
    // is fetched.
    assert!(page.matches("<svg").count() >= 4, "charts missing");
    assert!(page.contains("class=\"brow\"") && page.contains("class=\"span\""));
    assert!(page.contains("class=\"headline\""));
    assert!(page.contains("Bookings under contention") && page.contains("Collision race"));
    for forbidden in ["<script", "src=\"http", "href=\"http", "@import"] {
        assert!(!page.contains(forbidden), "{forbidden}");
    }
    // Verdict matrix: the failing custom plan of fk-only and the passing ones.
    assert!(page.contains("badge bad") && page.contains("badge ok"));
    // Plans one click away: trees and raw JSON.
    assert!(page.contains("<details>") && page.contains("raw EXPLAIN JSON"));
    assert!(
        page.contains("Index Only Scan using patient_pkey on patient"),
        "plan tree missing"
    );
    assert!(
        page.contains("FAIL no seq-scan"),
        "failed verdict not marked on the tree"
    );
    // The stamp.
    for s in [
        "PostgreSQL 15.18",
        "abc123def456",
        "shared_buffers",
        "512MB",
        "2 cores",
    ] {
        assert!(page.contains(s), "{s}");
    }
}
