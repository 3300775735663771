//! The backend types envref knows and the options each accepts. Config validation uses this
//! table; it needs none of the backends' dependencies.

use crate::config::BackendSpec;

pub struct Kind {
    pub name: &'static str,
    pub options: &'static [&'static str],
    pub required: &'static [&'static str],
    /// The executable the type runs, and how to install it (for the "not found" hint).
    pub install_hint: Option<&'static str>,
    /// The executable the type runs when `command:` is not set (`plugin`: see [`program`]).
    pub program: Option<&'static str>,
}

pub const KINDS: &[Kind] = &[
    Kind { name: "keychain", options: &[], required: &[], install_hint: None, program: None },
    Kind { name: "vault", options: &["path"], required: &[], install_hint: None, program: None },
    Kind {
        name: "1password",
        options: &["vault", "account", "command", "timeout"],
        required: &[],
        install_hint: Some("install the 1Password CLI (`brew install 1password-cli`), then `op signin`"),
        program: Some("op"),
    },
    Kind {
        name: "aws-ssm",
        options: &["prefix", "region", "profile", "command", "timeout"],
        required: &[],
        install_hint: Some("install the AWS CLI (`brew install awscli` or `pip install awscli`), then `aws configure`"),
        program: Some("aws"),
    },
    Kind {
        name: "hashicorp-vault",
        options: &["mount", "prefix", "addr", "namespace", "token", "command", "timeout"],
        required: &[],
        install_hint: Some("install the Vault CLI (`brew install hashicorp/tap/vault`), then `vault login`"),
        program: Some("vault"),
    },
    Kind {
        name: "oci-vault",
        options: &["vault_id", "compartment_id", "key_id", "profile", "command", "timeout"],
        required: &["vault_id", "compartment_id", "key_id"],
        install_hint: Some("install the OCI CLI (`pip install oci-cli`), then `oci setup config`"),
        program: Some("oci"),
    },
    Kind {
        name: "plugin",
        options: &["command", "timeout"],
        required: &[],
        install_hint: Some("put an executable named envref-backend-<name> on PATH, or set `command:` in .envref.yaml"),
        program: Some("envref-backend-"),
    },
];

pub fn find(name: &str) -> Option<&'static Kind> {
    KINDS.iter().find(|k| k.name == name)
}

/// The default executable of `spec`'s type (`aws`, `envref-backend-<name>`, …); `None` for
/// types that run no program.
pub fn default_program(spec: &BackendSpec) -> Option<String> {
    let base = find(&spec.kind)?.program?;
    Some(if spec.kind == "plugin" {
        format!("{base}{}", spec.name)
    } else {
        base.to_string()
    })
}

/// The executable `spec` runs: its `command:` option, else the type's default.
pub fn program(spec: &BackendSpec) -> Option<String> {
    let default = default_program(spec)?;
    Some(
        spec.option("command")
            .map(str::to_string)
            .unwrap_or(default),
    )
}

/// Options whose values are credentials: never printed.
pub fn is_secret_option(option: &str) -> bool {
    matches!(option, "token" | "passphrase" | "password" | "secret")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn programs_of_each_type() {
        let mut plugin = BackendSpec::new("demo", "plugin");
        assert_eq!(program(&plugin).as_deref(), Some("envref-backend-demo"));
        plugin.options.insert("command".into(), "/opt/x".into());
        assert_eq!(program(&plugin).as_deref(), Some("/opt/x"));
        assert_eq!(
            default_program(&plugin).as_deref(),
            Some("envref-backend-demo")
        );
        assert_eq!(
            program(&BackendSpec::new("ssm", "aws-ssm")).as_deref(),
            Some("aws")
        );
        assert_eq!(program(&BackendSpec::new("v", "vault")), None);
        // Every type that takes `command:` has a default program, and no other does.
        for k in KINDS {
            assert_eq!(
                k.options.contains(&"command"),
                k.program.is_some(),
                "{}",
                k.name
            );
        }
    }
}
