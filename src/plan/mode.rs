//! Which plan PostgreSQL uses for a prepared statement: the custom plan (planned for the bound
//! values) or the generic one (planned once for any value). Applications run prepared statements,
//! so qcheck judges both; the mode is part of every plan it captures.

use serde::Serialize;

/// The plan cache mode a plan was captured under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// `plan_cache_mode = force_custom_plan`: the planner sees the parameter values.
    Custom,
    /// `plan_cache_mode = force_generic_plan`: one plan for any value; partitions can then be
    /// pruned only at run time.
    Generic,
}

impl Mode {
    /// Both modes, in the order qcheck checks them.
    pub const BOTH: [Mode; 2] = [Mode::Custom, Mode::Generic];

    /// The `plan_cache_mode` setting that forces this plan.
    pub fn plan_cache_mode(self) -> &'static str {
        match self {
            Mode::Custom => "force_custom_plan",
            Mode::Generic => "force_generic_plan",
        }
    }

    /// `custom` or `generic`, as printed and serialised.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Custom => "custom",
            Mode::Generic => "generic",
        }
    }
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
