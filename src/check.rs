//! Checking queries against a database: pick parameters, capture the custom and the generic plan,
//! analyse both (facts, verdicts, tips). The work of `qcheck explain` and `qcheck check`.

use postgres::Client;

use crate::catalog::Query;
use crate::error::{Error, Result};
use crate::outcome::{Mode, PlanCheck, QueryCheck, expectations_for};
use crate::plan::PartitionMap;
use crate::runner;

/// Runs one query under both plan modes and evaluates its expectations.
pub fn check_query(
    client: &mut Client,
    query: &Query,
    overrides: &[(String, String)],
    partitions: &PartitionMap,
) -> Result<QueryCheck> {
    let params = runner::pick_params(client, query, overrides)?;
    let mut plans = Vec::with_capacity(2);
    for mode in [Mode::Custom, Mode::Generic] {
        let json = runner::explain(client, query, &params, mode)?;
        let exempt = mode == Mode::Generic && query.generic_exempt.is_some();
        let plan = PlanCheck::analyse(
            &json,
            Some(mode),
            &expectations_for(query, mode),
            partitions,
            exempt,
        )
        .map_err(|e| {
            Error::Schema(format!(
                "query `{}`: cannot read the plan PostgreSQL returned: {e}",
                query.name
            ))
        })?;
        plans.push(plan);
    }
    let generic = plans.pop().expect("two plans");
    let custom = plans.pop().expect("two plans");
    Ok(QueryCheck::new(query, params, custom, generic))
}

/// The partition map of the connected database (tables and indexes).
pub fn partition_map(client: &mut Client) -> Result<PartitionMap> {
    Ok(PartitionMap::from_catalog(runner::partition_roots(client)?))
}
