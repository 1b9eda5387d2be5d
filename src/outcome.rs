//! What checking a query found: the plans, facts, verdicts and tips, as plain data.
//!
//! Pure: the `check` module (which talks to the database) produces these, the `report` module renders
//! them, and `--format json` serializes them as they are. Keeping them here lets `report` stay free of
//! any database dependency.

use std::path::PathBuf;

use serde::Serialize;

use crate::catalog::{ExpectLine, Query};
use crate::expect::{self, Verdict};
use crate::plan::{Facts, PartitionMap, Plan};
use crate::tips::{self, Thresholds, Tip};

/// Which plan the server uses for the prepared statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Custom,
    Generic,
}

impl Mode {
    pub fn plan_cache_mode(self) -> &'static str {
        match self {
            Mode::Custom => "force_custom_plan",
            Mode::Generic => "force_generic_plan",
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Custom => "custom",
            Mode::Generic => "generic",
        }
    }
}

/// Parameter values by position (`$1..$n`), as text; `None` is SQL NULL.
#[derive(Debug, Clone, Serialize)]
pub struct Params {
    pub names: Vec<String>,
    pub values: Vec<Option<String>>,
}

impl Params {
    /// `name=value` pairs, for display.
    pub fn display(&self) -> String {
        self.names
            .iter()
            .zip(&self.values)
            .map(|(n, v)| format!("{n}={}", v.as_deref().unwrap_or("NULL")))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// One analysed plan.
#[derive(Debug, Clone, Serialize)]
pub struct PlanCheck {
    /// `None` for a plan loaded from a file (its mode is unknown).
    pub mode: Option<Mode>,
    /// Verdicts do not fail the check (a generic plan the query declares exempt).
    pub exempt: bool,
    pub verdicts: Vec<Verdict>,
    pub tips: Vec<Tip>,
    pub facts: Facts,
    /// The plan as PostgreSQL printed it (what `--save-plan` writes; PEV2 reads it).
    pub plan: serde_json::Value,
    #[serde(skip)]
    pub parsed: Plan,
}

impl PlanCheck {
    /// Parses and analyses a plan: facts, the verdicts of `expectations`, tips.
    pub fn analyse(
        json: &str,
        mode: Option<Mode>,
        expectations: &[&ExpectLine],
        partitions: &PartitionMap,
        exempt: bool,
    ) -> Result<PlanCheck, crate::plan::PlanParseError> {
        let parsed = crate::plan::parse_plan(json)?;
        let plan: serde_json::Value = serde_json::from_str(json).unwrap_or(serde_json::Value::Null);
        let facts = Facts::compute(&parsed, partitions);
        let verdicts = expectations
            .iter()
            .map(|e| expect::evaluate(&e.expectation, &parsed, &facts))
            .collect();
        let tips = tips::tips(&parsed, &facts, &Thresholds::default());
        Ok(PlanCheck {
            mode,
            exempt,
            verdicts,
            tips,
            facts,
            plan,
            parsed,
        })
    }

    /// All verdicts hold (an exempt plan always passes).
    pub fn passed(&self) -> bool {
        self.exempt || self.verdicts.iter().all(|v| v.passed)
    }

    pub fn failed(&self) -> usize {
        self.verdicts.iter().filter(|v| !v.passed).count()
    }

    /// A one-line shape of the plan: per relation the scan kinds, indexes and partitions scanned.
    pub fn shape(&self) -> String {
        let mut parts = Vec::new();
        for (table, rel) in &self.facts.relations {
            let kinds: Vec<&str> = rel.scan_kinds.iter().map(|k| k.keyword()).collect();
            let mut s = format!("{table}: {}", kinds.join("+"));
            if !rel.indexes.is_empty() {
                let idx: Vec<&str> = rel.indexes.iter().map(String::as_str).collect();
                s.push_str(&format!(" ({})", idx.join(", ")));
            }
            if !rel.partitions_in_plan.is_empty() {
                s.push_str(&format!(
                    " [{}/{} partitions]",
                    rel.partitions_scanned.len(),
                    rel.partitions_in_plan.len() as u64 + rel.subplans_removed
                ));
            }
            parts.push(s);
        }
        parts.join("; ")
    }
}

/// One query checked under its custom and generic plan.
#[derive(Debug, Clone, Serialize)]
pub struct QueryCheck {
    pub name: String,
    pub summary: String,
    pub path: PathBuf,
    pub params: Params,
    pub custom: PlanCheck,
    pub generic: PlanCheck,
    /// Why the generic plan is not held to the expectations, when the query says so.
    pub generic_exempt: Option<String>,
    pub passed: bool,
}

impl QueryCheck {
    pub fn new(query: &Query, params: Params, custom: PlanCheck, generic: PlanCheck) -> QueryCheck {
        let passed = custom.passed() && generic.passed();
        QueryCheck {
            name: query.name.clone(),
            summary: query.summary.clone(),
            path: query.path.clone(),
            params,
            custom,
            generic,
            generic_exempt: query.generic_exempt.clone(),
            passed,
        }
    }
}

/// The expectation lines of a query that apply to a plan mode.
pub fn expectations_for(query: &Query, mode: Mode) -> Vec<&ExpectLine> {
    query
        .expects
        .iter()
        .filter(|e| e.applies_to(mode == Mode::Generic))
        .collect()
}
