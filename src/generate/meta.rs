//! `qcheck_meta`: the record of the dataset a database holds, so an unchanged request is not seeded
//! again and an interrupted seed is never taken for a complete one.
//!
//! The record is deleted (the table dropped) before a seed touches any data and written as the very
//! last step, in its own transaction. So a row exists only if a seed ran to the end; a seed killed at
//! any point leaves none, and the next request seeds from scratch. Dropping rather than deleting also
//! lets a newer qcheck change the table's layout. `schema::migrate_down(client, 0)` drops it too.

use std::collections::BTreeMap;

use postgres::Client;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{DbContext, Result};

/// Bump whenever the generator's output changes for the same profile, scale and seed: cached
/// datasets of an older generator are then re-seeded (`DatasetMeta::same_data` compares it). The
/// unit tests pin the `tiny` digest next to this number (`produce::tests`): a generator change
/// fails them, and their message asks for the bump together with the new digest.
///
/// History: 1 — the first generator; 2 — patients at most once a day and `max_per_week` a week
/// (issue 11), appointment id layout from the profile (`ids.appointment`); 3 — both profiles use
/// time-ordered (v7) appointment ids.
pub const GENERATOR_VERSION: u32 = 3;

/// What `qcheck_meta` records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetMeta {
    /// The profile's name (its file stem).
    pub profile: String,
    /// sha256 of the profile's canonical content.
    pub profile_hash: String,
    /// The `--scale` the data was generated at.
    pub scale: f64,
    /// The generator seed.
    pub seed: u64,
    /// [`GENERATOR_VERSION`] of the qcheck that generated it.
    pub generator_version: u32,
    /// sha256 over the applied migrations (version, checksum, applied_at).
    pub schema_checksum: String,
    /// The index strategy in place (changed alone by [`set_strategy`]).
    pub strategy: String,
    /// sha256 over the generated rows (see `produce`).
    pub digest: String,
    /// Rows per table.
    pub row_counts: BTreeMap<String, u64>,
    /// Monthly `appointment` partitions (one per profile month).
    pub partitions: u32,
    /// RFC 3339.
    pub completed_at: String,
}

impl DatasetMeta {
    /// True when this record describes the data that `other` asks for (the index strategy aside).
    pub fn same_data(&self, other: &DatasetMeta) -> bool {
        self.profile == other.profile
            && self.profile_hash == other.profile_hash
            && self.scale.to_bits() == other.scale.to_bits()
            && self.seed == other.seed
            && self.generator_version == other.generator_version
            && self.schema_checksum == other.schema_checksum
    }
}

const CREATE: &str = "CREATE TABLE IF NOT EXISTS qcheck_meta (
    singleton         boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    profile           text NOT NULL,
    profile_hash      text NOT NULL,
    scale             double precision NOT NULL,
    seed              numeric(20, 0) NOT NULL,
    generator_version integer NOT NULL,
    schema_checksum   text NOT NULL,
    strategy          text NOT NULL,
    digest            text NOT NULL,
    row_counts        jsonb NOT NULL,
    partitions        integer NOT NULL,
    completed_at      timestamptz NOT NULL DEFAULT now())";

/// The dataset the database holds, if a seed completed. A record in an unknown layout counts as none.
pub fn current_dataset(client: &mut Client) -> Result<Option<DatasetMeta>> {
    let exists: bool = client
        .query_one("SELECT to_regclass('qcheck_meta') IS NOT NULL", &[])
        .db("looking for qcheck_meta")?
        .get(0);
    if !exists {
        return Ok(None);
    }
    let row = client
        .query_opt(
            "SELECT (to_jsonb(m) - 'singleton'
                     || jsonb_build_object('completed_at',
                            to_char(m.completed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')))::text
               FROM qcheck_meta m",
            &[],
        )
        .db("reading qcheck_meta")?;
    Ok(row.and_then(|r| serde_json::from_str(r.get::<_, &str>(0)).ok()))
}

/// Forgets the dataset: done first thing by a seed.
pub fn clear(client: &mut Client) -> Result<()> {
    client
        .batch_execute("DROP TABLE IF EXISTS qcheck_meta")
        .db("dropping qcheck_meta")
}

/// Records a completed dataset, and returns it with the server's completion time.
#[allow(
    clippy::cast_possible_wrap,
    reason = "generator_version is a small constant; partitions: profile values are bounded by \
              dataset validation (see issue: bounded input)"
)]
pub fn write(client: &mut Client, meta: &DatasetMeta) -> Result<DatasetMeta> {
    let counts = serde_json::to_value(&meta.row_counts).unwrap_or_default();
    let mut tx = client.transaction().db("recording the dataset")?;
    tx.batch_execute(CREATE).db("creating qcheck_meta")?;
    tx.batch_execute("DELETE FROM qcheck_meta")
        .db("clearing qcheck_meta")?;
    tx.execute(
        "INSERT INTO qcheck_meta (profile, profile_hash, scale, seed, generator_version, schema_checksum,
                                  strategy, digest, row_counts, partitions)
         VALUES ($1, $2, $3, $4::text::numeric, $5, $6, $7, $8, $9, $10)",
        &[
            &meta.profile,
            &meta.profile_hash,
            &meta.scale,
            &meta.seed.to_string(),
            &(meta.generator_version as i32),
            &meta.schema_checksum,
            &meta.strategy,
            &meta.digest,
            &counts,
            &(meta.partitions as i32),
        ],
    )
    .db("writing qcheck_meta")?;
    tx.commit().db("committing qcheck_meta")?;
    Ok(current_dataset(client)?.unwrap_or_else(|| meta.clone()))
}

/// Updates the recorded strategy after only the indexes changed.
pub fn set_strategy(client: &mut Client, strategy: &str) -> Result<()> {
    client
        .execute(
            "UPDATE qcheck_meta SET strategy = $1, completed_at = now()",
            &[&strategy],
        )
        .db("updating qcheck_meta")?;
    Ok(())
}

/// A fingerprint of the schema the data was loaded into: the applied migrations with their checksums
/// and when they were applied, so that reverting and re-applying a migration (which may drop data)
/// also invalidates the dataset.
pub fn schema_checksum(client: &mut Client) -> Result<String> {
    let row = client
        .query_one(
            "SELECT coalesce(string_agg(version || ':' || checksum || ':' || extract(epoch FROM applied_at)::text, ',' ORDER BY version), '')
               FROM qcheck_migration",
            &[],
        )
        .db("reading qcheck_migration")?;
    let text: String = row.get(0);
    Ok(hex::encode(Sha256::digest(text.as_bytes())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dataset_of_another_generator_version_is_not_the_same_data() {
        let recorded = DatasetMeta {
            profile: "clinic".into(),
            profile_hash: "p".into(),
            scale: 1.0,
            seed: 42,
            generator_version: GENERATOR_VERSION - 1,
            schema_checksum: "s".into(),
            strategy: "tuned".into(),
            digest: "d".into(),
            row_counts: BTreeMap::new(),
            partitions: 24,
            completed_at: String::new(),
        };
        let wanted = DatasetMeta {
            generator_version: GENERATOR_VERSION,
            ..recorded.clone()
        };
        assert!(
            !recorded.same_data(&wanted),
            "an older generator's rows are re-seeded"
        );
        assert!(wanted.same_data(&wanted.clone()));
    }
}
