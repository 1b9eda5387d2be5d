//! qcheck proves, at production scale, that a PostgreSQL schema's hot queries get the plans they were
//! designed for, and compares index strategies with numbers.
//!
//! Layers, dependencies pointing down:
//! - `cli`: the command-line commands (the binary is a thin wrapper around it);
//! - `db`, `cluster`, `schema`: where the database is, the embedded PostgreSQL, migrations and index
//!   strategies — everything that talks to a server;
//! - `report`: pure rendering (tables, JSON, Markdown, HTML) and the one number formatter
//!   (`report::fmt`), no database access; `progress`: bars and lines on stderr for long phases;
//! - `baseline`: plan signatures of a run saved as committable JSON and compared with a later
//!   run, another baseline or plan files (`check --baseline`, `qcheck diff`), pure;
//! - `sql`: the one lexer for PostgreSQL SQL (statements, placeholders, identifiers), pure;
//! - `topology`: Citus — the embedded coordinator and workers, registration, the model distributed
//!   by tenant, what a user's own coordinator is;
//! - `error`: the typed errors everything returns.

pub mod analysis;
pub mod baseline;
pub mod catalog;
pub mod cli;
pub mod cluster;
pub mod compare;
pub mod dataset;
pub mod db;
pub mod error;
pub mod expect;
pub mod files;
pub mod generate;
pub mod interrupt;
pub mod libpq_files;
pub mod plan;
pub mod progress;
pub mod report;
pub mod runner;
pub mod schema;
pub mod sql;
pub mod tips;
pub mod tls;
pub mod topology;

pub use error::{Error, Result};
