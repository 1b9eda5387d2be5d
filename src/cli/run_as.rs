//! `--as-owner`, `--as-role ROLE`, `--tenant UUID`: who `check`, `explain` and `compare` run the
//! queries as (see [`crate::runner::role`]). One definition, flattened into each command.

use clap::Args;

use crate::runner::RunAsRequest;

/// Who the queries run as. Default: the application — role `qcheck_app` with `app.tenant_id` set to
/// the tenant of each query's parameters — on a database holding qcheck's model; elsewhere the
/// connecting user (say `--as-role` to check as your application).
#[derive(Debug, Clone, Default, Args)]
pub struct RunAsArgs {
    /// Run the queries as the connecting user, as connected, instead of as the application (the
    /// embedded cluster's user is a superuser: row-level security is bypassed).
    #[arg(long, conflicts_with_all = ["as_role", "tenant"])]
    pub as_owner: bool,
    /// Run the queries as this role (SET LOCAL ROLE; the connecting user must be a member or a
    /// superuser), e.g. your application's login role. Default: qcheck_app on a database holding
    /// qcheck's model.
    #[arg(long, value_name = "ROLE")]
    pub as_role: Option<String>,
    /// Set app.tenant_id to this tenant for every query; their params:/sample: SQL then runs as the
    /// role under this tenant, so it picks this tenant's rows. Default: the tenant of each query's
    /// parameters (its `-- tenant:` SQL).
    #[arg(long, value_name = "UUID")]
    pub tenant: Option<String>,
}

impl RunAsArgs {
    /// The runner's request.
    pub fn request(&self) -> RunAsRequest {
        RunAsRequest {
            as_owner: self.as_owner,
            role: self.as_role.clone(),
            tenant: self.tenant.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct One {
        #[command(flatten)]
        run_as: RunAsArgs,
    }

    #[test]
    fn as_owner_excludes_a_role_and_a_tenant() {
        let parse =
            |args: &[&str]| One::try_parse_from(std::iter::once("x").chain(args.iter().copied()));
        assert_eq!(
            parse(&[]).unwrap().run_as.request(),
            RunAsRequest::default()
        );
        assert!(parse(&["--as-owner"]).unwrap().run_as.request().as_owner);
        let r = parse(&["--as-role", "app", "--tenant", "t"])
            .unwrap()
            .run_as
            .request();
        assert_eq!(
            (r.role.as_deref(), r.tenant.as_deref()),
            (Some("app"), Some("t"))
        );
        assert!(parse(&["--as-owner", "--as-role", "app"]).is_err());
        assert!(parse(&["--as-owner", "--tenant", "t"]).is_err());
    }
}
