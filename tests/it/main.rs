//! qcheck's integration tests: one test binary (as ripgrep has), so that every module shares one
//! throwaway PostgreSQL cluster (`common::cluster`), each test in a database of its own.
//!
//! - `model`: the appointment schema's guarantees on a real server (exclusion, RLS, audit, ...);
//! - `seed`: the generator and the COPY loader, determinism and the cached dataset;
//! - `baseline`: `check --save-baseline/--baseline` and `qcheck diff` (tuned against fk-only);
//! - `citus`: the embedded Citus topology (`--citus-workers 2`) and the model distributed by tenant;
//! - `check`: `qcheck check` / `qcheck explain` end to end on the `tiny` dataset;
//! - `offline`: `explain --plan` on saved and production plans (modes, maps, undecided, bad files);
//! - `runner`: how queries are run (nothing a query file does persists, one statement per file);
//! - `compare`: `qcheck compare` reports and the harness check against pgbench;
//! - `cli`: the binary's connection handling, errors and exit codes;
//! - `interrupt`: Ctrl-C and SIGTERM cancel the server-side query (exit 130/143), --statement-timeout;
//! - `lifecycle`: one home shared by many processes, awkward homes, refused binaries;
//! - `safety`: what qcheck writes on a server the user named, and when it asks for `--yes` first;
//! - `strategy`: the strategy bookkeeping, what `migrate status` reports and `seed` repairs;
//! - `tls`: `sslmode` and certificates against a dedicated TLS cluster.

mod baseline;
mod check;
mod citus;
mod cli;
mod common;
mod compare;
mod interrupt;
mod lifecycle;
mod model;
mod offline;
mod runner;
mod safety;
mod seed;
mod strategy;
mod tls;
