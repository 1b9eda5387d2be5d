//! The report writers on fixed measurements: two strategies, two queries, plans from the captured
//! PostgreSQL 15 fixtures (one meets its expectations, one does not).

use std::collections::BTreeMap;
use std::time::Duration;

use super::*;
use crate::compare::model::*;
use crate::plan::Mode;
use crate::report::test_support::{INDEX_ONLY, SEQ_SCAN, query_check};

fn latency(base_us: u64) -> Latency {
    let samples: Vec<Duration> = (0..100)
        .map(|i| Duration::from_micros(base_us + i * base_us / 50))
        .collect();
    Latency::from_samples(&samples)
}

fn strategy(name: &str, summary: &str, good: bool, scale: u64) -> StrategyResult {
    let (custom, generic) = if good {
        (INDEX_ONLY, INDEX_ONLY)
    } else {
        (SEQ_SCAN, INDEX_ONLY)
    };
    let queries = ["patient_range", "patient_count"]
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let base = scale * (i as u64 + 1);
            QueryResult::new(
                &query_check(n, custom, generic),
                latency(base * 150),
                latency(base * 40),
            )
        })
        .collect();
    let wal = |per: u64, n: usize| {
        let mut w = WriteBatch::new(&vec![Duration::from_micros(400 * scale); n], per * n as u64);
        w.passes_per_sec = vec![w.per_sec, w.per_sec * 0.9, w.per_sec * 0.8];
        w
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
        queries,
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
        },
        method: Method {
            runs: 100,
            warmup: 10,
            bookings_requested: 100,
            cancellations_requested: 25,
            description: vec!["Latency: real executions.".into()],
        },
        strategies: vec![
            strategy("fk-only", "An index per foreign key.", false, 2),
            strategy("tuned", "The design's own indexes.", true, 1),
        ],
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
    });
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
    // Charts are inline SVG, nothing is fetched.
    assert!(page.matches("<svg").count() >= 5, "charts missing");
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
