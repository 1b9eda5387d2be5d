//! Baselines of real captured plans: the file layout (and that it reads back), thresholds that
//! ignore noise and catch regressions, a join order flip named as such, identities compared.

use super::compare::{Threshold, Thresholds, compare, compare_plans, identity};
use super::*;
use crate::plan::parse_plan;

const HASH_JOIN_15: &str = include_str!("../../tests/fixtures/plans/pg15_hash_join_batches.json");
const HASH_JOIN_18: &str = include_str!("../../tests/fixtures/plans/pg18_hash_join_batches.json");
const RUN_TIME_GENERIC: &str =
    include_str!("../../tests/fixtures/plans/pg15_partition_prune_run_time_generic.json");

fn of(text: &str) -> Baseline {
    Baseline::of_plans(
        "statement",
        &[(parse_plan(text).unwrap(), PartitionMap::none())],
    )
}

/// The hash join fixture with the root's and the join's shared hit blocks set to `hit`.
fn with_buffers(hit: u64) -> String {
    let mut v: serde_json::Value = serde_json::from_str(HASH_JOIN_15).unwrap();
    v[0]["Plan"]["Shared Hit Blocks"] = hit.into();
    v[0]["Plan"]["Shared Read Blocks"] = 0.into();
    v.to_string()
}

#[test]
fn thresholds_parse_strictly() {
    assert_eq!(
        Threshold::parse("1.5x+10"),
        Ok(Threshold {
            factor: 1.5,
            floor: 10.0
        })
    );
    assert_eq!(
        Threshold::parse("2x"),
        Ok(Threshold {
            factor: 2.0,
            floor: 0.0
        })
    );
    assert_eq!(
        Threshold::parse("3+100"),
        Ok(Threshold {
            factor: 3.0,
            floor: 100.0
        })
    );
    for bad in ["", "x", "0.5x", "2x+-1", "2x+", "nanx", "1.5x+10+1"] {
        assert!(Threshold::parse(bad).is_err(), "{bad}");
    }
    assert_eq!(Threshold::BUFFERS.to_string(), "1.50×+10");
}

#[test]
fn buffer_noise_passes_and_a_real_growth_fails() {
    let t = Threshold::BUFFERS;
    // Tiny plans: a page or two more is noise, whatever the ratio.
    assert!(!t.grew(4.0, 7.0));
    assert!(!t.grew(4.0, 14.0));
    assert!(t.grew(4.0, 35.0));
    // Large plans: the ratio decides.
    assert!(!t.grew(7655.0, 7700.0));
    assert!(t.grew(7655.0, 12000.0));
    assert!(!t.grew(35.0, 4.0), "fewer buffers is never a regression");

    let base = of(HASH_JOIN_15);
    let noisy = of(&with_buffers(7660));
    let c = compare(&base, &noisy, "a", "b", Thresholds::default(), Vec::new());
    assert!(c.passed, "{c:#?}");
    let plan = &c.queries[0].plans[0];
    assert!(!plan.changed && !plan.shared_buffers.beyond);
    assert!(plan.diff.is_empty());

    let grown = of(&with_buffers(12_000));
    let c = compare(&base, &grown, "a", "b", Thresholds::default(), Vec::new());
    assert!(!c.passed);
    let plan = &c.queries[0].plans[0];
    assert!(plan.changed && !plan.shape_changed && plan.shared_buffers.beyond);
    assert_eq!(
        plan.changes,
        ["shared buffers 7,655 → 12,000 (1.57×; threshold 1.50×+10)"]
    );
}

#[test]
fn rows_beyond_the_threshold_mark_their_node() {
    let b = crate::plan::Signature::compute(
        &parse_plan(HASH_JOIN_15).unwrap(),
        &crate::plan::PartitionMap::none(),
    );
    let mut a = b.clone();
    a.nodes[1].rows = Some(300_005.0);
    let same = compare_plans("plan", &b, &a, Thresholds::default(), None);
    assert!(!same.changed, "5 rows more of 300,000 is noise");
    a.nodes[1].rows = Some(20.0);
    let moved = compare_plans("plan", &b, &a, Thresholds::default(), None);
    assert!(moved.changed && !moved.shape_changed && moved.rows.beyond);
    assert_eq!(moved.diff[1].op, LineOp::Changed);
    assert_eq!(moved.diff[1].notes, ["rows 300,000 → 20"]);
}

#[test]
fn a_join_order_flip_is_named() {
    let b = of(HASH_JOIN_15);
    let flipped = crate::plan::signature_tests::flipped_hash_join(HASH_JOIN_15);
    let a = Baseline::of_plans("statement", &[(flipped, PartitionMap::none())]);
    let c = compare(&b, &a, "a", "b", Thresholds::default(), Vec::new());
    assert!(!c.passed);
    let plan = &c.queries[0].plans[0];
    assert!(plan.shape_changed);
    assert_eq!(plan.changes, ["join order: big, big2 → big2, big"]);
}

#[test]
fn the_same_plan_on_15_and_18_is_the_same() {
    let c = compare(
        &of(HASH_JOIN_15),
        &of(HASH_JOIN_18),
        "pg15",
        "pg18",
        Thresholds::default(),
        Vec::new(),
    );
    assert!(c.passed, "{c:#?}");
    assert_eq!(c.changed_plans(), (0, 1));
}

#[test]
fn the_file_is_made_for_git_diff_and_reads_back() {
    let mut b = of(RUN_TIME_GENERIC);
    b.dataset = Some(DatasetIdentity {
        profile: "tiny".into(),
        profile_hash: "sha256:ab".into(),
        scale: 1.0,
        seed: 42,
        generator_version: 3,
        digest: "sha256:93e7".into(),
        strategy: "tuned".into(),
    });
    b.server = Some(ServerIdentity {
        version: "15.18".into(),
        major: 15,
    });
    let text = b.to_json();
    insta::assert_snapshot!(text, @r#"
    {
      "format": "qcheck baseline",
      "schema_version": 1,
      "dataset": {
        "profile": "tiny",
        "scale": 1.0,
        "seed": 42,
        "strategy": "tuned",
        "generator_version": 3,
        "profile_hash": "sha256:ab",
        "digest": "sha256:93e7"
      },
      "server": {
        "version": "15.18",
        "major": 15
      },
      "queries": {
        "statement": {
          "params": {},
          "plans": {
            "plan": {
              "relations": {
                "appointment": {"scans": ["index-only-scan"], "indexes": ["appointment_provider_id_scheduled_at_status_patien_idx"], "partitions": 1}
              },
              "nodes": [
                {"depth": 0, "node": "Append", "rows": 33, "shared_buffers": 4},
                {"depth": 1, "node": "Index Only Scan using appointment_provider_id_scheduled_at_status_patien_idx on appointment", "rows": 33, "shared_buffers": 4}
              ]
            }
          }
        }
      },
      "latency_ms": {
        "statement": {
          "plan": {"planning": 2.43, "execution": 0.112}
        }
      }
    }
    "#);
    assert_eq!(Baseline::parse(&text).unwrap(), b);
    assert!(matches!(
        Baseline::parse(&text.replace("\"schema_version\": 1", "\"schema_version\": 9")),
        Err(BaselineError::Newer { found: 9 })
    ));
    assert!(matches!(
        Baseline::parse(HASH_JOIN_15),
        Err(BaselineError::Malformed(_))
    ));
}

#[test]
fn identities_say_what_differs() {
    let dataset = |strategy: &str, digest: &str| DatasetIdentity {
        profile: "tiny".into(),
        profile_hash: "sha256:ab".into(),
        scale: 1.0,
        seed: 42,
        generator_version: 3,
        digest: digest.into(),
        strategy: strategy.into(),
    };
    let server = |version: &str, major| ServerIdentity {
        version: version.into(),
        major,
    };
    let a = Baseline::new(Some(dataset("tuned", "d1")), Some(server("15.18", 15)));
    let b = Baseline::new(Some(dataset("fk-only", "d1")), Some(server("18.4", 18)));
    let (notes, data) = identity(&a, &b);
    assert_eq!(data, None);
    assert_eq!(notes.len(), 2, "{notes:?}");
    assert!(notes[0].starts_with("index strategy: baseline tuned, now fk-only"));
    assert!(notes[1].starts_with("PostgreSQL 15.18 → 18.4: a major-version upgrade"));
    let c = Baseline::new(Some(dataset("tuned", "d2")), Some(server("15.18", 15)));
    let (notes, data) = identity(&a, &c);
    assert!(notes.is_empty());
    assert!(data.unwrap().contains("the rows differ"));
}

#[test]
fn one_file_holds_every_versions_baseline_and_single_server_files_still_load() {
    let server = |version: &str, major| ServerIdentity {
        version: version.into(),
        major,
    };
    let mut pg15 = of(HASH_JOIN_15);
    pg15.server = Some(server("15.18", 15));
    let mut pg18 = of(HASH_JOIN_18);
    pg18.server = Some(server("18.4", 18));
    let by_major: BTreeMap<u32, Baseline> = [(18, pg18.clone()), (15, pg15.clone())].into();
    let text = BaselineFile::versions_to_json(&by_major);
    // Versions in order, each entry the single-server layout (server first, one line).
    let head: Vec<&str> = text.lines().take(5).collect();
    assert_eq!(
        head,
        [
            "{",
            "  \"format\": \"qcheck baseline\",",
            "  \"schema_version\": 2,",
            "  \"versions\": {",
            "    \"15\": {",
        ],
        "{text}"
    );
    assert!(text.contains("\n      \"server\": {\"version\": \"15.18\", \"major\": 15},\n"));
    assert!(text.find("\"15\": {").unwrap() < text.find("\"18\": {").unwrap());
    let file = BaselineFile::parse(&text).unwrap();
    assert_eq!(file, BaselineFile::PerVersion(by_major));
    assert_eq!(file.majors(), [15, 18]);
    assert_eq!(file.for_major(18), Some(&pg18));
    assert_eq!(file.for_major(17), None);
    // The file a single-server --save-baseline writes is unchanged, and is every version's.
    let single = pg15.to_json();
    assert!(single.contains("\"schema_version\": 1,"));
    let file = BaselineFile::parse(&single).unwrap();
    assert_eq!(file, BaselineFile::One(Box::new(pg15.clone())));
    assert_eq!(file.for_major(18), Some(&pg15));
    assert!(file.majors().is_empty());
    // A qcheck that reads only single-server files refuses it rather than misread it.
    assert!(matches!(
        Baseline::parse(&text),
        Err(BaselineError::Newer { found: 2 })
    ));
    // An entry must hold the plans of the version it is filed under.
    let wrong = text.replacen("\"15\": {", "\"16\": {", 1);
    let err = BaselineFile::parse(&wrong).unwrap_err().to_string();
    assert!(
        err.contains("versions: \"16\" holds plans of PostgreSQL 15.18"),
        "{err}"
    );
    assert!(matches!(
        BaselineFile::parse(&text.replace("\"schema_version\": 2", "\"schema_version\": 3")),
        Err(BaselineError::Newer { found: 3 })
    ));
}
