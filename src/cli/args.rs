//! Arguments several commands share, defined once and `#[command(flatten)]`ed where they apply, so a
//! flag reads, defaults and converts the same in every command.

use std::path::PathBuf;

use clap::Args;

use crate::catalog::Catalog;
use crate::error::Result;
use crate::generate::{self, SeedRequest};
use crate::schema;

/// Which dataset: profile, scale and seed (`check`, `explain`, `seed` and `compare`).
#[derive(Debug, Clone, Args)]
pub struct DatasetArgs {
    /// Dataset profile: a built-in name (clinic, tiny) or a path to a .toml file.
    #[arg(long, default_value = crate::dataset::DEFAULT_PROFILE, value_name = "NAME|FILE")]
    pub profile: String,
    /// Size: 1 is the profile's base size (clinic: about 1,000,000 appointments).
    #[arg(long, default_value_t = 1.0, allow_hyphen_values = true)]
    pub scale: f64,
    /// Random seed: the same profile, scale and seed always give identical rows.
    #[arg(long, default_value_t = generate::DEFAULT_SEED)]
    pub seed: u64,
}

impl DatasetArgs {
    /// The library's request for this dataset under index strategy `strategy` (validated).
    pub fn request(&self, strategy: &str) -> Result<SeedRequest> {
        SeedRequest::new(&self.profile, self.scale, self.seed, strategy)
    }
}

/// A dataset under one index strategy (`check`, `explain`, `seed`). `compare` takes
/// [`DatasetArgs`] alone: its `--strategy` is repeatable, the strategies it compares.
#[derive(Debug, Clone, Args)]
pub struct SeededDatasetArgs {
    #[command(flatten)]
    pub dataset: DatasetArgs,
    /// Index strategy (see sql/strategies).
    #[arg(long, default_value = schema::DEFAULT_STRATEGY)]
    pub strategy: String,
}

impl SeededDatasetArgs {
    /// The library's request for this dataset and strategy (validated).
    pub fn request(&self) -> Result<SeedRequest> {
        self.dataset.request(&self.strategy)
    }
}

/// Where the queries come from (`list`, `explain`, `check`).
#[derive(Debug, Clone, Args)]
pub struct QuerySource {
    /// Read query files from this folder instead of the built-in ten. No dataset is seeded then:
    /// the queries run against whatever the database holds.
    #[arg(long, value_name = "DIR")]
    pub queries: Option<PathBuf>,
}

impl QuerySource {
    /// The built-in catalog, or the query files of `--queries`.
    pub fn catalog(&self) -> Result<Catalog> {
        match &self.queries {
            Some(dir) => Catalog::from_dir(dir),
            None => Catalog::builtin(),
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
        seeded: SeededDatasetArgs,
    }

    #[test]
    fn dataset_flags_convert_to_one_request() {
        let one = One::try_parse_from([
            "x",
            "--profile",
            "tiny",
            "--scale",
            "0.5",
            "--seed",
            "7",
            "--strategy",
            "fk-only",
        ])
        .unwrap();
        let r = one.seeded.request().unwrap();
        assert_eq!(
            (
                r.profile.name.as_str(),
                r.scale,
                r.seed,
                r.strategy.as_str()
            ),
            ("tiny", 0.5, 7, "fk-only")
        );
        let defaults = One::try_parse_from(["x"]).unwrap().seeded;
        assert_eq!(defaults.strategy, schema::DEFAULT_STRATEGY);
        assert_eq!(defaults.dataset.seed, generate::DEFAULT_SEED);
        assert!(
            One::try_parse_from(["x", "--scale", "-1"])
                .unwrap()
                .seeded
                .request()
                .is_err()
        );
    }
}
