//! The backend types envref knows and the options each accepts. Config validation uses this
//! table; it needs none of the backends' dependencies.

pub struct Kind {
    pub name: &'static str,
    pub options: &'static [&'static str],
    pub required: &'static [&'static str],
    /// The executable the type runs, and how to install it (for the "not found" hint).
    pub install_hint: Option<&'static str>,
}

pub const KINDS: &[Kind] = &[
    Kind { name: "keychain", options: &[], required: &[], install_hint: None },
    Kind { name: "vault", options: &["path"], required: &[], install_hint: None },
    Kind {
        name: "1password",
        options: &["vault", "account", "command", "timeout"],
        required: &[],
        install_hint: Some("install the 1Password CLI (`brew install 1password-cli`), then `op signin`"),
    },
    Kind {
        name: "aws-ssm",
        options: &["prefix", "region", "profile", "command", "timeout"],
        required: &[],
        install_hint: Some("install the AWS CLI (`brew install awscli` or `pip install awscli`), then `aws configure`"),
    },
    Kind {
        name: "hashicorp-vault",
        options: &["mount", "prefix", "addr", "namespace", "token", "command", "timeout"],
        required: &[],
        install_hint: Some("install the Vault CLI (`brew install hashicorp/tap/vault`), then `vault login`"),
    },
    Kind {
        name: "oci-vault",
        options: &["vault_id", "compartment_id", "key_id", "profile", "command", "timeout"],
        required: &["vault_id", "compartment_id", "key_id"],
        install_hint: Some("install the OCI CLI (`pip install oci-cli`), then `oci setup config`"),
    },
    Kind {
        name: "plugin",
        options: &["command", "timeout"],
        required: &[],
        install_hint: Some("put an executable named envref-backend-<name> on PATH, or set `command:` in .envref.yaml"),
    },
];

pub fn find(name: &str) -> Option<&'static Kind> {
    KINDS.iter().find(|k| k.name == name)
}

/// Options whose values are credentials: never printed.
pub fn is_secret_option(option: &str) -> bool {
    matches!(option, "token" | "passphrase" | "password" | "secret")
}
