//! Who the runner runs a query as.
//!
//! By default the plans checked are the plans the *application* gets: every execution, EXPLAIN and
//! the `PREPARE` of the statement itself run after `SET LOCAL ROLE qcheck_app` (the role the
//! migrations create and the README tells applications to be members of) and `SET LOCAL
//! app.tenant_id = '<tenant>'`, the tenant the query's parameters belong to (its `-- tenant:` SQL),
//! inside the runner's rolled-back transactions. Row-level security then adds its policy quals to
//! the plan exactly as for an application's connection. `--as-owner` keeps the connecting user as
//! connected (on the embedded cluster a superuser: RLS bypassed), `--as-role ROLE` names another
//! role (e.g. the application's own login role), `--tenant UUID` one tenant for every query.
//!
//! Why `SET LOCAL ROLE qcheck_app` and not a login role: a member of `qcheck_app` gets its privileges
//! and nothing else from it, the policies apply to every role that neither owns the tables nor has
//! BYPASSRLS, and a plan depends on the role only through RLS and privileges, so the plans are the
//! ones any member gets. Why per transaction and before `PREPARE`: PostgreSQL applies the policies
//! when it rewrites the statement and records the role it did so for; a prepared statement executed
//! under another role is silently re-planned, so preparing it under the same role is what makes the
//! plan cache entry checked the one that runs. `app.tenant_id` is read when the policy's qual runs
//! (`app_tenant_id()` is STABLE), so one prepared statement serves every tenant, as in an
//! application's connection pool.
//!
//! On a Citus coordinator the role must be able to log in: Citus opens its connections to the
//! workers as the current role, so a task run under `SET ROLE qcheck_app` (`NOLOGIN`) fails on the
//! worker with "role is not permitted to log in". There the default is a login member of
//! `qcheck_app` (plans depend on the role only through its policies and privileges, which members
//! share); without one, and for a `--as-role` that cannot log in, qcheck stops before running
//! anything and says how to create one ([`CITUS_LOGIN_HINT`]).

use postgres::Client;
use serde::Serialize;

use crate::error::{DbContext, Error, Result};
use crate::schema::{APP_ROLE, quote_ident};

/// What to do when no role that can log in to the Citus workers is known.
pub const CITUS_LOGIN_HINT: &str = "on Citus the queries run as a role that can log in, because \
     Citus connects to the workers as the current role: create a login member of qcheck_app \
     (CREATE ROLE qcheck_citus_app LOGIN IN ROLE qcheck_app) or name your application's login role \
     with --as-role ROLE, or pass --as-owner";

/// What the command line asks for (`--as-owner`, `--as-role`, `--tenant`), before it is checked
/// against the database.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunAsRequest {
    /// `--as-owner`: run as the connecting user, as connected.
    pub as_owner: bool,
    /// `--as-role ROLE`.
    pub role: Option<String>,
    /// `--tenant UUID`: this tenant for every query.
    pub tenant: Option<String>,
}

/// Why the queries run as they do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Chosen {
    /// `--as-owner`.
    AsOwner,
    /// `--as-role`.
    AsRole,
    /// The default on a database holding qcheck's model: its application role.
    AppRole,
    /// The default elsewhere: no application role is known, the connecting user as connected.
    NoAppRole,
}

/// The identity queries run as, checked against the connected database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunAs {
    /// The role every statement runs under (`SET LOCAL ROLE`); `None`: the connecting user as
    /// connected.
    pub role: Option<String>,
    /// One `app.tenant_id` for every query (`--tenant`); `None` with a role: each query's
    /// `-- tenant:` SQL names it.
    pub tenant: Option<String>,
    /// The connecting user (`session_user`), when known.
    pub session_user: Option<String>,
    /// Whether row-level security applies to the plans (`row_security_active('appointment')` under
    /// the role, tenant set), when the database holds qcheck's model; `None` elsewhere.
    pub rls: Option<bool>,
    /// Why.
    pub chosen: Chosen,
}

impl RunAs {
    /// The connecting user as connected, without looking at the database (for catalog reads).
    pub fn connected() -> RunAs {
        RunAs {
            role: None,
            tenant: None,
            session_user: None,
            rls: None,
            chosen: Chosen::AsOwner,
        }
    }

    /// Checks `req` against the database: the role exists and the connecting user may `SET ROLE` to
    /// it; without `--as-owner`/`--as-role`, the application role when the database holds qcheck's
    /// model (its migrations and the `qcheck_app` role), else the connecting user.
    pub fn resolve(client: &mut Client, req: &RunAsRequest) -> Result<RunAs> {
        let row = client
            .query_one(
                "SELECT session_user::text, to_regrole($1) IS NOT NULL,
                        to_regclass('qcheck_migration') IS NOT NULL AND to_regclass('appointment') IS NOT NULL,
                        EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus')",
                &[&APP_ROLE],
            )
            .db("finding the role to run the queries as")?;
        let (user, app_role_exists, model, citus): (String, bool, bool, bool) =
            (row.get(0), row.get(1), row.get(2), row.get(3));
        if let Some(tenant) = &req.tenant {
            check_uuid(tenant)?;
        }
        let (role, chosen) = if req.as_owner {
            (None, Chosen::AsOwner)
        } else if let Some(role) = &req.role {
            (Some(role.clone()), Chosen::AsRole)
        } else if app_role_exists && model {
            (Some(APP_ROLE.to_string()), Chosen::AppRole)
        } else {
            (None, Chosen::NoAppRole)
        };
        if role.is_none() && req.tenant.is_some() {
            return Err(Error::Usage(format!(
                "--tenant sets app.tenant_id for a role under row-level security, but the queries \
                 run as the connecting user {user} (no `{APP_ROLE}` role and qcheck model in this \
                 database): name the application's role with --as-role ROLE"
            )));
        }
        let role = match role {
            Some(role) if citus => Some(citus_login(client, role, chosen)?),
            role => role,
        };
        let rls = match &role {
            Some(role) => probe(client, role, req.tenant.as_deref(), model)?,
            None if model => Some(
                client
                    .query_one("SELECT row_security_active('appointment')", &[])
                    .db("checking row-level security")?
                    .get(0),
            ),
            None => None,
        };
        Ok(RunAs {
            role,
            tenant: req.tenant.clone(),
            session_user: Some(user),
            rls,
            chosen,
        })
    }

    /// One line for reports: `role qcheck_app (row-level security on), app.tenant_id = the tenant of
    /// each query's parameters`.
    pub fn describe(&self) -> String {
        let user = self
            .session_user
            .as_deref()
            .unwrap_or("the connecting user");
        let rls = match self.rls {
            Some(true) => " (row-level security on)",
            Some(false) => " (row-level security bypassed)",
            None => "",
        };
        match (&self.role, self.chosen) {
            (Some(role), _) => format!(
                "as role {role}{rls}, app.tenant_id = {}",
                self.tenant.as_deref().map_or_else(
                    || "the tenant of each query's parameters".to_string(),
                    str::to_string
                )
            ),
            (None, Chosen::NoAppRole) => format!(
                "as the connecting user {user}{rls}: no application role is known here; pass \
                 --as-role ROLE (and --tenant) to check the plans your application gets"
            ),
            (None, _) => format!("as the connecting user {user}{rls} (--as-owner)"),
        }
    }

    /// `SET LOCAL ROLE …; SET LOCAL app.tenant_id = …;` for a transaction running as this identity
    /// with `tenant` (empty when running as the connecting user).
    pub(super) fn set_local(&self, tenant: Option<&str>) -> String {
        let Some(role) = &self.role else {
            return String::new();
        };
        let mut sql = format!("SET LOCAL ROLE {};", quote_ident(role));
        if let Some(tenant) = tenant {
            sql.push_str(&format!(
                " SET LOCAL app.tenant_id = {};",
                super::exec::literal(Some(tenant))
            ));
        }
        sql
    }
}

/// On a Citus coordinator, the role to run as that can log in to the workers: `role` itself when it
/// can, else (the default application role only) its first login member by name that neither is a
/// superuser nor bypasses row-level security, so that the plans are the application's.
fn citus_login(client: &mut Client, role: String, chosen: Chosen) -> Result<String> {
    let row = client
        .query_opt(
            "SELECT r.rolcanlogin,
                    (SELECT m.rolname FROM pg_auth_members a JOIN pg_roles m ON m.oid = a.member
                      WHERE a.roleid = r.oid AND m.rolcanlogin AND NOT m.rolsuper AND NOT m.rolbypassrls
                      ORDER BY m.rolname LIMIT 1)
               FROM pg_roles r WHERE r.rolname = $1",
            &[&role],
        )
        .db("looking for a role that can log in to the Citus workers")?;
    let Some(row) = row else {
        // A role that does not exist: `probe` says so.
        return Ok(role);
    };
    let (can_login, member): (bool, Option<String>) = (row.get(0), row.get(1));
    match (can_login, member) {
        (true, _) => Ok(role),
        (false, Some(member)) if chosen == Chosen::AppRole => Ok(member),
        _ => Err(Error::RunAs {
            role,
            message: format!("it cannot log in; {CITUS_LOGIN_HINT}"),
        }),
    }
}

/// `SET LOCAL ROLE role` in a rolled-back transaction: whether the connecting user may, and whether
/// row-level security is then active on the model's appointment table.
fn probe(
    client: &mut Client,
    role: &str,
    tenant: Option<&str>,
    model: bool,
) -> Result<Option<bool>> {
    let exists: bool = client
        .query_one("SELECT to_regrole($1) IS NOT NULL", &[&role])
        .db("looking up the role")?
        .get(0);
    if !exists {
        return Err(Error::RunAs {
            role: role.to_string(),
            message: if role == APP_ROLE {
                "the role does not exist on this server; `qcheck migrate` creates it, or pass --as-owner"
                    .to_string()
            } else {
                "the role does not exist on this server".to_string()
            },
        });
    }
    let mut tx = client.transaction().db("starting a transaction")?;
    let as_role = RunAs {
        role: Some(role.to_string()),
        tenant: None,
        session_user: None,
        rls: None,
        chosen: Chosen::AsRole,
    };
    if let Err(e) = tx.batch_execute(&as_role.set_local(tenant)) {
        return Err(Error::RunAs {
            role: role.to_string(),
            message: format!(
                "{}; grant it to the connecting user (GRANT {} TO <user>), connect as one of its \
                 members, or pass --as-owner",
                crate::error::db_message(&e),
                quote_ident(role)
            ),
        });
    }
    let rls = if model {
        Some(
            tx.query_one("SELECT row_security_active('appointment')", &[])
                .db("checking row-level security")?
                .get(0),
        )
    } else {
        None
    };
    tx.rollback().db("ending the role check")?;
    Ok(rls)
}

/// `--tenant` and the `-- tenant:` SQL's values must be uuids (`app_tenant_id()` casts to uuid).
pub(super) fn check_uuid(text: &str) -> Result<()> {
    let hex = text.chars().filter(|c| *c != '-').collect::<String>();
    if hex.len() == 32 && hex.chars().all(|c| c.is_ascii_hexdigit()) {
        Ok(())
    } else {
        Err(Error::Usage(format!(
            "tenant `{text}` is not a uuid (app.tenant_id holds a tenant's id)"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_local_quotes_the_role_and_the_tenant() {
        let run_as = RunAs {
            role: Some("App \"x\"".into()),
            tenant: None,
            session_user: None,
            rls: None,
            chosen: Chosen::AsRole,
        };
        assert_eq!(
            run_as.set_local(Some("o'x")),
            "SET LOCAL ROLE \"App \"\"x\"\"\"; SET LOCAL app.tenant_id = 'o''x';"
        );
        assert_eq!(RunAs::connected().set_local(Some("t")), "");
    }

    #[test]
    fn tenants_are_uuids() {
        assert!(check_uuid("04bd7994-72c2-4cad-85f2-9730490872d3").is_ok());
        assert!(check_uuid("04bd799472c24cad85f29730490872d3").is_ok());
        assert!(check_uuid("acme").is_err());
        assert!(check_uuid("04bd7994-72c2-4cad-85f2-9730490872dz").is_err());
    }

    #[test]
    fn descriptions_say_who_and_which_tenant() {
        let mut run_as = RunAs {
            role: Some(APP_ROLE.into()),
            tenant: None,
            session_user: Some("postgres".into()),
            rls: Some(true),
            chosen: Chosen::AppRole,
        };
        assert_eq!(
            run_as.describe(),
            "as role qcheck_app (row-level security on), app.tenant_id = the tenant of each query's parameters"
        );
        run_as.tenant = Some("t1".into());
        assert!(run_as.describe().ends_with("app.tenant_id = t1"));
        let owner = RunAs {
            role: None,
            tenant: None,
            session_user: Some("postgres".into()),
            rls: Some(false),
            chosen: Chosen::AsOwner,
        };
        assert_eq!(
            owner.describe(),
            "as the connecting user postgres (row-level security bypassed) (--as-owner)"
        );
    }
}
