//! Node lookup by id ([`Plan::node`], [`PlanIndex`]) agrees with the preorder walk on every
//! fixture; the cache is invisible to equality, cloning and serialisation.

use std::ptr;

use super::tests::{FIXTURES, fixture};
use super::{Facts, PartitionMap, Plan, PlanIndex};

#[test]
fn node_and_index_agree_with_the_preorder_walk_on_every_fixture() {
    for (name, _) in FIXTURES {
        let plan = fixture(name);
        let walk = plan.nodes();
        let index = plan.index();
        assert_eq!(index.len(), walk.len(), "{name}");
        for r in &walk {
            let by_plan = plan
                .node(r.id)
                .unwrap_or_else(|| panic!("{name}: node {}", r.id));
            assert!(ptr::eq(by_plan, r.node), "{name}: Plan::node({})", r.id);
            assert!(ptr::eq(index.node(r.id).unwrap(), r.node), "{name}: index");
            let got = index.get(r.id).unwrap();
            assert_eq!(
                (got.depth, got.parent),
                (r.depth, r.parent),
                "{name}: #{}",
                r.id
            );
            let children: Vec<usize> = walk
                .iter()
                .filter(|c| c.parent == Some(r.id))
                .map(|c| c.id)
                .collect();
            assert_eq!(
                index.children(r.id),
                children,
                "{name}: children of #{}",
                r.id
            );
            assert_eq!(index.describe(r.id), plan.describe(r.id), "{name}");
        }
        let past = walk.len();
        assert!(
            plan.node(past).is_none() && index.node(past).is_none(),
            "{name}"
        );
        assert!(index.children(past).is_empty());
        assert_eq!(index.describe(past), plan.describe(past));
    }
}

#[test]
fn cache_is_invisible_to_equality_clone_and_serialisation() {
    let fresh = fixture("pg15_partition_prune_initplan.json");
    let used = fixture("pg15_partition_prune_initplan.json");
    let before = serde_json::to_string(&used).unwrap();
    assert!(used.node(13).is_some());
    assert_eq!(fresh, used);
    assert_eq!(serde_json::to_string(&used).unwrap(), before);
    let clone: Plan = used.clone();
    assert_eq!(clone, used);
    assert!(ptr::eq(clone.node(13).unwrap(), clone.nodes()[13].node));
}

#[test]
fn forgetting_the_cache_follows_an_edited_tree() {
    let mut plan = fixture("pg15_partition_prune_initplan.json");
    let last = plan.nodes().len() - 1;
    assert!(plan.node(last).is_some());
    plan.root.plans.pop();
    // Stale positions never panic; after forgetting them, lookups follow the new tree.
    let _ = plan.node(last);
    plan.forget_node_cache();
    let walk = plan.nodes();
    for r in &walk {
        assert!(ptr::eq(plan.node(r.id).unwrap(), r.node));
    }
    assert!(plan.node(walk.len()).is_none());
}

/// `Facts::estimate` and `Facts::scan` find entries by binary search: both lists are in node
/// order.
#[test]
fn facts_lists_are_in_node_order() {
    for (name, _) in FIXTURES {
        let plan = fixture(name);
        let facts = Facts::compute(&plan, &PartitionMap::none());
        assert!(
            facts.estimates.windows(2).all(|w| w[0].node < w[1].node),
            "{name}"
        );
        assert!(
            facts.scans.windows(2).all(|w| w[0].node < w[1].node),
            "{name}"
        );
        for e in &facts.estimates {
            // `estimate` answers for compared nodes only.
            let expected = e.q_error.is_some().then_some(e);
            assert_eq!(facts.estimate(e.node), expected, "{name}");
        }
        for s in &facts.scans {
            assert!(ptr::eq(facts.scan(s.node).unwrap(), s), "{name}");
        }
        let index = PlanIndex::new(&plan);
        for r in index.nodes() {
            assert_eq!(
                facts.scan(r.id).is_some(),
                facts.scans.iter().any(|s| s.node == r.id),
                "{name}"
            );
        }
    }
}
