//! Which table a scanned relation belongs to: the catalog's partition → parent map when the
//! runner has one (or a user gives one with `--partitions FILE`), a naming heuristic for offline
//! plans otherwise (see the module docs of `plan`).
//!
//! The map is JSON, `{"child": "parent", ...}`, one level per entry (sub-partitions chain), tables
//! and indexes alike; names may be schema-qualified (`"public.orders_2024": "public.orders"`).
//! [`CATALOG_SQL`] produces it from any database; `qcheck partitions` runs it, and a user without
//! qcheck on the production host can run it with psql and save its one-row output.

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

/// The one query that reads the partition map from a database: every partition (table, foreign
/// table or index) with its direct parent, schema-qualified, as one JSON object. Read-only, and
/// valid on PostgreSQL 10 and later: `psql -XAtc "$SQL" > partitions.json`.
pub const CATALOG_SQL: &str = "SELECT coalesce(json_object_agg(cn.nspname || '.' || c.relname, \
pn.nspname || '.' || p.relname ORDER BY cn.nspname, c.relname), '{}') \
FROM pg_inherits i \
JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_namespace cn ON cn.oid = c.relnamespace \
JOIN pg_class p ON p.oid = i.inhparent JOIN pg_namespace pn ON pn.oid = p.relnamespace \
WHERE c.relispartition";

/// Bound on parent chains (multi-level partitioning); a cycle in a bad map cannot loop forever.
const MAX_LEVELS: usize = 32;

impl PartitionMap {
    /// No partition knowledge: every relation stands for itself.
    pub fn none() -> Self {
        Self::default()
    }

    /// The authoritative map from the catalog (`child → parent`, one level per entry; chains are
    /// followed for sub-partitions). With a catalog map the heuristic is never used. Names may be
    /// schema-qualified: plans name relations without their schema, so every entry also answers
    /// to its bare name (unless two schemas hold a child of that name, which then stays
    /// qualified-only).
    pub fn from_catalog(map: BTreeMap<String, String>) -> Self {
        let mut catalog = BTreeMap::new();
        let mut ambiguous = BTreeSet::new();
        for (child, parent) in &map {
            let (b, bp) = (bare(child).to_owned(), bare(parent).to_owned());
            if b != *child {
                match catalog.get(&b) {
                    Some(existing) if *existing != bp => {
                        ambiguous.insert(b.clone());
                    }
                    _ => {
                        catalog.insert(b, bp);
                    }
                }
            }
        }
        for name in ambiguous {
            catalog.remove(&name);
        }
        // Qualified entries keep their qualified parent, so a qualified chain is followed too.
        catalog.extend(map);
        PartitionMap {
            catalog,
            heuristic_parents: Vec::new(),
        }
    }

    /// The offline fallback: `R_suffix` is a partition of `R` when `R` is in `parents` and the
    /// suffix contains an ASCII digit or is `default` (PostgreSQL's docs and pg_partman name the
    /// default partition `R_default`). Longer parent names win (`appointment_audit_2026` maps to
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

    /// Every table and index name the catalog map knows (children and parents), bare.
    pub(crate) fn names(&self) -> impl Iterator<Item = &str> {
        self.catalog.iter().flat_map(|(c, p)| [bare(c), bare(p)])
    }

    /// Whether the catalog map has `name` as a child.
    pub(crate) fn knows(&self, name: &str) -> bool {
        self.catalog.contains_key(name)
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
            if suffix.is_some_and(|s| s.chars().any(|c| c.is_ascii_digit()) || s == "default") {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_heuristic_knows_default_partitions() {
        let h = PartitionMap::heuristic(["orders"]);
        assert_eq!(h.root_of("orders_2024_q1"), "orders");
        assert_eq!(h.root_of("orders_default"), "orders");
        assert_eq!(h.root_of("orders_archive"), "orders_archive");
    }

    #[test]
    fn schema_qualified_maps_match_bare_plan_names() {
        let map: BTreeMap<String, String> = [
            ("public.orders_p1", "public.orders"),
            ("public.orders_default", "public.orders"),
            ("public.orders_p1_pkey", "public.orders_pkey"),
            ("a.t_1", "a.t"),
            ("b.t_1", "b.u"),
        ]
        .into_iter()
        .map(|(c, p)| (c.to_owned(), p.to_owned()))
        .collect();
        let m = PartitionMap::from_catalog(map);
        assert_eq!(m.root_of("orders_p1"), "orders");
        assert_eq!(m.root_of("orders_default"), "orders");
        assert_eq!(m.parent_index("orders_p1_pkey"), "orders_pkey");
        // Two schemas with a child of one name: only the qualified names say which.
        assert_eq!(m.root_of("t_1"), "t_1");
        assert_eq!(m.root_of("a.t_1"), "t");
        assert_eq!(m.root_of("b.t_1"), "u");
    }
}
