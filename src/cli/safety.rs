//! What qcheck may write where: on a server the user named (`Target::Server`), `check`, `explain` and
//! `compare` write nothing to prepare the data (a missing dataset is an error naming the `qcheck seed`
//! command to run); `seed` and `migrate` name the target before writing and refuse a database holding
//! tables that are not qcheck's unless `--yes` is given; `migrate down` asks for `--yes` before it
//! drops rows.

use postgres::Client;

use super::Global;
use super::args::DatasetArgs;
use crate::db::{Session, Target};
use crate::error::{Error, Result};
use crate::generate::{self, DatasetLock, SeedRequest};
use crate::schema;

/// How many names a message lists before "and N more".
const LISTED: usize = 5;

/// How a command uses the dataset, and so which dataset lock it holds for its whole run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum DatasetUse {
    /// `check`, `explain`: reads the dataset under the requested strategy; holds the lock shared.
    Read,
    /// `compare`: swaps strategies (any recorded one will do); holds the lock exclusively.
    Compare,
}

/// Makes sure the database holds the requested dataset (with its strategy and exactly its indexes
/// for [`DatasetUse::Read`]) and returns the dataset lock the command holds until it is done, so no
/// other process replaces the dataset meanwhile. On a server the user named, fails unless it is
/// there; the error says what is there and the `qcheck seed` command to run. On the embedded
/// cluster, seeds or repairs it when needed (qcheck's own database, one command as always), saying
/// what it repaired; `compare` seeds under its lock itself.
pub(super) fn require_dataset(
    g: &Global,
    session: &Session,
    request: &SeedRequest,
    dataset: &DatasetArgs,
    strategy: &str,
    usage: DatasetUse,
) -> Result<DatasetLock> {
    let embedded = matches!(session.target, Target::Embedded(_));
    let mut lock = match usage {
        DatasetUse::Read if embedded => {
            let (lock, outcome) = generate::hold_dataset(session, request, &g.progress())?;
            for repair in outcome.iter().flat_map(|o| &o.repairs) {
                eprintln!("qcheck: {repair}");
            }
            return Ok(lock);
        }
        DatasetUse::Read => {
            DatasetLock::shared(session, &format!("reading {}", request.describe()))?
        }
        DatasetUse::Compare => {
            let purpose = format!("comparing strategies on {}", request.describe_data());
            let lock = DatasetLock::exclusive(session, &purpose)?;
            if embedded {
                return Ok(lock);
            }
            lock
        }
    };
    let with_strategy = usage == DatasetUse::Read;
    let Some(there) = generate::dataset_mismatch(lock.client(), request, with_strategy)? else {
        return Ok(lock);
    };
    let asked = format!(
        "the dataset {}{}",
        request.describe_data(),
        if with_strategy {
            format!(" with index strategy {}", request.strategy)
        } else {
            String::new()
        }
    );
    Err(Error::Dataset(format!(
        "{} holds {there}, not {asked}; qcheck writes to your server only when asked: run {} \
         (it names the server it writes to), then this command again",
        session.target.describe(),
        seed_command(g, dataset, strategy)
    )))
}

/// The `qcheck seed` command that seeds `dataset` under `strategy` on the same target, as one shell
/// line. A URL given with `--database-url` is repeated without its password; one whose password
/// cannot be cut out is referred to as "the same --database-url".
pub(super) fn seed_command(g: &Global, dataset: &DatasetArgs, strategy: &str) -> String {
    let mut cmd = format!(
        "`qcheck seed --profile {} --scale {} --seed {} --strategy {}",
        shell_quote(&dataset.profile),
        dataset.scale,
        dataset.seed,
        shell_quote(strategy)
    );
    let from_env = g.database_url.is_some()
        && std::env::var("DATABASE_URL").ok().as_deref() == g.database_url.as_deref();
    match g.database_url.as_deref().filter(|u| !u.trim().is_empty()) {
        Some(url) if !from_env => match without_password(url) {
            Some(url) => {
                cmd.push_str(" --database-url ");
                cmd.push_str(&single_quote(&url));
                cmd.push('`');
            }
            None => cmd.push_str("` with the same --database-url"),
        },
        _ => cmd.push('`'),
    }
    cmd
}

/// `url` without the password of a `postgres[ql]://user:password@...` URL; `None` when a password
/// remains that cannot be cut out (a `password=` keyword or parameter).
fn without_password(url: &str) -> Option<String> {
    let url = url.trim();
    let out = match ["postgresql://", "postgres://"]
        .iter()
        .find_map(|scheme| url.strip_prefix(scheme).map(|rest| (*scheme, rest)))
    {
        Some((scheme, rest)) => {
            let end = rest.find(['/', '?']).unwrap_or(rest.len());
            let (authority, tail) = rest.split_at(end);
            let authority = match authority.rsplit_once('@') {
                Some((userinfo, hosts)) => {
                    let user = userinfo.split_once(':').map_or(userinfo, |(u, _)| u);
                    format!("{user}@{hosts}")
                }
                None => authority.to_string(),
            };
            format!("{scheme}{authority}{tail}")
        }
        None => url.to_string(),
    };
    (!out.to_ascii_lowercase().contains("password")).then_some(out)
}

/// `s` as one shell word: as is when it is plain, else in single quotes.
fn shell_quote(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@,+".contains(c));
    if plain {
        s.to_string()
    } else {
        single_quote(s)
    }
}

/// `s` in single quotes for a POSIX shell.
fn single_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// Before `seed` or `migrate` write: refuses a database holding tables qcheck did not create unless
/// `yes`, then prints the target on stderr.
pub(super) fn before_writing(
    target: &Target,
    client: &mut Client,
    action: &str,
    yes: bool,
) -> Result<()> {
    let foreign = schema::foreign_tables(client)?;
    if !foreign.is_empty() && !yes {
        return Err(Error::Usage(format!(
            "{} holds tables that are not qcheck's ({}), so it looks like a database in use: \
             qcheck would add its own tables and data next to them; nothing was changed — point \
             qcheck at an empty database, or pass --yes to {action} there anyway",
            target.describe(),
            listed(&foreign)
        )));
    }
    eprintln!("qcheck: {action} on {}", target.describe());
    Ok(())
}

/// Before `migrate down`: refuses, unless `yes`, when qcheck's tables hold rows.
pub(super) fn before_dropping(target: &Target, client: &mut Client, yes: bool) -> Result<()> {
    let rows = schema::data_rows(client)?;
    if !rows.is_empty() && !yes {
        let counts: Vec<String> = rows
            .iter()
            .map(|(t, n)| format!("{t} {}", crate::report::fmt::count_u64(n.unsigned_abs())))
            .collect();
        return Err(Error::Usage(format!(
            "migrate down would delete the rows of qcheck's tables on {} ({}); nothing was \
             changed — pass --yes to revert the migrations and delete them",
            target.describe(),
            counts.join(", ")
        )));
    }
    eprintln!("qcheck: reverting migrations on {}", target.describe());
    Ok(())
}

/// `a, b, c, d, e and 3 more`.
fn listed(names: &[String]) -> String {
    let shown = names[..names.len().min(LISTED)].join(", ");
    if names.len() > LISTED {
        format!("{shown} and {} more", names.len() - LISTED)
    } else {
        shown
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_cut_out_of_urls() {
        assert_eq!(
            without_password("postgresql://alice:s3cret@db:5432/app?sslmode=disable").as_deref(),
            Some("postgresql://alice@db:5432/app?sslmode=disable")
        );
        assert_eq!(
            without_password("postgres://bob@db/app").as_deref(),
            Some("postgres://bob@db/app")
        );
        assert_eq!(without_password("host=db password=x dbname=app"), None);
        assert_eq!(without_password("postgresql://db/app?password=x"), None);
        assert_eq!(shell_quote("tiny"), "tiny");
        assert_eq!(shell_quote("my file.toml"), "'my file.toml'");
        assert_eq!(shell_quote("a'b"), r"'a'\''b'");
    }
}
