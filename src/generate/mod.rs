//! The deterministic dataset generator and its loader: `qcheck seed`.
//!
//! A production-sized dataset is what makes plans honest (a planner choosing for 100 rows chooses
//! differently), and it must be the same on every machine so that plans, verdicts and benchmarks can
//! be compared. So the generator is a pure function of (profile, scale, seed): ChaCha streams per
//! table and per (provider, day), timestamps relative to the profile's `as_of`, never the wall clock.
//!
//! Split by responsibility:
//! - `rng`: named, seekable random streams and the exact mappings to ranges, weights and Zipf;
//! - `world`: the plan decided up front (tenants, time zones, ids, per provider-day counts);
//! - `patients`: who each appointment is for, per tenant and calendar week: at most one a day and
//!   `max_per_week` a week per patient, so patients never overlap either;
//! - `rows`: the rows, generated per provider and local day, never overlapping;
//! - `copy`: hand-written binary COPY encoding into large buffers;
//! - `produce`: rows -> COPY segments on a thread of its own, and the dataset digest;
//! - `load`: one transaction that resets the tables and streams the segments in with COPY FREEZE;
//! - `post`: constraints, indexes and VACUUM (ANALYZE) on two connections in parallel;
//! - `lock`: the dataset lock, shared while a run reads the dataset, exclusive while it is replaced;
//! - `meta`: the `qcheck_meta` record that makes datasets cacheable and interrupted seeds harmless;
//! - `seed`: the whole pipeline behind `ensure_seeded`;
//! - `timings`: the measurements behind `qcheck seed --timings`;

pub mod copy;
pub mod load;
pub mod lock;
pub mod meta;
pub mod patients;
pub mod post;
pub mod produce;
pub mod rng;
pub mod rows;
pub mod seed;
pub mod timings;
pub mod world;

pub use lock::DatasetLock;
pub use meta::{DatasetMeta, GENERATOR_VERSION, current_dataset};
pub use seed::{
    DEFAULT_SEED, PhaseTiming, SeedOutcome, SeedRequest, SeedStatus, TableSummary,
    dataset_mismatch, ensure_seeded, ensure_seeded_under, hold_dataset, preflight,
};
pub use timings::{PhaseRates, Timings, TopologyTimings, measure, seed_forced};
pub use world::World;
