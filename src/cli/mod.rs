//! The command line: argument definitions (clap derive) and one function per command.
//!
//! Commands print their result on stdout in the chosen `--format`; progress and notes go to stderr so
//! that `--format json` output can be piped. Errors are returned, never printed here: `main` prints
//! them on one line and exits 2.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::db::TargetOptions;
use crate::error::Result;
use crate::report::Format;
use crate::schema;

mod args;
mod check;
mod cluster;
mod compare;
mod diff;
mod docs;
mod migrate;
mod partitions;
mod run_as;
mod safety;
mod seed;
mod versions;

const ABOUT: &str =
    "Prove that a PostgreSQL schema's hot queries get the plans they were designed for.";

const LONG_ABOUT: &str = "\
qcheck ships an executable multi-tenant appointment schema, seeds it at production scale, runs its hot \
queries under EXPLAIN (ANALYZE, BUFFERS) and checks the plans against declared expectations.

By default it runs its own PostgreSQL (found on this machine, started on a private Unix socket in \
QCHECK_HOME, no TCP). Point it at your own server with --database-url or the libpq PG* variables.";

const EXAMPLES: &str = "\
Examples:
  qcheck check                         seed the default dataset, check the ten queries (the CI gate)
  qcheck check --format junit > qcheck.xml     a JUnit report for CI
  qcheck explain --query provider_day  one plan in depth: tree, verdicts, tips
  psql \"$(qcheck cluster url)\"         open psql on the embedded cluster
  qcheck --database-url postgresql://me@db:5432/scratch migrate
  qcheck completions bash > ~/.local/share/bash-completion/completions/qcheck

Exit codes: 0 success, 1 an expectation failed, 2 usage, input or environment error (a statement \
stopped by --statement-timeout included), 130 interrupted (Ctrl-C), 143 terminated (SIGTERM).";

/// The parsed command line: global options and one command.
#[derive(Debug, Parser)]
#[command(name = "qcheck", version, about = ABOUT, long_about = LONG_ABOUT, after_help = EXAMPLES)]
pub struct Cli {
    /// Options every command accepts.
    #[command(flatten)]
    pub global: Global,
    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command accepts (`--database-url`, `--pg-bin-dir`, `--home`, `--format`).
#[derive(Debug, Args)]
pub struct Global {
    /// Use this server instead of the embedded one (libpq URL or 'host=... dbname=...'), resolved as
    /// psql would: PGHOST, PGPORT, PGDATABASE, PGUSER or PGSERVICE also select a server; PGPASSWORD,
    /// ~/.pgpass, PGSSLMODE (sslmode=verify-full&sslrootcert=ca.pem for TLS), PGAPPNAME apply.
    #[arg(long, env = "DATABASE_URL", global = true, hide_env_values = true)]
    pub database_url: Option<String>,

    /// Folder holding the PostgreSQL server binaries (initdb, pg_ctl, postgres) for the embedded
    /// cluster. Default: pg_config --bindir, then PATH, then the newest /usr/lib/postgresql/*/bin.
    /// `check` takes it more than once (one folder per major version): the same dataset is
    /// checked on each, with the plan differences between the versions.
    #[arg(long, env = "QCHECK_PG_BIN", global = true, value_name = "DIR")]
    pub pg_bin_dir: Vec<PathBuf>,

    /// Where the embedded cluster and cached datasets live.
    /// Default: ~/.cache/qcheck (root: /var/cache/qcheck).
    #[arg(long, env = "QCHECK_HOME", global = true, value_name = "DIR")]
    pub home: Option<PathBuf>,

    /// Run on an embedded Citus cluster: a coordinator and N workers under the home
    /// (`<home>/citus-<N>w`), the model distributed by tenant. Needs the Citus extension
    /// (../shared/vendor/install-citus.sh). For your own Citus cluster use --database-url with its
    /// coordinator instead.
    #[arg(long, env = "QCHECK_CITUS_WORKERS", global = true, value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..=i64::from(crate::topology::MAX_WORKERS)))]
    pub citus_workers: Option<u32>,

    /// Output format. junit and github report expectation verdicts: check and explain only.
    #[arg(long, default_value_t = Format::Table, global = true, value_parser = format_parser())]
    pub format: Format,

    /// Longest any one statement qcheck sends may run on the server (`500ms`, `30s`, `5min`, `1h`;
    /// `0` for none), set as `statement_timeout` on every connection: the queries run, their
    /// `params:`/`sample:` SQL, compare's write probe and every check qcheck makes. Exempt, because
    /// they legitimately take minutes at scale: seeding, migrations and index builds, and the
    /// VACUUM, CHECKPOINT and ANALYZE of `compare`. A statement it stops fails with exit 2.
    #[arg(
        long,
        global = true,
        default_value = "60s",
        value_name = "DURATION",
        value_parser = args::parse_timeout
    )]
    pub statement_timeout: std::time::Duration,
}

/// `--format`: the names of [`Format`] with their descriptions (listed by `--help`), parsed by
/// `Format::from_str` — the report module itself knows nothing of clap.
fn format_parser() -> impl clap::builder::TypedValueParser<Value = Format> {
    use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
    PossibleValuesParser::new(
        Format::ALL.map(|f| PossibleValue::new(f.name()).help(f.description())),
    )
    .try_map(|name| name.parse::<Format>())
}

impl Global {
    /// The server selection these options ask for.
    pub fn target_options(&self) -> TargetOptions {
        TargetOptions {
            database_url: self.database_url.clone(),
            pg_bin_dir: self.pg_bin_dir.first().cloned(),
            home: self.home.clone(),
            citus_workers: self.citus_workers,
        }
    }

    /// How text output is laid out: [`terminal_width`], colour on a terminal unless `NO_COLOR`.
    pub fn layout(&self) -> crate::report::Layout {
        use std::io::IsTerminal;
        crate::report::Layout {
            width: terminal_width(),
            color: std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
        }
    }

    /// Progress on stderr: quiet when stdout carries JSON (a pipe reads it), bars on a terminal.
    pub fn progress(&self) -> crate::progress::Progress {
        use crate::progress::{Progress, ProgressMode};
        Progress::new(if self.format == Format::Json {
            ProgressMode::Quiet
        } else {
            ProgressMode::Auto
        })
    }
}

/// Columns text output may take: `COLUMNS` when set (at least
/// [`MIN_WIDTH`](crate::report::text::MIN_WIDTH)), else the width of the terminal stdout is, else
/// [`DEFAULT_WIDTH`](crate::report::text::DEFAULT_WIDTH) (a pipe, a CI log).
pub fn terminal_width() -> usize {
    use crate::report::text::{DEFAULT_WIDTH, MIN_WIDTH};
    if let Some(n) = std::env::var("COLUMNS")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|n| *n > 0)
    {
        return n.max(MIN_WIDTH);
    }
    match terminal_size::terminal_size_of(std::io::stdout()) {
        Some((terminal_size::Width(w), _)) if w > 0 => usize::from(w).max(MIN_WIDTH),
        _ => DEFAULT_WIDTH,
    }
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Manage the embedded PostgreSQL cluster.
    #[command(
        subcommand,
        after_help = "Examples:
  qcheck cluster status
  psql \"$(qcheck cluster url)\"
  qcheck cluster url --format json
  qcheck cluster stop
  qcheck cluster destroy           # delete the cluster and every cached dataset"
    )]
    Cluster(ClusterCommand),
    /// Apply, revert or inspect the schema migrations (default: up).
    #[command(after_help = "Examples:
  qcheck migrate                       apply the schema to the embedded PostgreSQL
  qcheck migrate status --format json  what is applied, machine-readable
  qcheck --database-url postgresql://me@db:5432/scratch migrate
  qcheck migrate down --yes            remove every qcheck object, with the dataset")]
    Migrate {
        /// Go ahead on a database holding tables that are not qcheck's (up), or delete the rows of
        /// qcheck's tables (down).
        #[arg(long, global = true)]
        yes: bool,
        /// What to do; `None` applies pending migrations (as `up`).
        #[command(subcommand)]
        action: Option<MigrateCommand>,
    },
    /// Seed the dataset (deterministic; an unchanged request is not seeded again).
    #[command(after_help = "Examples:
  qcheck seed                                  clinic, scale 1, seed 42 (about 1,000,000 appointments)
  qcheck seed --profile tiny                   a few thousand rows, seconds
  qcheck seed --profile my-profile.toml --scale 0.1 --seed 7
  qcheck seed --force --timings                seed again and print the load figures")]
    Seed(seed::SeedArgs),
    /// List the hot queries: what each answers, its parameters, its expectations.
    #[command(after_help = "Examples:
  qcheck list
  qcheck list --format markdown
  qcheck list --queries ./my-queries --format json")]
    List {
        /// Where the queries come from.
        #[command(flatten)]
        source: args::QuerySource,
    },
    /// Explain one query: plan tree, expectation verdicts, tips (on the embedded cluster, seeds the dataset first if needed).
    #[command(after_help = "Examples:
  qcheck explain --query provider_day
  qcheck explain --query provider_day --generic --save-plan day.json
  qcheck explain --query provider_day --param day=2026-03-02
  qcheck explain --plan prod-plan.json --expect-from sql/queries/provider_day.sql
  qcheck explain --query provider_day --format github   annotations for GitHub Actions")]
    Explain(check::ExplainArgs),
    /// Check every query's plans against its expectations: the CI gate (exit 0 pass, 1 fail, 2 error).
    #[command(after_help = "Examples:
  qcheck check
  qcheck check --query provider_day --query patient_by_mrn
  qcheck check --profile tiny --format json
  qcheck check --save-baseline baseline.json     # commit it
  qcheck check --baseline baseline.json          # exit 1 when a plan changed
  qcheck check --format junit > qcheck-junit.xml
  qcheck check --format github                   # annotations + job summary in GitHub Actions
  qcheck --database-url postgresql://me@db/app check --queries ./my-queries")]
    Check(check::CheckArgs),
    /// Compare two baselines (check --save-baseline) or two plan files (--save-plan, EXPLAIN
    /// JSON, pasted psql output): per query and plan mode, what changed, with a tree diff (exit 0
    /// same, 1 changed, 2 error).
    #[command(after_help = "Examples:
  qcheck diff pg15.json pg18.json                  # two baselines
  qcheck diff day-before.json day-after.json       # two plans saved with --save-plan
  qcheck diff prod.json staging.json --partitions partitions.json
  qcheck diff a.json b.json --buffers-threshold 2x+100 --format markdown")]
    Diff(diff::DiffArgs),
    /// Compare index strategies on the same data: plans, verdicts, latency, index size, write cost ->
    /// report.md, report.html, report.json (exit 0: a report is not a gate).
    #[command(after_help = "Examples:
  qcheck compare --strategy fk-only --strategy tuned
  qcheck compare --strategy tuned --strategy tuned-no-include --query provider_day --out day-report
  qcheck compare --profile tiny --runs 50 --format json")]
    Compare(compare::CompareArgs),
    /// Print a database's partition map (partition -> parent, tables and indexes) as JSON, for
    /// `explain --plan FILE --partitions MAP` on plans captured there.
    #[command(after_help = "Examples:
  qcheck --database-url postgresql://me@prod/app partitions > partitions.json
  qcheck partitions --sql          # the query, to run with psql -XAt where qcheck is not installed
  qcheck explain --plan prod.json --partitions partitions.json --expect-from q.sql")]
    Partitions(partitions::PartitionsArgs),
    /// Print a shell completion script for SHELL on stdout.
    #[command(after_help = "Examples:
  qcheck completions bash > ~/.local/share/bash-completion/completions/qcheck
  qcheck completions zsh > ~/.zfunc/_qcheck        # with fpath+=~/.zfunc in ~/.zshrc
  qcheck completions fish > ~/.config/fish/completions/qcheck.fish")]
    Completions {
        /// The shell to complete for.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print qcheck's man page (roff) on stdout, or write one page per command into a folder.
    #[command(after_help = "Examples:
  qcheck man | man -l -
  qcheck man --dir /usr/local/share/man/man1      # qcheck.1, qcheck-check.1, ...")]
    Man {
        /// Write qcheck.1 and a page per command (qcheck-check.1, ...) into this folder.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
}

/// `qcheck cluster` actions.
#[derive(Debug, Subcommand)]
pub enum ClusterCommand {
    /// Where the cluster lives, its version, whether it runs (every node with --citus-workers).
    #[command(after_help = "Examples:
  qcheck cluster status
  qcheck cluster status --format json
  qcheck --citus-workers 2 cluster status")]
    Status,
    /// Start the cluster (if needed) and print a libpq connection URL: psql "$(qcheck cluster url)".
    #[command(after_help = "Examples:
  psql \"$(qcheck cluster url)\"
  qcheck cluster url --format json     {\"schema_version\": 1, \"url\": \"postgresql://...\"}")]
    Url,
    /// Start the cluster and leave it running.
    #[command(after_help = "Examples:
  qcheck cluster start && psql \"$(qcheck cluster url)\"")]
    Start,
    /// Stop the cluster.
    #[command(after_help = "Examples:
  qcheck cluster stop      # in use by other qcheck processes: the last of them stops it")]
    Stop,
    /// Stop the cluster and delete its folder, with every dataset in it.
    #[command(after_help = "Examples:
  qcheck cluster destroy   # the next command initdb's a new cluster and seeds again")]
    Destroy,
}

/// `qcheck migrate` actions.
#[derive(Debug, Subcommand)]
pub enum MigrateCommand {
    /// Apply pending migrations, then the index strategy (unless --no-indexes).
    #[command(after_help = "Examples:
  qcheck migrate up
  qcheck migrate up --strategy fk-only
  qcheck migrate up --no-indexes")]
    Up {
        /// Index strategy to apply after the migrations (see sql/strategies).
        #[arg(long, default_value = schema::DEFAULT_STRATEGY)]
        strategy: String,
        /// Apply only the migrations, no secondary indexes.
        #[arg(long)]
        no_indexes: bool,
    },
    /// Revert migrations, newest first. Without --to, reverts all and removes every qcheck object (the
    /// qcheck_app role stays while roles are members of it). Needs --yes while qcheck's tables hold rows.
    #[command(after_help = "Examples:
  qcheck migrate down --yes          # everything, with the dataset
  qcheck migrate down --to 1 --yes   # keep migration 0001")]
    Down {
        /// Keep migrations up to this version.
        #[arg(long, default_value_t = 0, value_name = "VERSION")]
        to: u32,
    },
    /// List migrations with their state (applied, pending, changed) and the applied index strategy.
    #[command(after_help = "Examples:
  qcheck migrate status
  qcheck migrate status --format json")]
    Status,
}

/// What a command concluded, beyond errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Every check passed (exit 0).
    Success,
    /// At least one expectation failed (exit 1).
    ExpectationFailed,
}

impl Outcome {
    /// The process exit code: 0 success, 1 an expectation failed.
    pub fn exit_code(self) -> u8 {
        match self {
            Outcome::Success => 0,
            Outcome::ExpectationFailed => 1,
        }
    }
}

/// Runs one command.
pub fn run(cli: &Cli) -> Result<Outcome> {
    let g = &cli.global;
    crate::db::set_statement_timeout(Some(g.statement_timeout));
    if g.format.verdicts_only() && !matches!(cli.command, Command::Check(_) | Command::Explain(_)) {
        return Err(crate::error::Error::Usage(format!(
            "--format {} reports expectation verdicts: only `check` and `explain` print it; use \
             table, json or markdown here",
            g.format
        )));
    }
    versions::refuse_several(g, &cli.command)?;
    match &cli.command {
        Command::Completions { shell } => {
            docs::completions(*shell, &mut std::io::stdout().lock());
            Ok(Outcome::Success)
        }
        Command::Man { dir } => docs::man(dir.as_deref()),
        Command::Cluster(cmd) => cluster::run(g, cmd),
        Command::Seed(args) => seed::run(g, args),
        Command::List { source } => check::list(g, source),
        Command::Explain(args) => check::explain(g, args),
        Command::Check(args) => check::check(g, args),
        Command::Diff(args) => diff::run(g, args),
        Command::Compare(args) => compare::run(g, args),
        Command::Partitions(args) => partitions::run(g, args),
        Command::Migrate { action, yes } => {
            let default = MigrateCommand::Up {
                strategy: schema::DEFAULT_STRATEGY.into(),
                no_indexes: false,
            };
            migrate::run(g, action.as_ref().unwrap_or(&default), *yes)
        }
    }
}
