//! The runner: the only code that sends a catalog query's SQL to a server.
//!
//! Everything qcheck does with a query — pick its parameters from the data, capture its plans, time
//! it, sample parameter sets for the benchmarks, write the pgbench script of the harness check —
//! goes through here, over one connection and one protocol, the way an application runs it:
//!
//! - **One prepared statement.** [`Runner::prepare`] parses the query once as a named server-side
//!   statement (extended protocol, as libpq's `PQprepare` and `pgbench -M prepared`). Executions are
//!   Bind/Execute round trips with the values as text parameters of the types the server inferred
//!   ([`exec::Bound`]). EXPLAIN runs `EXPLAIN (ANALYZE, ...) EXECUTE <that statement>(values)`, so the
//!   plan shown is the plan cache entry of the very statement the timing loop executes.
//! - **Plan modes.** `plan_cache_mode` is set with `SET LOCAL` inside each run's transaction:
//!   `force_custom_plan` (the planner sees the values) or `force_generic_plan` (it does not; partitions
//!   are then pruned at run time). The plan cache consults it at every Bind, so one statement serves
//!   both modes and nothing is left set afterwards.
//! - **Nothing persists.** Every execution — warm-ups, EXPLAIN ANALYZE, timed runs, the `params:` and
//!   sample SQL — runs inside a transaction that is rolled back, so a query file holding DML is
//!   analysable (its plan and trigger times are real) and leaves no trace. A timing loop shares one
//!   transaction: measuring adds no round trip per execution. (Sequences advanced by `nextval` are the
//!   one thing PostgreSQL does not roll back.)
//! - **As the application.** By default every statement of a query — its `PREPARE`, the
//!   executions, EXPLAIN — runs after `SET LOCAL ROLE qcheck_app` and `SET LOCAL app.tenant_id` set
//!   to the tenant of its parameters, so row-level security shapes the plan as it does for the
//!   application ([`role`]); the `params:`/`sample:`/`tenant:` SQL that picks values runs as the
//!   connecting user, who sees every tenant (with `--tenant`, `params:` and `sample:` run as the role
//!   under that tenant, so they pick its rows). `--as-owner` runs everything as the connecting user.
//! - **Citus.** On a Citus coordinator the plan shows every task's plan
//!   (`SET LOCAL citus.explain_all_tasks = on` in the EXPLAIN's transaction), so that checks read
//!   the plans that really scan the shards, not one task of many. Citus explains the tasks of
//!   `EXPLAIN ... EXECUTE` with the options of the session's last *plain* EXPLAIN (its hook does not
//!   see EXPLAIN of a prepared statement), which in a new session are its defaults: TEXT format,
//!   pasted unquoted into the JSON. So before the first plan of a session the runner runs one plain
//!   `EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) SELECT 1` ([`CITUS_EXPLAIN_OPTIONS`]), whose options
//!   Citus then uses for every task plan of the session. The same holds on a user's own coordinator.
//!   A generic plan Citus refuses (`could not create distributed plan`) is reported exempt with the
//!   reason ([`CITUS_NO_GENERIC`]): Citus keeps such a prepared statement on custom plans.
//! - **Typed plans.** EXPLAIN's JSON is parsed once into a [`Plan`]; reports, `--save-plan`,
//!   `report.json` and the HTML tree all use that value.
//!
//! Submodules: [`exec`] (text parameters and the prepared statement), [`role`] (who the queries run
//! as), [`pgbench`] (the same query timed by pgbench, for the harness check).

pub mod exec;
pub mod pgbench;
pub mod role;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use postgres::{Client, SimpleQueryMessage, Transaction};

use crate::analysis::{Params, QueryCheck};
use crate::catalog::Query;
use crate::error::{DbContext, Error, Result};
use crate::plan::{Mode, PartitionMap, Plan};
pub use exec::{Bound, Prepared};
pub use role::{RunAs, RunAsRequest};

/// Run once per session on a Citus coordinator before the first `EXPLAIN ... EXECUTE`: Citus
/// explains the task plans of the later ones with these options (see the module doc).
pub const CITUS_EXPLAIN_OPTIONS: &str = "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) SELECT 1";

/// Parameter sets per query that the benchmarks and `compare` rotate over.
pub const SAMPLE_SIZE: usize = 200;

/// Runs catalog queries over one connection, as one identity ([`RunAs`]).
pub struct Runner<'c> {
    client: &'c mut Client,
    run_as: RunAs,
    /// Whether the database is a Citus coordinator, once the first EXPLAIN asked (and, when it is,
    /// [`CITUS_EXPLAIN_OPTIONS`] ran in the session).
    citus: Option<bool>,
}

/// An open rolled-back transaction in one plan mode (and, running as a role, under that role), for
/// callers that drive executions themselves (the criterion benchmarks). Dropping it rolls back.
pub struct Executions<'t> {
    tx: Transaction<'t>,
    /// Runs under a role: `app.tenant_id` follows each parameter set's tenant.
    as_role: bool,
    /// The `app.tenant_id` set in the transaction.
    tenant: Option<String>,
}

impl Executions<'_> {
    /// One Bind/Execute round trip of `prepared` with `bound`; returns the number of rows (received
    /// in full, as an application would, but not decoded). Running as a role, a parameter set of
    /// another tenant than the previous one first sets `app.tenant_id` (one more round trip, as an
    /// application's transaction for that tenant starts with it); order the sets by tenant to keep
    /// that rare.
    pub fn execute(
        &mut self,
        prepared: &Prepared,
        bound: &Bound,
    ) -> std::result::Result<usize, postgres::Error> {
        if self.as_role && bound.tenant() != self.tenant.as_deref() {
            let tenant = bound.tenant().unwrap_or("");
            self.tx
                .execute("SELECT set_config('app.tenant_id', $1, true)", &[&tenant])?;
            self.tenant = bound.tenant().map(str::to_string);
        }
        self.tx
            .query(prepared.statement(), &bound.refs())
            .map(|rows| rows.len())
    }
}

impl<'c> Runner<'c> {
    /// A runner on `client` running every query as `run_as`. The connection stays the caller's: the
    /// runner leaves no session state behind except the named statements of the [`Prepared`] values
    /// it returns, closed when they drop (roles and settings are `SET LOCAL` to its transactions),
    /// and on a Citus coordinator the EXPLAIN options Citus recorded ([`CITUS_EXPLAIN_OPTIONS`]).
    pub fn new(client: &'c mut Client, run_as: RunAs) -> Runner<'c> {
        Runner {
            client,
            run_as,
            citus: None,
        }
    }

    /// Who the queries run as.
    pub fn run_as(&self) -> &RunAs {
        &self.run_as
    }

    /// Whether the database is a Citus coordinator; the first call on a coordinator also runs
    /// [`CITUS_EXPLAIN_OPTIONS`], so that the session's task plans come as JSON.
    fn citus_explain(&mut self) -> Result<bool> {
        if let Some(citus) = self.citus {
            return Ok(citus);
        }
        let step = "preparing EXPLAIN on Citus";
        let citus = self
            .client
            .query_opt("SELECT 1 FROM pg_extension WHERE extname = 'citus'", &[])
            .db(step)?
            .is_some();
        if citus {
            self.client
                .simple_query(CITUS_EXPLAIN_OPTIONS)
                .db(format!("{step}: {CITUS_EXPLAIN_OPTIONS}"))?;
        }
        self.citus = Some(citus);
        Ok(citus)
    }

    /// Starts a transaction under the runner's identity with `tenant`, and `plan_cache_mode` when
    /// `mode` is given (one round trip).
    fn begin(
        &mut self,
        step: &str,
        tenant: Option<&str>,
        mode: Option<Mode>,
    ) -> Result<Transaction<'_>> {
        let mut sql = self.run_as.set_local(tenant);
        if let Some(mode) = mode {
            sql.push_str(&format!(
                " SET LOCAL plan_cache_mode = {};",
                mode.plan_cache_mode()
            ));
        }
        let mut tx = self.client.transaction().db(step)?;
        if !sql.is_empty() {
            tx.batch_execute(&sql)
                .db(format!("{step}: {}", sql.trim_end_matches(';')))?;
        }
        Ok(tx)
    }

    /// Picks a query's parameters: runs its `params:` SQL (first row) and applies `overrides`
    /// (`--param name=value`). Unknown override names are an error that lists the query's parameters.
    pub fn params(&mut self, query: &Query, overrides: &[(String, String)]) -> Result<Params> {
        for (name, _) in overrides {
            if !query.params.contains(name) {
                return Err(Error::Usage(format!(
                    "query `{}` has no parameter `{name}`; its parameters: {}",
                    query.name,
                    if query.params.is_empty() {
                        "none".to_string()
                    } else {
                        query.params.join(", ")
                    }
                )));
            }
        }
        let mut values: Vec<Option<String>> = vec![None; query.params.len()];
        let all_overridden = query
            .params
            .iter()
            .all(|p| overrides.iter().any(|(n, _)| n == p));
        if !query.params.is_empty() && !all_overridden {
            let sql = query.params_sql.as_deref().unwrap_or_default();
            let rows = self.rows(query, sql, "picking parameters", 1)?;
            let row = rows.into_iter().next().ok_or_else(|| {
                query_error(
                    query,
                    "its params SQL returned no row — is the dataset seeded? Pass the values with --param",
                )
            })?;
            values = row;
        }
        for (name, value) in overrides {
            let i = query
                .params
                .iter()
                .position(|p| p == name)
                .expect("checked above");
            values[i] = Some(value.clone());
        }
        self.with_tenant(query, values)
    }

    /// `values` as the query's parameters, with the tenant they belong to ([`Self::tenant_of`]).
    fn with_tenant(&mut self, query: &Query, values: Vec<Option<String>>) -> Result<Params> {
        let mut params = Params {
            names: query.params.clone(),
            values,
            tenant: None,
        };
        params.tenant = self.tenant_of(query, &params)?;
        Ok(params)
    }

    /// The tenant `params` belong to when the runner runs as a role: `--tenant`, else the query's
    /// `-- tenant:` SQL with the values as literals, run as the connecting user (who sees every
    /// tenant) in a rolled-back transaction. `None` as the connecting user.
    fn tenant_of(&mut self, query: &Query, params: &Params) -> Result<Option<String>> {
        let Some(role) = self.run_as.role.clone() else {
            return Ok(None);
        };
        if let Some(tenant) = &self.run_as.tenant {
            return Ok(Some(tenant.clone()));
        }
        let Some(sql) = query.tenant_sql.as_deref() else {
            return Err(Error::RunAs {
                role,
                message: format!(
                    "query `{}` ({}) names no tenant for its parameters, so app.tenant_id cannot be \
                     set: add a `-- tenant: SELECT tenant_id FROM … WHERE id = $1` header line, pass \
                     --tenant UUID, or --as-owner",
                    query.name,
                    query.path.display()
                ),
            });
        };
        let sql = crate::sql::replace_placeholders(sql, |n| {
            exec::literal(params.values.get(n - 1).and_then(Option::as_deref))
        });
        let step = "finding the tenant of the parameters";
        let mut tx = self.client.transaction().db(step)?;
        let messages = tx
            .simple_query(&sql)
            .map_err(|e| query_db_error(query, step, e))?;
        tx.rollback().db(step)?;
        let tenant = messages.iter().find_map(|m| match m {
            SimpleQueryMessage::Row(r) => Some(r.get(0).map(str::to_string)),
            _ => None,
        });
        match tenant {
            Some(Some(tenant)) => {
                role::check_uuid(&tenant).map_err(|_| {
                    query_error(
                        query,
                        format!("{step}: its tenant SQL returned `{tenant}`, not a uuid"),
                    )
                })?;
                Ok(Some(tenant))
            }
            _ => Err(query_error(
                query,
                format!(
                    "{step}: its tenant SQL returned no tenant for {}",
                    params.display()
                ),
            )),
        }
    }

    /// Up to `limit` parameter sets for benchmarks, which rotate over them so that one cached row does
    /// not flatter the figure: the rows of the query's `-- sample:` SQL when it has one (in its
    /// deterministic order), else the one set its `params:` SQL picks. Fewer rows than `limit` is
    /// fine; none is an error.
    pub fn sample(&mut self, query: &Query, limit: usize) -> Result<Vec<Params>> {
        let Some(sql) = query.sample_sql.as_deref() else {
            return Ok(vec![self.params(query, &[])?]);
        };
        let rows = self.rows(query, sql, "sampling parameters", limit)?;
        if rows.is_empty() {
            return Err(query_error(
                query,
                "its sample SQL returned no row — is the dataset seeded?",
            ));
        }
        rows.into_iter()
            .map(|values| self.with_tenant(query, values))
            .collect()
    }

    /// Runs a parameter-picking SQL of `query` in a rolled-back transaction; each row holds one value
    /// per parameter. It runs as the connecting user, who sees every tenant's rows; with `--tenant`
    /// as the runner's role under that tenant, so that it picks values of that tenant.
    fn rows(
        &mut self,
        query: &Query,
        sql: &str,
        step: &str,
        limit: usize,
    ) -> Result<Vec<Vec<Option<String>>>> {
        let mut tx = match self.run_as.tenant.clone() {
            Some(tenant) => self.begin(step, Some(&tenant), None)?,
            None => self.client.transaction().db(step)?,
        };
        let messages = tx
            .simple_query(sql)
            .map_err(|e| query_db_error(query, step, e))?;
        let mut out = Vec::new();
        for row in messages.iter().filter_map(|m| match m {
            SimpleQueryMessage::Row(r) => Some(r),
            _ => None,
        }) {
            if row.len() < query.params.len() {
                return Err(query_error(
                    query,
                    format!(
                        "{step}: the SQL returns {} column(s) for {} parameter(s)",
                        row.len(),
                        query.params.len()
                    ),
                ));
            }
            out.push(
                (0..query.params.len())
                    .map(|i| row.get(i).map(str::to_string))
                    .collect(),
            );
            if out.len() == limit {
                break;
            }
        }
        tx.rollback().db(step)?;
        Ok(out)
    }

    /// Parses `query` once on the server as a named statement and checks its parameter count. Under
    /// a role, it is prepared under that role (in a rolled-back transaction; a prepared statement
    /// outlives it), so the plan cache entry is the one later executions under the role use: one
    /// prepared under another role would be re-planned at its first execution.
    pub fn prepare(&mut self, query: &Query) -> Result<Prepared> {
        let mut tx = self.begin("preparing", None, None)?;
        let prepared = Prepared::new(&mut tx, query)?;
        tx.rollback().db("preparing")?;
        Ok(prepared)
    }

    /// Opens a rolled-back transaction in `mode` for callers that drive executions themselves; under
    /// a role, with `app.tenant_id` set to `tenant` (each [`Executions::execute`] follows its
    /// parameter set's tenant).
    pub fn executions(&mut self, mode: Mode, tenant: Option<&str>) -> Result<Executions<'_>> {
        let as_role = self.run_as.role.is_some();
        let tenant = tenant.filter(|_| as_role).map(str::to_string);
        let tx = self.begin("starting a transaction", tenant.as_deref(), Some(mode))?;
        Ok(Executions {
            tx,
            as_role,
            tenant,
        })
    }

    /// Captures the plan of one execution, `EXPLAIN (ANALYZE, BUFFERS, SETTINGS, FORMAT JSON)`, after
    /// one warm-up execution so that buffers and timings describe a warm cache, as in production.
    pub fn explain(&mut self, prepared: &Prepared, params: &Params, mode: Mode) -> Result<Plan> {
        let query = prepared.query();
        let step = format!("{mode} plan");
        let citus = self.citus_explain()?;
        let mut tx = self.begin(&step, params.tenant.as_deref(), Some(mode))?;
        if citus {
            tx.batch_execute("SET LOCAL citus.explain_all_tasks = on")
                .db(format!("{step}: showing every Citus task"))?;
        }
        tx.query(prepared.statement(), &Bound::new(params).refs())
            .map_err(|e| query_db_error(query, &format!("{step}: executing"), e))?;
        let sql = format!(
            "EXPLAIN (ANALYZE, BUFFERS, SETTINGS, FORMAT JSON) {}",
            prepared.execute_sql(params)
        );
        let row = tx
            .query_one(sql.as_str(), &[])
            .map_err(|e| query_db_error(query, &format!("{step}: EXPLAIN ANALYZE"), e))?;
        let exec::JsonText(text) = row
            .try_get(0)
            .map_err(|e| query_db_error(query, &format!("{step}: reading EXPLAIN"), e))?;
        tx.rollback().db(step.as_str())?;
        crate::plan::parse_plan(&text).map_err(|e| {
            query_error(
                query,
                format!("{step}: cannot read the plan PostgreSQL returned: {e}"),
            )
        })
    }

    /// Latency of real executions (never EXPLAIN ANALYZE, whose per-node timing inflates it):
    /// `warmup` untimed executions, then `runs` timed Bind/Execute round trips, in one rolled-back
    /// transaction.
    pub fn time(
        &mut self,
        prepared: &Prepared,
        params: &Params,
        mode: Mode,
        warmup: usize,
        runs: usize,
    ) -> Result<Vec<Duration>> {
        let query = prepared.query();
        let bound = Bound::new(params);
        let mut run = self.executions(mode, params.tenant.as_deref())?;
        let mut samples = Vec::with_capacity(runs);
        for i in 0..warmup + runs {
            let start = Instant::now();
            run.execute(prepared, &bound).map_err(|e| {
                query_db_error(
                    query,
                    &format!("{mode} plan, {}: executing", params.display()),
                    e,
                )
            })?;
            if i >= warmup {
                samples.push(start.elapsed());
            }
        }
        run.tx.rollback().db("ending the timing transaction")?;
        Ok(samples)
    }

    /// Checks one query: picks its parameters, captures the custom and the generic plan of its
    /// prepared statement, and analyses both against its expectations.
    pub fn check(
        &mut self,
        query: &Query,
        overrides: &[(String, String)],
        partitions: &PartitionMap,
    ) -> Result<QueryCheck> {
        let params = self.params(query, overrides)?;
        let prepared = self.prepare(query)?;
        let custom = self.explain(&prepared, &params, Mode::Custom)?;
        let generic = match self.explain(&prepared, &params, Mode::Generic) {
            Err(e) if self.citus == Some(true) && citus_refuses_generic(&e) => None,
            generic => Some(generic?),
        };
        let Some(generic) = generic else {
            let mut checked =
                QueryCheck::analyse(query, params, custom.clone(), custom, partitions);
            checked.generic_refused(CITUS_NO_GENERIC);
            checked.role.clone_from(&self.run_as.role);
            return Ok(checked);
        };
        let mut checked = QueryCheck::analyse(query, params, custom, generic, partitions);
        checked.role.clone_from(&self.run_as.role);
        Ok(checked)
    }

    /// Every partition (table or index) with its direct parent, schema-qualified, read with the
    /// documented [`crate::plan::CATALOG_SQL`] (what `qcheck partitions` prints): plans name the
    /// leaves they scan and the leaf indexes they use, so tables and indexes are both mapped.
    pub fn partition_roots(&mut self) -> Result<BTreeMap<String, String>> {
        let row = self
            .client
            .query_one(crate::plan::CATALOG_SQL, &[])
            .db("reading the partition tree")?;
        let exec::JsonText(text) = row.try_get(0).db("reading the partition tree")?;
        serde_json::from_str(&text).map_err(|e| Error::Unexpected {
            what: "partition map",
            found: e.to_string(),
        })
    }

    /// The partition map of the connected database (tables and indexes).
    pub fn partition_map(&mut self) -> Result<PartitionMap> {
        Ok(PartitionMap::from_catalog(self.partition_roots()?))
    }
}

/// Why a query has no generic plan on Citus (see [`citus_refuses_generic`]).
pub const CITUS_NO_GENERIC: &str = "Citus refuses a generic plan of this query (`could not create \
     distributed plan`: it defers parameters only for a router query without a subquery); a \
     prepared statement keeps running custom plans there (pg_prepared_statements: 0 generic), so \
     the plan shown for generic is the custom plan";

/// Whether `e` is Citus refusing to plan a statement with unknown parameters (SQLSTATE 0A000,
/// `could not create distributed plan`): Citus plans a router query with a subquery, or a
/// multi-shard query, only with the values known; under `plan_cache_mode = auto` it keeps such a
/// prepared statement on custom plans, so an application never runs a generic plan of it.
fn citus_refuses_generic(e: &Error) -> bool {
    let Error::QueryDb { source, .. } = e else {
        return false;
    };
    source.as_db_error().is_some_and(|db| {
        *db.code() == postgres::error::SqlState::FEATURE_NOT_SUPPORTED
            && db
                .message()
                .starts_with("could not create distributed plan")
    })
}

/// A problem with a query as written (not a server error).
pub(crate) fn query_error(query: &Query, message: impl Into<String>) -> Error {
    Error::Query {
        name: query.name.clone(),
        path: query.path.clone(),
        message: message.into(),
    }
}

/// A server error while running a step of a query.
pub(crate) fn query_db_error(query: &Query, step: &str, source: postgres::Error) -> Error {
    Error::QueryDb {
        name: query.name.clone(),
        path: query.path.clone(),
        step: step.to_string(),
        source,
    }
}
