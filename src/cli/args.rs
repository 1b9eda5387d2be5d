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

/// `--statement-timeout`: a whole number with a unit, `ms`, `s`, `min` or `h` (`500ms`, `30s`,
/// `5min`), or `0` for none (the zero duration). Anything else is refused with the accepted forms.
pub(crate) fn parse_timeout(text: &str) -> std::result::Result<std::time::Duration, String> {
    use std::time::Duration;
    let bad = || {
        format!(
            "`{text}` is not a duration: write a whole number with ms, s, min or h (500ms, 30s, 5min), or 0 for none"
        )
    };
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .filter(|&i| i > 0)
        .ok_or_else(bad)?;
    let (digits, unit) = text.split_at(split);
    let n: u64 = digits.parse().map_err(|_| bad())?;
    let ms_per = match unit {
        "ms" => 1,
        "s" => 1_000,
        "min" => 60_000,
        "h" => 3_600_000,
        _ => return Err(bad()),
    };
    // PostgreSQL takes at most INT_MAX milliseconds (about 24.8 days).
    match n.checked_mul(ms_per) {
        Some(ms) if i32::try_from(ms).is_ok() => Ok(Duration::from_millis(ms)),
        _ => Err(format!(
            "`{text}` is longer than PostgreSQL's maximum statement_timeout (about 24 days)"
        )),
    }
}

#[cfg(test)]
mod timeout_tests {
    use std::time::Duration;

    use super::parse_timeout;

    #[test]
    fn timeouts_parse_strictly() {
        assert_eq!(parse_timeout("0"), Ok(Duration::ZERO));
        assert_eq!(parse_timeout("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_timeout("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_timeout("5min"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_timeout("2h"), Ok(Duration::from_secs(7200)));
        for bad in [
            "", "30", "s", "1.5s", "-1s", "30 s", "30sec", "5m", "0s1", "1000h",
        ] {
            assert!(parse_timeout(bad).is_err(), "{bad}");
        }
    }
}
