//! Which table a scanned relation belongs to: the catalog's partition → parent map when the
//! runner has one, a naming heuristic for offline plans (see the module docs of `plan`).

use std::collections::{BTreeMap, BTreeSet};

/// Resolves a scanned relation (or index) name to the table (or index) facts are keyed by.
#[derive(Debug, Clone, Default)]
pub struct PartitionMap {
    /// child → parent, straight from `pg_inherits` / `pg_partition_tree`; may include
    /// partition indexes → parent index. Keys may be bare or schema-qualified names.
    catalog: BTreeMap<String, String>,
    /// Parents the offline heuristic may map to (the relations expectations name).
    heuristic_parents: Vec<String>,
}

/// Bound on parent chains (multi-level partitioning); a cycle in a bad map cannot loop forever.
const MAX_LEVELS: usize = 32;

impl PartitionMap {
    /// No partition knowledge: every relation stands for itself.
    pub fn none() -> Self {
        Self::default()
    }

    /// The authoritative map from the catalog (`child → parent`, one level per entry; chains are
    /// followed for sub-partitions). With a catalog map the heuristic is never used.
    pub fn from_catalog(map: BTreeMap<String, String>) -> Self {
        PartitionMap {
            catalog: map,
            heuristic_parents: Vec::new(),
        }
    }

    /// The offline fallback: `R_suffix` is a partition of `R` when `R` is in `parents` and the
    /// suffix contains an ASCII digit. Longer parent names win (`appointment_audit_2026` maps to
    /// `appointment_audit` when both are named).
    pub fn heuristic<I, S>(parents: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let set: BTreeSet<String> = parents
            .into_iter()
            .map(|s| bare(&s.into()).to_owned())
            .collect();
        let mut heuristic_parents: Vec<String> = set.into_iter().collect();
        heuristic_parents.sort_by_key(|p| std::cmp::Reverse(p.len()));
        PartitionMap {
            catalog: BTreeMap::new(),
            heuristic_parents,
        }
    }

    /// The parent index of a partition index, from the catalog map only: index names of
    /// partitions are generated (`appointment_y2026m03_provider_id_scheduled_at_idx`) and say
    /// nothing reliable about the parent index's name, so no heuristic applies.
    pub fn parent_index(&self, name: &str) -> String {
        if self.catalog.is_empty() {
            return bare(name).to_owned();
        }
        self.root_of(name)
    }

    /// Whether this map came from the catalog (false: heuristic or none).
    pub fn is_catalog(&self) -> bool {
        !self.catalog.is_empty()
    }

    /// The top-level table (or index) that `name` belongs to; `name` itself when it is not a
    /// known partition. Schema qualification is dropped in the answer.
    pub fn root_of(&self, name: &str) -> String {
        if !self.catalog.is_empty() {
            let mut current = name.to_owned();
            for _ in 0..MAX_LEVELS {
                let next = self
                    .catalog
                    .get(&current)
                    .or_else(|| self.catalog.get(bare(&current)));
                match next {
                    Some(p) if p != &current => current = p.clone(),
                    _ => break,
                }
            }
            return bare(&current).to_owned();
        }
        let b = bare(name);
        for parent in &self.heuristic_parents {
            let suffix = b
                .strip_prefix(parent.as_str())
                .and_then(|rest| rest.strip_prefix('_'));
            if suffix.is_some_and(|s| s.chars().any(|c| c.is_ascii_digit())) {
                return parent.clone();
            }
        }
        b.to_owned()
    }
}

/// `schema.rel` → `rel`; EXPLAIN's "Relation Name" is never qualified.
pub(crate) fn bare(name: &str) -> &str {
    name.rsplit('.').next().unwrap_or(name)
}
