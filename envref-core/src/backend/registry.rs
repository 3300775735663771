//! Building backends from configuration. Construction is cheap and touches nothing: a
//! backend connects (or asks for a passphrase) only when first used.

use super::passphrase::PassphraseSource;
use super::Backend;
use crate::config::{BackendSpec, Config};
use crate::{Error, Result};

/// What backends may need from the front door.
#[derive(Debug, Clone, Default)]
pub struct BuildContext {
    /// Where the vault's passphrase comes from: by default `$ENVREF_VAULT_PASSPHRASE` or an
    /// error, never a prompt; the CLI gives a terminal prompt.
    pub passphrase: PassphraseSource,
    /// The caller is the project's own program or build script (the loader, envref-build),
    /// which runs the project's code anyway: the programs its config names need no
    /// `envref allow`. False for the CLI, where a freshly cloned project must not run anything.
    pub in_project_code: bool,
}

/// Build the backend of `spec`, one of `config`'s; refused when it would run a program that
/// the project names and the user has not allowed (see [`crate::trust`]).
pub fn build(config: &Config, spec: &BackendSpec, ctx: &BuildContext) -> Result<Box<dyn Backend>> {
    if !ctx.in_project_code {
        crate::trust::check(config, &[spec])?;
    }
    construct(spec, ctx)
}

/// Every backend of the chain, in order; refused as a whole (one error naming every program)
/// when any would run a program the user has not allowed.
pub fn build_all(config: &Config, ctx: &BuildContext) -> Result<Vec<Box<dyn Backend>>> {
    if !ctx.in_project_code {
        crate::trust::check(config, &config.backends.iter().collect::<Vec<_>>())?;
    }
    config.backends.iter().map(|s| construct(s, ctx)).collect()
}

/// The table's constructor of `spec`'s type. A type the config accepted is always in the
/// table; a spec built by hand may not be.
fn construct(spec: &BackendSpec, ctx: &BuildContext) -> Result<Box<dyn Backend>> {
    let info = super::kinds::lookup(&spec.kind)
        .map_err(|m| Error::config(format!("backend {}: {m}", spec.name)))?;
    (info.construct)(spec, ctx)
}

/// The backend `op://` references use when no backend of type `1password` is configured:
/// `op` from PATH with default options (op's own account selection). It runs no program the
/// project names, so it needs no `envref allow`.
pub(crate) fn implicit_one_password() -> Box<dyn Backend> {
    let spec = BackendSpec::new("op", super::BackendKind::OnePassword.name());
    Box::new(super::onepassword::OnePassword::new(&spec))
}
