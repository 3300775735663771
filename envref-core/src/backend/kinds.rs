//! The one table of backend types: for each, its name in `.envref.yaml`, the options it
//! accepts, the program it runs and how to install it, what to check when it fails, and (with
//! the `backends` feature) its constructor. Config validation, the registry, `doctor` and the
//! CLI all read this table; adding a backend is its module plus one row here.
//!
//! Probing (`envref status`/`doctor`) is the trait's [`super::Backend::probe`], which lists
//! unless a backend knows a cheaper or safer check.

use crate::config::BackendSpec;

/// A backend type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BackendKind {
    /// The OS keychain (Secret Service, macOS Keychain, Windows Credential Manager).
    Keychain,
    /// envref's local age-encrypted vault file.
    Vault,
    /// 1Password, through the `op` CLI.
    OnePassword,
    /// AWS Systems Manager Parameter Store, through the `aws` CLI.
    AwsSsm,
    /// HashiCorp Vault's KV store, through the `vault` CLI.
    HashicorpVault,
    /// Oracle Cloud Infrastructure Vault, through the `oci` CLI.
    OciVault,
    /// An external `envref-backend-<name>` program speaking envref's JSON protocol.
    Plugin,
}

/// Builds a backend from its configuration; touches nothing until first used.
#[cfg(feature = "backends")]
pub(crate) type Constructor =
    fn(&BackendSpec, &super::BuildContext) -> crate::Result<Box<dyn super::Backend>>;

/// One row of the table.
// Without `backends` only the names and options are read (config validation).
#[cfg_attr(not(feature = "backends"), allow(dead_code))]
pub(crate) struct KindInfo {
    pub kind: BackendKind,
    /// The `type:` in `.envref.yaml`.
    pub name: &'static str,
    pub options: &'static [&'static str],
    pub required: &'static [&'static str],
    /// How to install the program the type runs (for the "not found" hint).
    pub install_hint: Option<&'static str>,
    /// The program the type runs when `command:` is not set; `{name}` is the backend's name.
    pub program: Option<&'static str>,
    /// What to check when the backend fails without a hint of its own; `{name}` as above.
    pub check_hint: &'static str,
    #[cfg(feature = "backends")]
    pub construct: Constructor,
}

const CHECK: &str =
    "check backend {name} (is it reachable and signed in?); `envref doctor` checks it";

pub(crate) const KINDS: &[KindInfo] = &[
    KindInfo {
        kind: BackendKind::Keychain,
        name: "keychain",
        options: &[],
        required: &[],
        install_hint: None,
        program: None,
        check_hint: CHECK,
        #[cfg(feature = "backends")]
        construct: |spec, _| Ok(Box::new(super::keychain::Keychain::new(spec))),
    },
    KindInfo {
        kind: BackendKind::Vault,
        name: "vault",
        options: &["path"],
        required: &[],
        install_hint: None,
        program: None,
        check_hint: CHECK,
        #[cfg(feature = "backends")]
        construct: |spec, ctx| Ok(Box::new(super::vault::Vault::new(spec, ctx))),
    },
    KindInfo {
        kind: BackendKind::OnePassword,
        name: "1password",
        options: &["vault", "account", "command", "timeout"],
        required: &[],
        install_hint: Some(
            "install the 1Password CLI (`brew install 1password-cli`), then `op signin`",
        ),
        program: Some("op"),
        check_hint: "check backend {name}: is `op` signed in (`op signin`) and is the vault \
                     right? `envref doctor` checks it",
        #[cfg(feature = "backends")]
        construct: |spec, _| Ok(Box::new(super::onepassword::OnePassword::new(spec))),
    },
    KindInfo {
        kind: BackendKind::AwsSsm,
        name: "aws-ssm",
        options: &["prefix", "region", "profile", "command", "timeout"],
        required: &[],
        install_hint: Some(
            "install the AWS CLI (`brew install awscli` or `pip install awscli`), then \
             `aws configure`",
        ),
        program: Some("aws"),
        check_hint: CHECK,
        #[cfg(feature = "backends")]
        construct: |spec, _| Ok(Box::new(super::aws_ssm::AwsSsm::new(spec))),
    },
    KindInfo {
        kind: BackendKind::HashicorpVault,
        name: "hashicorp-vault",
        options: &[
            "mount",
            "prefix",
            "addr",
            "namespace",
            "token",
            "command",
            "timeout",
        ],
        required: &[],
        install_hint: Some(
            "install the Vault CLI (`brew install hashicorp/tap/vault`), then `vault login`",
        ),
        program: Some("vault"),
        check_hint: CHECK,
        #[cfg(feature = "backends")]
        construct: |spec, _| Ok(Box::new(super::hashicorp_vault::HashicorpVault::new(spec))),
    },
    KindInfo {
        kind: BackendKind::OciVault,
        name: "oci-vault",
        options: &[
            "vault_id",
            "compartment_id",
            "key_id",
            "profile",
            "command",
            "timeout",
        ],
        required: &["vault_id", "compartment_id", "key_id"],
        install_hint: Some("install the OCI CLI (`pip install oci-cli`), then `oci setup config`"),
        program: Some("oci"),
        check_hint: CHECK,
        #[cfg(feature = "backends")]
        construct: |spec, _| Ok(Box::new(super::oci_vault::OciVault::new(spec)?)),
    },
    KindInfo {
        kind: BackendKind::Plugin,
        name: "plugin",
        options: &["command", "timeout"],
        required: &[],
        install_hint: Some(
            "put an executable named envref-backend-<name> on PATH, or set `command:` in \
             .envref.yaml",
        ),
        program: Some("envref-backend-{name}"),
        check_hint: "check the plugin of backend {name} (its `command:` in .envref.yaml; run \
                     it by hand to see its error), or `envref doctor`",
        #[cfg(feature = "backends")]
        construct: |spec, _| Ok(Box::new(super::plugin::Plugin::new(spec))),
    },
];

impl BackendKind {
    /// The type named `name` in `.envref.yaml`.
    pub(crate) fn from_name(name: &str) -> Option<BackendKind> {
        find(name).map(|k| k.kind)
    }

    /// The type of `spec` (always known for a spec from a validated config).
    pub fn of(spec: &BackendSpec) -> Option<BackendKind> {
        BackendKind::from_name(&spec.kind)
    }

    pub(crate) fn info(self) -> &'static KindInfo {
        KINDS
            .iter()
            .find(|k| k.kind == self)
            .expect("every kind has a row")
    }

    /// The type's name in `.envref.yaml` (`keychain`, `aws-ssm`, …).
    pub fn name(self) -> &'static str {
        self.info().name
    }
}

pub(crate) fn find(name: &str) -> Option<&'static KindInfo> {
    KINDS.iter().find(|k| k.name == name)
}

/// The row of type `name`, or what to say about an unknown type: the nearest valid one when
/// it looks like a typo, and the list.
pub(crate) fn lookup(name: &str) -> Result<&'static KindInfo, String> {
    find(name).ok_or_else(|| {
        let names = KINDS.iter().map(|k| k.name);
        let guess = crate::suggest::closest(name, names.clone())
            .map(|n| format!(" (did you mean {n}?)"))
            .unwrap_or_default();
        format!(
            "unknown backend type {name:?}{guess}; valid types: {}",
            names.collect::<Vec<_>>().join(", ")
        )
    })
}

/// The fix for a backend error that came without one: what to check, by backend type.
#[cfg(feature = "backends")]
pub(crate) fn check_hint(name: &str, kind: &str) -> String {
    find(kind)
        .map_or(CHECK, |k| k.check_hint)
        .replace("{name}", name)
}

/// The default executable of `spec`'s type (`aws`, `envref-backend-<name>`, …); `None` for
/// types that run no program.
#[cfg(feature = "backends")]
pub(crate) fn default_program(spec: &BackendSpec) -> Option<String> {
    Some(find(&spec.kind)?.program?.replace("{name}", &spec.name))
}

/// The executable `spec` runs: its `command:` option, else the type's default.
#[cfg(feature = "backends")]
pub(crate) fn program(spec: &BackendSpec) -> Option<String> {
    let default = default_program(spec)?;
    Some(
        spec.option("command")
            .map(str::to_string)
            .unwrap_or(default),
    )
}

/// Options whose values are credentials: never printed.
pub(crate) fn is_secret_option(option: &str) -> bool {
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
        // Every type that takes `command:` has a default program and an install hint, and no
        // other does.
        for k in KINDS {
            assert_eq!(
                k.options.contains(&"command"),
                k.program.is_some(),
                "{}",
                k.name
            );
            assert_eq!(k.program.is_some(), k.install_hint.is_some(), "{}", k.name);
        }
    }

    #[test]
    fn one_row_per_kind() {
        for k in KINDS {
            assert_eq!(k.kind.info().name, k.name);
            assert_eq!(BackendKind::from_name(k.name), Some(k.kind));
            assert!(
                k.required.iter().all(|r| k.options.contains(r)),
                "{}",
                k.name
            );
        }
        let mut names: Vec<_> = KINDS.iter().map(|k| k.name).collect();
        names.dedup();
        assert_eq!(names.len(), KINDS.len());
    }

    #[test]
    fn unknown_types_suggest_the_nearest() {
        let e = lookup("aws-sm").err().unwrap();
        assert!(
            e.starts_with("unknown backend type \"aws-sm\" (did you mean aws-ssm?)"),
            "{e}"
        );
        assert!(e.ends_with(
            "valid types: keychain, vault, 1password, aws-ssm, hashicorp-vault, oci-vault, plugin"
        ));
        assert!(lookup("Keychain")
            .err()
            .unwrap()
            .contains("did you mean keychain?"));
        let e = lookup("mongodb").err().unwrap();
        assert!(!e.contains("did you mean"), "{e}");
        assert_eq!(lookup("oci-vault").unwrap().kind, BackendKind::OciVault);
    }

    #[test]
    fn check_hints_name_the_backend() {
        assert!(check_hint("ops", "plugin").starts_with("check the plugin of backend ops "));
        assert!(check_hint("op", "1password").contains("`op signin`"));
        assert_eq!(
            check_hint("x", "aws-ssm"),
            "check backend x (is it reachable and signed in?); `envref doctor` checks it"
        );
        // An out-of-tree backend's type is not in the table: the general hint.
        assert!(check_hint("x", "custom").starts_with("check backend x "));
    }

    /// Every type constructs from a config that `.envref.yaml` validation accepts, into a
    /// backend that reports its type; options outside a type's list are refused by the config.
    #[cfg(feature = "backends")]
    #[test]
    fn every_kind_constructs_and_options_are_validated() {
        let dir = tempfile::tempdir().unwrap();
        let mut yaml = String::from("project: app\nbackends:\n");
        for k in KINDS {
            yaml += &format!("  - name: b-{}\n    type: {}\n", k.name, k.name);
            if !k.required.is_empty() {
                yaml += "    config:\n";
                for r in k.required {
                    yaml += &format!("      {r}: ocid1.test\n");
                }
            }
        }
        let file = dir.path().join(".envref.yaml");
        std::fs::write(&file, &yaml).unwrap();
        let config = crate::config::Config::load(&file).unwrap();
        assert_eq!(config.backends.len(), KINDS.len());
        let ctx = super::super::BuildContext {
            in_project_code: true,
            ..Default::default()
        };
        for (spec, k) in config.backends.iter().zip(KINDS) {
            let b = (k.construct)(spec, &ctx).unwrap_or_else(|e| panic!("{}: {e:?}", k.name));
            assert_eq!((b.name(), b.kind()), (spec.name.as_str(), k.name));
        }
        let built = super::super::build_all(&config, &ctx).unwrap();
        assert_eq!(built.len(), KINDS.len());

        for (bad, expected) in [
            (
                "type: vault\n    config: {bogus: x}",
                "unknown option \"bogus\" for type vault; valid options: path",
            ),
            (
                "type: keychain\n    config: {path: x}",
                "unknown option \"path\" for type keychain; valid options: none",
            ),
            (
                "type: oci-vault\n    config: {vault_id: x, key_id: y}",
                "option compartment_id is required for type oci-vault",
            ),
            (
                "type: aws-ssm\n    config: {timeout: soon}",
                "timeout is not a duration",
            ),
            ("type: valt", "(did you mean vault?)"),
        ] {
            std::fs::write(
                &file,
                format!("project: app\nbackends:\n  - name: b\n    {bad}\n"),
            )
            .unwrap();
            let e = crate::config::Config::load(&file).unwrap_err();
            assert!(e.to_string().contains(expected), "{bad}: {e}");
        }
    }
}
