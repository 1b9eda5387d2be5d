//! What CI systems and terminals get from the binary: JUnit XML and GitHub annotations for a failing
//! query, every JSON document against its shipped JSON Schema (`schema/*.schema.json`), the check,
//! list and explain output at `COLUMNS=100`, one-line clap errors, completions and man pages, and the
//! note a re-seed prints. All on real runs against the test cluster.

use std::path::{Path, PathBuf};

use quick_xml::events::Event;
use serde_json::Value;

use crate::check::run;
use crate::common::{self, qcheck, stderr, stdout};

/// `schema/NAME.schema.json`.
fn schema(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("schema")
        .join(format!("{name}.schema.json"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Fails, listing every error, unless `doc` is valid against `schema/NAME.schema.json`.
pub(crate) fn assert_valid(name: &str, doc: &Value) {
    let schema = schema(name);
    let validator = jsonschema::validator_for(&schema)
        .unwrap_or_else(|e| panic!("schema/{name}.schema.json is not a valid schema: {e}"));
    let errors: Vec<String> = validator
        .iter_errors(doc)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "output does not match schema/{name}.schema.json:\n{}",
        errors.join("\n")
    );
    assert_eq!(doc["schema_version"], 1, "{name}");
}

/// The JSON document a command printed (exit 0 expected).
fn json_of(out: &std::process::Output) -> Value {
    assert_eq!(out.status.code(), Some(0), "{}", stderr(out));
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", stdout(out), stderr(out)))
}

/// A `--queries` folder holding `provider_day` with a false expectation, and that line's number.
fn failing_queries(tag: &str) -> (PathBuf, usize) {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("sql/queries/provider_day.sql"),
    )
    .unwrap()
    .replace(
        "-- expect: partitions appointment = 1",
        "-- expect: partitions appointment = 3",
    );
    let line = 1 + text
        .lines()
        .position(|l| l == "-- expect: partitions appointment = 3")
        .expect("provider_day.sql expects `partitions appointment = 1`");
    let dir = common::temp_home(tag);
    std::fs::write(dir.join("provider_day.sql"), text).unwrap();
    (dir, line)
}

/// Attributes of an XML start tag, by name.
fn attributes(e: &quick_xml::events::BytesStart) -> std::collections::BTreeMap<String, String> {
    e.attributes()
        .map(|a| {
            let a = a.unwrap();
            (
                String::from_utf8(a.key.as_ref().to_vec()).unwrap(),
                a.normalized_value(quick_xml::XmlVersion::Explicit1_0)
                    .unwrap()
                    .into_owned(),
            )
        })
        .collect()
}

#[test]
fn junit_is_xml_with_the_required_fields_and_names_the_failure() {
    let (dir, line) = failing_queries("ci-junit");
    let out = run(&[
        "--format",
        "junit",
        "check",
        "--queries",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let xml = stdout(&out);
    let mut reader = quick_xml::Reader::from_str(&xml);
    let mut stack: Vec<String> = Vec::new();
    let (mut suites, mut suite, mut cases, mut failures) = (None, None, Vec::new(), Vec::new());
    loop {
        let (e, empty) = match reader
            .read_event()
            .unwrap_or_else(|e| panic!("{e}:\n{xml}"))
        {
            Event::Start(e) => (e, false),
            Event::Empty(e) => (e, true),
            Event::End(_) => {
                stack.pop();
                continue;
            }
            Event::Eof => break,
            _ => continue,
        };
        let name = String::from_utf8(e.name().as_ref().to_vec()).unwrap();
        let attrs = attributes(&e);
        match name.as_str() {
            "testsuites" => suites = Some(attrs),
            "testsuite" => suite = Some(attrs),
            "testcase" => cases.push(attrs),
            "failure" => failures.push((stack.last().cloned(), attrs)),
            _ => {}
        }
        if !empty {
            stack.push(name);
        }
    }
    assert!(stack.is_empty(), "unclosed elements {stack:?}:\n{xml}");
    let suites = suites.expect("a <testsuites> root");
    let suite = suite.expect("a <testsuite>");
    for attrs in [&suites, &suite] {
        for key in ["name", "tests", "failures"] {
            assert!(attrs.contains_key(key), "{key} missing: {attrs:?}");
        }
        assert_eq!(attrs["tests"], "2", "one testcase per plan mode");
        assert_eq!(attrs["failures"], "2", "both plans miss the expectation");
    }
    assert_eq!(cases.len(), 2);
    for case in &cases {
        assert!(
            case.contains_key("name") && case.contains_key("classname"),
            "{case:?}"
        );
        assert_eq!(case["classname"], "provider_day");
    }
    assert_eq!(cases[0]["name"], "provider_day (custom plan)");
    assert_eq!(cases[1]["name"], "provider_day (generic plan)");
    let message = &failures[0].1["message"];
    let file_line = format!("{}:{line}:", dir.join("provider_day.sql").display());
    assert!(message.starts_with(&file_line), "{message}");
    assert!(
        message.contains("`partitions appointment = 3`")
            && message.contains("expected ")
            && message.contains("found "),
        "{message}"
    );
}

#[test]
fn github_annotations_name_the_file_and_line_and_the_summary_is_appended() {
    let (dir, line) = failing_queries("ci-github");
    let summary = dir.join("step-summary.md");
    std::fs::write(&summary, "earlier step\n").unwrap();
    let (db, home) = crate::check::seeded();
    let url = common::url(db);
    let out = common::qcheck_command(home)
        .env("GITHUB_STEP_SUMMARY", &summary)
        .current_dir(&dir)
        .args([
            "--database-url",
            &url,
            "--format",
            "github",
            "check",
            "--queries",
            dir.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = stdout(&out);
    // The query file lies in the current folder (the workspace): its path is relative.
    let errors: Vec<&str> = text.lines().filter(|l| l.starts_with("::error ")).collect();
    assert_eq!(errors.len(), 2, "{text}");
    for e in &errors {
        assert!(
            e.starts_with(&format!(
                "::error file=provider_day.sql,line={line},title=provider_day ("
            )),
            "{e}"
        );
        assert!(
            e.contains("::`partitions appointment = 3`: expected "),
            "{e}"
        );
    }
    assert!(text.contains("0 of 1 queries pass"), "{text}");
    let md = std::fs::read_to_string(&summary).unwrap();
    assert!(
        md.starts_with("earlier step\n## qcheck check\n\n| query |"),
        "{md}"
    );
    assert!(md.contains("**Failed expectations**"), "{md}");
}

#[test]
fn every_json_document_matches_its_schema() {
    let (_, home) = crate::check::seeded();
    let check = json_of(&run(&["--format", "json", "check", "--profile", "tiny"]));
    assert_valid("check", &check);

    let plan = home.join("ci-day.json");
    let explain = json_of(&run(&[
        "--format",
        "json",
        "explain",
        "--profile",
        "tiny",
        "--query",
        "provider_day",
        "--save-plan",
        plan.to_str().unwrap(),
    ]));
    assert_valid("explain", &explain);
    let offline = json_of(&run(&[
        "--format",
        "json",
        "explain",
        "--plan",
        plan.to_str().unwrap(),
        "--expect-from",
        concat!(env!("CARGO_MANIFEST_DIR"), "/sql/queries/provider_day.sql"),
    ]));
    assert_valid("explain", &offline);
    assert_eq!(offline["mode"], "custom");
    let diff = common::qcheck_command(home)
        .args(["--format", "json", "diff"])
        .args([&plan, &plan])
        .output()
        .unwrap();
    assert_valid("diff", &json_of(&diff));

    assert_valid(
        "list",
        &json_of(&qcheck(&["--format", "json", "list"], home)),
    );
    assert_valid(
        "seed",
        &json_of(&run(&["--format", "json", "seed", "--profile", "tiny"])),
    );
    assert_valid(
        "migrate-status",
        &json_of(&run(&["--format", "json", "migrate", "status"])),
    );

    // The embedded cluster's own documents: the test cluster's home.
    let tc_home = &common::cluster().home;
    let url = json_of(&qcheck(&["cluster", "url", "--format", "json"], tc_home));
    assert_valid("cluster-url", &url);
    assert!(
        url["url"].as_str().unwrap().starts_with("postgresql://"),
        "{url}"
    );
    assert_valid(
        "cluster-status",
        &json_of(&qcheck(&["--format", "json", "cluster", "status"], tc_home)),
    );
}

/// Every line of `text` at most `width` columns.
fn assert_fits(text: &str, width: usize) {
    for line in text.lines() {
        assert!(
            line.chars().count() <= width,
            "{} columns: {line}\n{text}",
            line.chars().count()
        );
    }
}

#[test]
fn check_list_and_explain_fit_100_columns() {
    let (db, home) = crate::check::seeded();
    let url = common::url(db);
    let at_100 = |args: &[&str]| {
        let out = common::qcheck_command(home)
            .env("COLUMNS", "100")
            .arg("--database-url")
            .arg(&url)
            .args(args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        stdout(&out)
    };
    let table = at_100(&["check", "--profile", "tiny"]);
    assert_fits(&table, 100);
    // Index and partition names are never broken.
    assert!(
        table.contains("  plan: appointment: index-only-scan (appointment_provider_day_idx) ["),
        "{table}"
    );
    // The snapshot: the real table with its timings (which vary run to run) masked, and without
    // the 'Checked as' line above it (its tenants and socket folder vary; its width is checked).
    assert!(table.starts_with("Checked as role qcheck_app"), "{table}");
    let masked: Vec<String> = table
        .lines()
        .skip_while(|l| l.starts_with("Checked as") || l.starts_with("    "))
        .map(|l| {
            let cells: Vec<&str> = l.split("  ").filter(|c| !c.is_empty()).collect();
            if l.starts_with('─') {
                // The rule's widths follow the timings' widths.
                "<rule>".to_string()
            } else if l.starts_with(' ') || cells.len() < 7 {
                l.to_string()
            } else {
                let mut cells: Vec<String> = cells.iter().map(|c| c.trim().to_string()).collect();
                if cells[0] != "query" {
                    cells[3] = "<ms>".into();
                    cells[4] = "<ms>".into();
                }
                cells.join(" | ")
            }
        })
        .collect();
    insta::assert_snapshot!(masked.join("\n"));
    assert_fits(&at_100(&["list"]), 100);
    for query in ["provider_day", "patient_name_search", "booking_conflict"] {
        let text = at_100(&["explain", "--profile", "tiny", "--query", query]);
        assert_fits(&text, 100);
        assert!(text.contains("Result: pass"), "{text}");
    }
    // JSON is never wrapped.
    let json = at_100(&["--format", "json", "list"]);
    assert!(json.lines().any(|l| l.chars().count() > 100), "{json}");
}

#[test]
fn clap_errors_are_one_line_and_help_exits_0() {
    let home = common::temp_home("ci-clap");
    for args in [
        vec!["check", "--bogus"],
        vec!["--format", "yaml", "list"],
        vec!["explain"],
        vec!["chek"],
        vec!["--format", "junit", "list"],
    ] {
        let out = qcheck(&args, &home);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = stderr(&out);
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.starts_with("qcheck: error: "), "{err}");
        assert!(stdout(&out).is_empty());
    }
    let err = stderr(&qcheck(&["check", "--bogus"], &home));
    assert!(
        err.contains("unexpected argument '--bogus'") && err.contains("`qcheck check --help`"),
        "{err}"
    );
    for args in [vec!["--help"], vec!["--version"], vec!["check", "--help"]] {
        let out = qcheck(&args, &home);
        assert_eq!(out.status.code(), Some(0), "{args:?}");
    }
    assert!(stdout(&qcheck(&["check", "--help"], &home)).contains("Examples:"));
}

#[test]
fn completions_and_man_pages_generate() {
    let home = common::temp_home("ci-docs");
    for (shell, marker) in [
        ("bash", "_qcheck()"),
        ("zsh", "#compdef qcheck"),
        ("fish", "complete -c qcheck"),
    ] {
        let out = qcheck(&["completions", shell], &home);
        assert_eq!(out.status.code(), Some(0), "{shell}: {}", stderr(&out));
        let script = stdout(&out);
        assert!(script.contains(marker), "{shell}: {script}");
        assert!(
            script.contains("explain") && script.contains("format") && script.contains("junit"),
            "{shell}"
        );
    }
    let man = qcheck(&["man"], &home);
    assert_eq!(man.status.code(), Some(0));
    assert!(
        stdout(&man).starts_with(".ie \\n(.g .ds Aq"),
        "{}",
        stdout(&man)
    );
    assert!(stdout(&man).contains(".TH qcheck 1"));
    let dir = home.join("man1");
    let out = qcheck(&["man", "--dir", dir.to_str().unwrap()], &home);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    for page in ["qcheck.1", "qcheck-check.1", "qcheck-cluster-url.1"] {
        assert!(dir.join(page).is_file(), "{page}");
    }
}

#[test]
fn a_reseed_says_what_is_cached_what_was_asked_and_how_long() {
    let (db, _client) = common::fresh_db("ci_reseed");
    let home = common::temp_home("ci-reseed");
    let url = common::url(&db);
    let seed = |seed: &str| {
        let out = qcheck(
            &[
                "--database-url",
                &url,
                "seed",
                "--profile",
                "tiny",
                "--seed",
                seed,
            ],
            &home,
        );
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        stderr(&out)
    };
    let first = seed("42");
    assert!(
        first.contains(
            "qcheck: no dataset cached yet; requested: tiny scale 1 seed 42 — seeding, about 2 s"
        ),
        "{first}"
    );
    let second = seed("8");
    assert!(
        second.contains(
            "qcheck: cached: tiny scale 1 seed 42; requested: tiny scale 1 seed 8 — seeding, about 2 s"
        ),
        "{second}"
    );
    // Nothing to do, nothing said.
    let third = seed("8");
    assert!(!third.contains("seeding, about"), "{third}");
}
