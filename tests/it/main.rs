//! qcheck's integration tests: one test binary (as ripgrep has), so that every module shares one
//! throwaway PostgreSQL cluster (`common::cluster`), each test in a database of its own.
//!
//! - `model`: the appointment schema's guarantees on a real server (exclusion, RLS, audit, ...);
//! - `seed`: the generator and the COPY loader, determinism and the cached dataset;
//! - `baseline`: `check --save-baseline/--baseline` and `qcheck diff` (tuned against fk-only);
//! - `citus`: the embedded Citus topology (`--citus-workers 2`) and the model distributed by tenant;
//! - `check`: `qcheck check` / `qcheck explain` end to end on the `tiny` dataset;
//! - `guard`: `check` fails on a partition of `appointment` without its exclusion constraint, in
//!   every format, and writes nothing to fix it;
//! - `ci`: JUnit, GitHub annotations, JSON documents against `schema/`, output at 100 columns,
//!   clap errors, completions and man pages, the re-seed note;
//! - `offline`: `explain --plan` on saved and production plans (modes, maps, undecided, bad files);
//! - `runner`: how queries are run (nothing a query file does persists, one statement per file);
//! - `compare`: `qcheck compare` reports and the harness check against pgbench;
//! - `cli`: the binary's connection handling, errors and exit codes;
//! - `interrupt`: Ctrl-C and SIGTERM cancel the server-side query (exit 130/143), --statement-timeout;
//! - `lifecycle`: one home shared by many processes, awkward homes, refused binaries;
//! - `safety`: what qcheck writes on a server the user named, and when it asks for `--yes` first;
//! - `strategy`: the strategy bookkeeping, what `migrate status` reports and `seed` repairs;
//! - `tls`: `sslmode` and certificates against a dedicated TLS cluster;
//! - `versions`: the ten on PostgreSQL 15 and 18 (`check` with two `--pg-bin-dir`, the upgrade
//!   baseline flow); needs PostgreSQL 18 from `.ci/install-pg18`.

mod baseline;
mod check;
mod ci;
mod citus;
mod cli;
mod common;
mod compare;
mod guard;
mod interrupt;
mod lifecycle;
mod model;
mod offline;
mod runner;
mod safety;
mod seed;
mod strategy;
mod tls;
mod versions;
