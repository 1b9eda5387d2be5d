//! What checking a query found: the typed plan with its facts, verdicts and tips, as plain data.
//!
//! Pure: the [`crate::runner`] (the only code that sends a query to a server) captures a typed
//! [`Plan`] and hands it here once; [`PlanCheck::analyse`] judges it; the `report` module renders
//! the result and `--format json` serialises it as it is. Offline analysis (`qcheck explain --plan`)
//! builds the same value from a file. Keeping this free of database code lets `report` stay pure.

use std::path::PathBuf;

use serde::{Serialize, Serializer};

use crate::catalog::{ExpectLine, Query};
use crate::expect::{self, Verdict};
use crate::plan::{Facts, Mode, PartitionMap, Plan};
use crate::tips::{self, Thresholds, Tip};

/// Parameter values by position (`$1..$n`), as text; `None` is SQL NULL.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Params {
    /// The query's parameter names, in `$n` order.
    pub names: Vec<String>,
    /// One value per name.
    pub values: Vec<Option<String>>,
    /// The tenant the values belong to (the query's `-- tenant:` SQL, or `--tenant`): the
    /// `app.tenant_id` the query ran with. `None` when it ran as the connecting user.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
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
    /// `None` for a plan loaded from a file whose mode is unknown.
    pub mode: Option<Mode>,
    /// Verdicts do not fail the check (a generic plan the query declares exempt).
    pub exempt: bool,
    /// One verdict per expectation that applies to this plan's mode.
    pub verdicts: Vec<Verdict>,
    /// Advice any plan gets (estimate errors, spills, ...).
    pub tips: Vec<Tip>,
    /// What the plan shows, derived once.
    pub facts: Facts,
    /// Undecided verdicts do not fail the check (`--allow-undecided`).
    pub allow_undecided: bool,
    /// The plan itself; serialised as the EXPLAIN (FORMAT JSON) document PostgreSQL printed (a
    /// one-element array, as PEV2 reads it).
    #[serde(serialize_with = "as_explain_document")]
    pub plan: Plan,
}

/// Serialises a plan as the EXPLAIN (FORMAT JSON) document: a one-element array.
pub(crate) fn as_explain_document<S: Serializer>(plan: &Plan, s: S) -> Result<S::Ok, S::Error> {
    [plan].serialize(s)
}

impl PlanCheck {
    /// Analyses a plan: facts, the verdicts of `expectations`, tips. Lines for another topology
    /// (`expect-citus:` on a plan that is not distributed, `expect-single-node:` on one that is)
    /// are set aside; when that leaves none of several, the check fails with a verdict saying so,
    /// as a gate that checked nothing must not pass.
    pub fn analyse(
        plan: Plan,
        mode: Option<Mode>,
        expectations: &[&ExpectLine],
        partitions: &PartitionMap,
        exempt: bool,
    ) -> PlanCheck {
        let facts = Facts::compute(&plan, partitions);
        let distributed = facts.distributed();
        let applicable: Vec<&&ExpectLine> = expectations
            .iter()
            .filter(|e| e.topology.applies(distributed))
            .collect();
        let mut verdicts: Vec<Verdict> = applicable
            .iter()
            .map(|e| expect::evaluate(&e.expectation, &plan, &facts))
            .collect();
        if let (true, Some(first)) = (applicable.is_empty(), expectations.first()) {
            verdicts.push(nothing_applies(first, expectations.len(), distributed));
        }
        let tips = tips::tips(&plan, &facts, &Thresholds::default());
        PlanCheck {
            mode,
            exempt,
            allow_undecided: false,
            verdicts,
            tips,
            facts,
            plan,
        }
    }

    /// All verdicts hold (an exempt plan always passes; undecided verdicts count as failures
    /// unless allowed).
    pub fn passed(&self) -> bool {
        self.exempt
            || self
                .verdicts
                .iter()
                .all(|v| v.passed || (self.allow_undecided && v.undecided))
    }

    /// How many verdicts failed, undecided ones included.
    pub fn failed(&self) -> usize {
        self.verdicts.iter().filter(|v| !v.passed).count()
    }

    /// How many verdicts the plan could not decide.
    pub fn undecided(&self) -> usize {
        self.verdicts.iter().filter(|v| v.undecided).count()
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
            if !rel.partitions_in_plan.is_empty() && self.facts.distributed() {
                // Every task prunes on its own: removed subplans add up over the tasks.
                s.push_str(&format!(" [{} partitions]", rel.partitions_scanned.len()));
            } else if !rel.partitions_in_plan.is_empty() {
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

/// The failing verdict of a plan none of whose `count` expectation lines applies to its topology.
fn nothing_applies(first: &ExpectLine, count: usize, distributed: bool) -> Verdict {
    let (plan, lines) = if distributed {
        (
            "a distributed (Citus) plan",
            "`expect-single-node` lines, which apply only to a plan without a Citus Custom Scan",
        )
    } else {
        (
            "a single-node plan (no Citus Custom Scan)",
            "`expect-citus` lines, which apply only to a distributed (Citus) plan",
        )
    };
    Verdict {
        id: "topology",
        text: first.expectation.text.clone(),
        file: first.expectation.file.clone(),
        line: first.expectation.line,
        passed: false,
        undecided: false,
        expected: format!("an expectation that applies to {plan}"),
        found: format!(
            "nothing to check: the {count} expectation(s) for this plan's mode are all {lines}"
        ),
        nodes: Vec::new(),
        location: None,
        needs: None,
    }
}

/// One query checked under its custom and generic plan.
#[derive(Debug, Clone, Serialize)]
pub struct QueryCheck {
    /// The query's name.
    pub name: String,
    /// What a user asks with it.
    pub summary: String,
    /// The query file.
    pub path: PathBuf,
    /// The parameter values both plans were captured with.
    pub params: Params,
    /// The plan under `force_custom_plan`.
    pub custom: PlanCheck,
    /// The plan under `force_generic_plan`.
    pub generic: PlanCheck,
    /// Why the generic plan is not held to the expectations, when the query says so.
    pub generic_exempt: Option<String>,
    /// The role both plans were captured under (`SET LOCAL ROLE`), `None` for the connecting user
    /// as connected; the tenant is `params.tenant`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// Both plans pass.
    pub passed: bool,
}

impl QueryCheck {
    /// Analyses both plans of `query`, captured with `params`.
    pub fn analyse(
        query: &Query,
        params: Params,
        custom: Plan,
        generic: Plan,
        partitions: &PartitionMap,
    ) -> QueryCheck {
        let check = |plan, mode| {
            let exempt = mode == Mode::Generic && query.generic_exempt.is_some();
            PlanCheck::analyse(
                plan,
                Some(mode),
                &expectations_for(query, mode),
                partitions,
                exempt,
            )
        };
        let custom = check(custom, Mode::Custom);
        let generic = check(generic, Mode::Generic);
        QueryCheck {
            name: query.name.clone(),
            summary: query.summary.clone(),
            path: query.path.clone(),
            params,
            passed: custom.passed() && generic.passed(),
            custom,
            generic,
            generic_exempt: query.generic_exempt.clone(),
            role: None,
        }
    }

    /// The server has no generic plan of the query (Citus refuses one; see
    /// `runner::CITUS_NO_GENERIC`): the generic check holds the custom plan, which its prepared
    /// statement runs instead, exempt with `reason`, so the report says why instead of checking a
    /// plan that never runs.
    pub fn generic_refused(&mut self, reason: &str) {
        self.generic.exempt = true;
        self.generic_exempt = Some(reason.to_string());
        self.passed = self.custom.passed();
    }

    /// Lets undecided verdicts pass (`--allow-undecided`), in both plans.
    pub fn allow_undecided(&mut self) {
        self.custom.allow_undecided = true;
        self.generic.allow_undecided = true;
        self.passed = self.custom.passed() && self.generic.passed();
    }

    /// The plan of one mode.
    pub fn plan(&self, mode: Mode) -> &PlanCheck {
        match mode {
            Mode::Custom => &self.custom,
            Mode::Generic => &self.generic,
        }
    }
}

/// The expectation lines of a query that apply to a plan mode.
pub fn expectations_for(query: &Query, mode: Mode) -> Vec<&ExpectLine> {
    query
        .expects
        .iter()
        .filter(|e| e.applies_to(mode))
        .collect()
}

/// A promise of the data model that the checked database does not keep, found by `check` next to
/// the plans rather than in them. A plan can be perfect on a schema that lets two patients book one
/// provider's slot; `check` gates on both, so a broken promise fails it (exit 1) like a failed
/// expectation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SchemaFinding {
    /// What kind of promise is broken: `unguarded-partition`.
    pub kind: &'static str,
    /// The object concerned: for `unguarded-partition`, the leaf partition of `appointment`.
    pub subject: String,
    /// What is wrong and what it means for the data, one sentence.
    pub message: String,
    /// The SQL that fixes it, to run on the database `check` ran on.
    pub fix: String,
}

impl SchemaFinding {
    /// A leaf partition of `appointment` without the exclusion constraint that keeps one provider's
    /// live appointments from overlapping (see `schema::unguarded_partitions`).
    pub fn unguarded_partition(leaf: &str) -> SchemaFinding {
        SchemaFinding {
            kind: "unguarded-partition",
            subject: leaf.to_string(),
            message: format!(
                "partition {leaf} of appointment has no exclusion constraint: double bookings in \
                 its month are not refused"
            ),
            fix: guard_fix(leaf),
        }
    }
}

/// The statement that gives a leaf of `appointment` its exclusion constraint (migration 0001's
/// function, which builds it and fails with 23P01 naming the overlap if the leaf already holds
/// double bookings).
pub fn guard_fix(leaf: &str) -> String {
    format!(
        "SELECT add_appointment_partition_exclusion('{}')",
        leaf.replace('\'', "''")
    )
}
