//! The integration tests of cargo-envref, one module per file, built as one test binary:
//! one compile of `support` and one link instead of one per file (tests/support/run.sh
//! still prints the time of each file).

mod support;

mod agent;
mod backend_table;
mod bounds;
mod cargo;
mod cli;
mod cloud;
mod deliver;
mod edits;
mod errors;
mod hardening;
mod health;
mod import;
mod keychain;
mod leaks;
mod mistakes;
mod plugin_batch;
mod precedence;
mod references;
mod signals;
mod team;
mod trust;
mod vaultfile;
