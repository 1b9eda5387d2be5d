//! `qcheck compare` on several targets: the same strategy comparison on each PostgreSQL version
//! (`--pg-bin-dir` given more than once) or on each topology (`--topology single,citus-1,...`).
//!
//! A strategy comparison answers "what do these indexes buy on this server". A team planning an
//! upgrade or a move to Citus asks the same question one level up: "what does the new server do to
//! my plans, latencies and write rates, with the indexes I have". So a target is a second axis beside
//! the strategy: the command runs the whole comparison ([`super::run`]) once per target, one server
//! running at a time, on the same dataset (same profile, scale and seed: the generator is
//! deterministic, and the report says when the digests nevertheless differ), and this module puts
//! the per-target results side by side and compares their plans, strategy by strategy, with the
//! baseline code (plan signatures, thresholds, tree diffs) that `check` uses across versions and
//! `qcheck diff` between files. Plan differences between targets are reported, never judged.
//!
//! Pure: the per-target [`Comparison`]s come from the command; this module does no I/O.

use serde::Serialize;

use super::model::Comparison;
use crate::baseline::{self, Thresholds};

/// What the targets of one comparison differ by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TargetKind {
    /// PostgreSQL versions: one embedded cluster per `--pg-bin-dir`.
    Version,
    /// Topologies: the single node and embedded Citus clusters (`--topology`).
    Topology,
}

/// One topology `compare --topology` takes: `single`, or `citus-N` (a coordinator and N workers,
/// the embedded topology `--citus-workers N` starts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Topology {
    /// The embedded single node.
    Single,
    /// The embedded Citus topology with this many workers.
    Citus(u32),
}

impl Topology {
    /// Parses `single` or `citus-N` (N from 1 to `max_workers`); the error says what is accepted.
    pub fn parse(text: &str, max_workers: u32) -> Result<Topology, String> {
        let t = text.trim();
        if t == "single" {
            return Ok(Topology::Single);
        }
        match t.strip_prefix("citus-").map(str::parse::<u32>) {
            Some(Ok(n)) if (1..=max_workers).contains(&n) => Ok(Topology::Citus(n)),
            _ => Err(format!(
                "--topology {t}: expected `single` or `citus-N` with N from 1 to {max_workers} \
                 workers (e.g. --topology single,citus-1,citus-2)"
            )),
        }
    }

    /// Workers of the Citus topology; `None` for the single node.
    pub fn workers(self) -> Option<u32> {
        match self {
            Topology::Single => None,
            Topology::Citus(n) => Some(n),
        }
    }
}

impl std::fmt::Display for Topology {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Topology::Single => f.write_str("single"),
            Topology::Citus(n) => write!(f, "citus-{n}"),
        }
    }
}

/// One target's strategy comparison.
#[derive(Debug, Clone, Serialize)]
pub struct TargetRun {
    /// How the report names it: `PostgreSQL 18.4`, `single`, `citus-2`.
    pub name: String,
    /// The comparison measured on it.
    pub comparison: Comparison,
}

/// One strategy's plans on a later target compared with the first target's.
#[derive(Debug, Clone, Serialize)]
pub struct TargetDiff {
    /// The first target's name.
    pub from: String,
    /// The later target's name.
    pub to: String,
    /// The strategy both plans ran under.
    pub strategy: String,
    /// Plans that changed (shape, or buffers or rows beyond the thresholds).
    pub changed_plans: usize,
    /// Plans compared (queries × plan modes).
    pub compared_plans: usize,
    /// The comparison, as `qcheck diff --format json` prints it (its `passed` means "no plan
    /// changed"; differences between targets are never a failure).
    pub comparison: baseline::Comparison,
}

/// The strategy comparison on every target, with the plan differences between them.
#[derive(Debug, Clone, Serialize)]
pub struct TargetComparison {
    /// What the targets differ by.
    pub kind: TargetKind,
    /// In the order given; the first is what every other is compared with.
    pub targets: Vec<TargetRun>,
    /// Per later target and strategy compared on both.
    pub diffs: Vec<TargetDiff>,
    /// What a reader must know to read the figures side by side (different data, ...).
    pub notes: Vec<String>,
    /// Seconds the whole run took, every target included.
    pub wall_seconds: f64,
}

impl TargetComparison {
    /// Puts the targets side by side: every later target's plans compared with the first's, per
    /// strategy, under `thresholds`.
    pub fn new(
        kind: TargetKind,
        targets: Vec<TargetRun>,
        thresholds: Thresholds,
        wall_seconds: f64,
    ) -> TargetComparison {
        let mut notes = Vec::new();
        let mut diffs = Vec::new();
        if let Some((first, later)) = targets.split_first() {
            for t in later {
                let (a, b) = (&first.comparison.dataset, &t.comparison.dataset);
                if a.digest != b.digest {
                    notes.push(format!(
                        "{} and {} hold different rows (dataset digest {} and {}): their figures \
                         are not comparable",
                        first.name,
                        t.name,
                        short(&a.digest),
                        short(&b.digest)
                    ));
                }
                for s in &first.comparison.strategies {
                    let Some(other) = t.comparison.strategies.iter().find(|o| o.name == s.name)
                    else {
                        continue;
                    };
                    let (before, after) = (&s.baseline, &other.baseline);
                    let (identity, _) = baseline::compare::identity(before, after);
                    let from = format!("{} · {}", first.name, s.name);
                    let to = format!("{} · {}", t.name, s.name);
                    let comparison =
                        baseline::compare::compare(before, after, &from, &to, thresholds, identity);
                    let (changed_plans, compared_plans) = comparison.changed_plans();
                    diffs.push(TargetDiff {
                        from: first.name.clone(),
                        to: t.name.clone(),
                        strategy: s.name.clone(),
                        changed_plans,
                        compared_plans,
                        comparison,
                    });
                }
            }
        }
        TargetComparison {
            kind,
            targets,
            diffs,
            notes,
            wall_seconds,
        }
    }
}

fn short(digest: &str) -> &str {
    let d = digest.strip_prefix("sha256:").unwrap_or(digest);
    &d[..d.len().min(12)]
}

#[cfg(test)]
mod tests {
    use super::Topology;

    #[test]
    fn topologies_parse_as_a_user_writes_them() {
        assert_eq!(Topology::parse("single", 8), Ok(Topology::Single));
        assert_eq!(Topology::parse(" citus-2", 8), Ok(Topology::Citus(2)));
        assert_eq!(Topology::Citus(2).to_string(), "citus-2");
        for bad in ["citus-0", "citus-9", "citus", "citus-x", "multi", ""] {
            let e = Topology::parse(bad, 8).unwrap_err();
            assert!(e.contains("`single` or `citus-N`"), "{bad}: {e}");
        }
    }
}
