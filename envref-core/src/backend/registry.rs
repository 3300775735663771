//! Building backends from configuration. Construction is cheap and touches nothing: a
//! backend connects (or asks for a passphrase) only when first used.

use super::Backend;
use crate::config::{BackendSpec, Config};
use crate::{Error, Result};

/// What backends may need from the front door.
#[derive(Debug, Clone, Default)]
pub struct BuildContext {
    /// Whether a person is at a terminal to answer prompts (the vault passphrase).
    pub interactive: bool,
}

pub fn build(spec: &BackendSpec, ctx: &BuildContext) -> Result<Box<dyn Backend>> {
    Ok(match spec.kind.as_str() {
        "keychain" => Box::new(super::keychain::Keychain::new(spec)),
        "plugin" => Box::new(super::plugin::Plugin::new(spec)),
        "vault" => Box::new(super::vault::Vault::new(spec, ctx)),
        "aws-ssm" => Box::new(super::aws_ssm::AwsSsm::new(spec)),
        "hashicorp-vault" => Box::new(super::hashicorp_vault::HashicorpVault::new(spec)),
        "1password" => Box::new(super::onepassword::OnePassword::new(spec)),
        "oci-vault" => Box::new(super::oci_vault::OciVault::new(spec)?),
        other => {
            return Err(Error::new(format!("backend {}: type {other} is not supported by this build of envref", spec.name))
                .with_hint("use a `vault` or `plugin` backend"))
        }
    })
}

/// Every backend of the chain, in order.
pub fn build_all(config: &Config, ctx: &BuildContext) -> Result<Vec<Box<dyn Backend>>> {
    config.backends.iter().map(|s| build(s, ctx)).collect()
}
