//! envref-core: everything envref knows about `.env` files, configuration, references and
//! secret backends. The binaries, the build helper and the proc-macro are thin layers on this.
//!
//! The data's path: [`dotenv`] (parse, lossless document) → [`layers`] → [`config`] →
//! [`template`] (interpolation syntax) → [`mod@reference`] → [`resolve`] (plan, chain,
//! evaluate) → [`backend`] → [`output`].
//!
//! # What is public
//!
//! - **The library API**, for programs and build tools: [`project`] (discovery), [`loader`],
//!   [`resolve`], [`evaluate`], [`output`], [`backend`] (the [`backend::Backend`] trait and
//!   what an out-of-tree backend implements it with), and the data these pass around:
//!   [`config`], [`dotenv`], [`layers`], [`template`], [`mod@reference`], [`Error`].
//! - **CLI services**: [`atomic`], [`audit`], [`cargo_runner`], [`config_edit`], [`crypto`],
//!   [`editor`], [`generate`], [`health`], [`init`], [`onboard`], [`profile`], [`runner`],
//!   [`scope`], [`state`], [`suggest`], [`sync`], [`trust`], [`validate`]. They are public
//!   only because the envref CLI is a separate crate; each exposes just what a command calls,
//!   and none is a stable API.
//!
//! Everything else is `pub(crate)`, and every public item is documented (`missing_docs`).

#![warn(missing_docs)]
// Without `backends` the links above to backends-only modules have no target.
#![cfg_attr(not(feature = "backends"), allow(rustdoc::broken_intra_doc_links))]

pub mod atomic;
pub mod config;
pub mod config_edit;
pub mod crypto;
pub mod dotenv;
pub mod error;
pub mod init;
pub mod layers;
pub mod output;
pub mod profile;
pub mod project;
pub mod reference;
pub mod state;
pub mod suggest;
pub mod template;

#[cfg(all(unix, feature = "backends"))]
pub mod agent;
pub mod backend;
#[cfg(feature = "backends")]
pub mod cargo_runner;
pub mod evaluate;
#[cfg(feature = "backends")]
pub mod generate;
#[cfg(feature = "backends")]
pub mod github;
#[cfg(feature = "backends")]
pub mod inject;
#[cfg(feature = "backends")]
pub mod loader;
#[cfg(all(unix, feature = "backends"))]
mod locked_memory;
#[cfg(feature = "backends")]
pub mod mask;
#[cfg(feature = "backends")]
pub mod onboard;
#[cfg(all(unix, feature = "backends"))]
pub mod relay;
#[cfg(feature = "backends")]
pub mod resolve;
#[cfg(feature = "backends")]
pub mod runner;
#[cfg(feature = "backends")]
pub mod scope;
#[cfg(feature = "backends")]
pub mod sync;
#[cfg(all(test, feature = "backends"))]
mod test_backend;
#[cfg(feature = "backends")]
pub mod trust;

pub use error::{Error, Result};
#[cfg(feature = "backends")]
pub mod audit;
#[cfg(feature = "backends")]
pub mod editor;
#[cfg(feature = "backends")]
pub mod health;
#[cfg(feature = "backends")]
pub mod import;
#[cfg(feature = "backends")]
pub mod validate;
