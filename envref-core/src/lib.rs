//! envref-core: everything envref knows about `.env` files, configuration, references and
//! secret backends. The binaries, the build helper and the proc-macro are thin layers on this.
//!
//! The data's path: [`dotenv`] (parse, lossless document) → [`layers`] → [`config`] →
//! [`template`] (interpolation syntax) → [`reference`] → [`resolve`] (plan, chain, evaluate)
//! → [`backend`] → [`output`].

pub mod atomic;
pub mod config;
pub mod config_edit;
pub mod dotenv;
pub mod error;
pub mod layers;
pub mod output;
pub mod profile;
pub mod project;
pub mod reference;
pub mod state;
pub mod suggest;
pub mod template;

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
#[cfg(feature = "backends")]
pub mod mask;
#[cfg(all(unix, feature = "backends"))]
pub mod relay;
#[cfg(feature = "backends")]
pub mod resolve;
#[cfg(feature = "backends")]
pub mod runner;
#[cfg(feature = "backends")]
pub mod sync;
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
pub mod validate;
