//! Node lookup without re-walking the tree: [`PlanIndex`], built once per analysis and shared by
//! the stages (tips, expectation verdicts), and the lazily built [`NodeCache`] behind
//! [`Plan::node`](super::Plan::node).
//!
//! Why it exists: node ids are preorder positions, so finding node `id` in the nested
//! `Plans` arrays means walking the tree. Doing that walk per lookup made analysis quadratic in
//! plan size (an Append over 40,000 partitions took over a minute). Everything here is built in
//! one walk, O(nodes), and answers in O(1) (`PlanIndex`) or O(depth) (`NodeCache`).

use std::sync::OnceLock;

use super::NodeRef;
use super::describe::describe_node;
use super::model::{Plan, PlanNode};

/// Every node of a plan by id, with parent and children links: `node`, `children` and `describe`
/// are O(1) (plus the description's own formatting).
///
/// It borrows the plan, so the plan cannot change while an index exists. Build it once
/// ([`Plan::index`](super::Plan::index)) and pass it to every stage that looks nodes up.
#[derive(Debug, Clone)]
pub struct PlanIndex<'a> {
    plan: &'a Plan,
    nodes: Vec<NodeRef<'a>>,
    /// Children of node `id` are `child_ids[child_start[id]..child_start[id + 1]]`, in "Plans"
    /// order (compressed adjacency: three allocations however large the plan).
    child_start: Vec<usize>,
    child_ids: Vec<usize>,
}

impl<'a> PlanIndex<'a> {
    /// Indexes `plan` in one preorder walk.
    pub fn new(plan: &'a Plan) -> Self {
        let nodes = plan.nodes();
        // Counting sort by parent: children land in increasing id order, which is "Plans" order.
        let mut child_start = vec![0usize; nodes.len() + 1];
        for r in &nodes {
            if let Some(p) = r.parent {
                child_start[p + 1] += 1;
            }
        }
        for i in 1..child_start.len() {
            child_start[i] += child_start[i - 1];
        }
        let mut fill = child_start.clone();
        let mut child_ids = vec![0usize; nodes.len().saturating_sub(1)];
        for r in &nodes {
            if let Some(p) = r.parent {
                child_ids[fill[p]] = r.id;
                fill[p] += 1;
            }
        }
        PlanIndex {
            plan,
            nodes,
            child_start,
            child_ids,
        }
    }

    /// The indexed plan.
    pub fn plan(&self) -> &'a Plan {
        self.plan
    }

    /// All nodes in preorder (ids are indexes into this slice).
    pub fn nodes(&self) -> &[NodeRef<'a>] {
        &self.nodes
    }

    /// Number of nodes (at least 1: the root).
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Always false: a plan has a root node. Present for the `len`/`is_empty` convention.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Node `id` with its position, or `None` when the plan has no such node.
    pub fn get(&self, id: usize) -> Option<&NodeRef<'a>> {
        self.nodes.get(id)
    }

    /// The node with preorder id `id`.
    pub fn node(&self, id: usize) -> Option<&'a PlanNode> {
        self.nodes.get(id).map(|r| r.node)
    }

    /// Ids of node `id`'s children, in "Plans" order (empty for a leaf or an unknown id).
    pub fn children(&self, id: usize) -> &[usize] {
        match (self.child_start.get(id), self.child_start.get(id + 1)) {
            (Some(&from), Some(&to)) => &self.child_ids[from..to],
            _ => &[],
        }
    }

    /// Human description of node `id`; the same text as [`Plan::describe`](super::Plan::describe).
    pub fn describe(&self, id: usize) -> String {
        match self.node(id) {
            Some(n) => describe_node(n, id),
            None => format!("node #{id} (not in this plan)"),
        }
    }
}

/// Where a node sits: its parent's id and its position in the parent's "Plans".
#[derive(Debug, Clone, Copy)]
struct Link {
    parent: usize,
    slot: usize,
}

/// The lazily built parent/slot table behind [`Plan::node`](super::Plan::node): one walk on the
/// first lookup, then each lookup climbs to the root and descends along the recorded slots,
/// O(depth) with no re-walk of the tree.
///
/// Design: a plan cannot hold references into itself without `unsafe`, so `Plan` caches
/// positions (ids and slots), not references, in a [`OnceLock`] (thread-safe, `Plan` stays
/// `Send + Sync`). Lookups that must be O(1) whatever the depth — every analysis stage — use a
/// [`PlanIndex`], which borrows the plan instead. The cache is invisible: every `Plan` compares
/// equal whatever its cache holds, it is never serialised, and a clone starts empty.
///
/// The table describes the tree as it was at the first lookup. Plans are read once and not
/// reshaped (analysis only borrows them); code that edits a plan's tree after looking nodes up
/// must call [`Plan::forget_node_cache`](super::Plan::forget_node_cache). A stale table never
/// panics: a slot that no longer exists answers `None`.
#[derive(Default)]
pub(crate) struct NodeCache(OnceLock<Box<[Link]>>);

impl NodeCache {
    /// The node with preorder id `id` under `root`.
    pub(super) fn node<'a>(&self, root: &'a PlanNode, id: usize) -> Option<&'a PlanNode> {
        let links = self.0.get_or_init(|| links(root));
        links.get(id)?;
        let mut slots = Vec::new();
        let mut cur = id;
        while cur != 0 {
            let link = links.get(cur)?;
            slots.push(link.slot);
            cur = link.parent;
        }
        let mut node = root;
        for slot in slots.iter().rev() {
            node = node.child(*slot)?;
        }
        Some(node)
    }

    /// Drops the table; the next lookup rebuilds it.
    pub(super) fn clear(&mut self) {
        self.0 = OnceLock::new();
    }
}

/// The parent/slot of every node, in preorder (the root's entry is unused).
fn links(root: &PlanNode) -> Box<[Link]> {
    let mut out = Vec::new();
    let mut stack = vec![(root, Link { parent: 0, slot: 0 })];
    while let Some((node, link)) = stack.pop() {
        let id = out.len();
        out.push(link);
        let children: Vec<&PlanNode> = node.children().collect();
        for (slot, child) in children.into_iter().enumerate().rev() {
            stack.push((child, Link { parent: id, slot }));
        }
    }
    out.into_boxed_slice()
}

impl Clone for NodeCache {
    /// A clone starts empty: it may be edited before its first lookup.
    fn clone(&self) -> Self {
        NodeCache::default()
    }
}

impl PartialEq for NodeCache {
    /// A cache never makes two plans differ.
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl std::fmt::Debug for NodeCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeCache")
            .field("built", &self.0.get().is_some())
            .finish()
    }
}
