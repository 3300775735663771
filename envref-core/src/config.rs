//! `.envref.yaml`: discovery (walk up to the nearest one), the global defaults file, and
//! validation that reports every problem at once.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::backend::kinds;
use crate::layers::LayerPaths;
use crate::{Error, Result};

/// The project configuration's file name, looked up from the working directory upward.
pub const CONFIG_FILE: &str = ".envref.yaml";
/// Selects the profile when `--profile` is not given (also set for cargo's children).
pub const PROFILE_ENV: &str = "ENVREF_PROFILE";

/// The variable that gives the vault's passphrase without a prompt (CI, scripts, `build.rs`).
pub const PASSPHRASE_ENV: &str = "ENVREF_VAULT_PASSPHRASE";

/// The variable naming an age identity file that unlocks the vault instead of the passphrase
/// (CI, keys kept in a file under the user's own protection).
pub const IDENTITY_ENV: &str = "ENVREF_VAULT_IDENTITY";

/// envref's own credentials. No child gets them (not `envref run`'s program, not cargo, not a
/// plugin or CLI), and no env file reads them: the vault passphrase, or the identity file that
/// stands in for it, unlocks every project's secrets.
pub(crate) const CREDENTIAL_VARIABLES: &[&str] = &[PASSPHRASE_ENV, IDENTITY_ENV];
const TOP_LEVEL_KEYS: &[&str] = &[
    "project",
    "env_file",
    "local_file",
    "active_profile",
    "profiles",
    "backends",
    "team",
    "mask",
    "precedence",
];

/// The file as written (all fields optional so the global file can fill gaps).
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub(crate) struct ConfigFile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env_file: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_file: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_profile: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profiles: Option<BTreeMap<String, ProfileConfig>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backends: Option<Vec<BackendEntry>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<Vec<TeamMember>>,
    /// `envref run` and `cargo envref` mask secret values in the program's output (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mask: Option<bool>,
    /// `files` (default) or `environment`: see [`Precedence`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub precedence: Option<String>,
}

/// A `profiles.<name>` entry.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
pub struct ProfileConfig {
    /// The profile's env file, relative to the root (default `.env.<name>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env_file: Option<String>,
}

/// A `team:` entry: someone `envref sync` encrypts secrets to.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct TeamMember {
    /// Who it is, as shown in sync's messages.
    pub name: String,
    /// Their age public key (`age1…`).
    pub public_key: String,
}

// Unknown fields are errors: an option written beside `config:` instead of under it
// (`command: ./x`) would otherwise be dropped without a word.
#[derive(Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub(crate) struct BackendEntry {
    #[serde(default)]
    pub name: String,
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub config: BTreeMap<String, yaml_serde::Value>,
}

impl fmt::Debug for BackendEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BackendEntry")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

/// One configured backend, validated: its name, its type and its options as strings.
#[derive(Clone, PartialEq, Eq)]
pub struct BackendSpec {
    /// The backend's name (what `ref://<name>/…` and `--backend` use).
    pub name: String,
    /// The backend type (`type:` in `.envref.yaml`, see [`crate::backend::BackendKind`]).
    pub kind: String,
    /// The type's options, as strings.
    pub options: BTreeMap<String, String>,
}

impl BackendSpec {
    /// A spec of type `kind` named `name`, without options.
    pub fn new(name: &str, kind: &str) -> BackendSpec {
        BackendSpec {
            name: name.into(),
            kind: kind.into(),
            options: BTreeMap::new(),
        }
    }

    /// The option `key`; an empty value counts as unset.
    pub fn option(&self, key: &str) -> Option<&str> {
        self.options
            .get(key)
            .map(String::as_str)
            .filter(|s| !s.is_empty())
    }

    /// The `timeout` option, default 30 s.
    pub fn timeout(&self) -> Duration {
        self.option("timeout")
            .and_then(parse_duration)
            .unwrap_or(Duration::from_secs(30))
    }

    /// Options for display: secrets (tokens, passphrases) as `***`, and in every other option
    /// the credentials of a URL (`https://user:***@host`).
    pub fn display_options(&self) -> BTreeMap<String, String> {
        self.options
            .iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    if kinds::is_secret_option(k) {
                        "***".to_string()
                    } else {
                        mask_url_credentials(v)
                    },
                )
            })
            .collect()
    }
}

/// `scheme://user:pass@host…` → `scheme://user:***@host…`, for every URL in `text`. A user
/// without a password (`https://TOKEN@host`) is often a token, so it becomes `***`. The
/// credentials end at the URL's last `@`: a password with an unescaped `/`, `?` or `#` is
/// still hidden (a path with an `@` is over-masked, which is harmless on display).
pub(crate) fn mask_url_credentials(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("://") {
        let start = i + 3;
        let url_end = rest[start..]
            .find(char::is_whitespace)
            .map_or(rest.len(), |n| start + n);
        out.push_str(&rest[..start]);
        match rest[start..url_end].rfind('@').map(|n| start + n) {
            Some(at) => {
                match rest[start..at].split_once(':') {
                    Some((user, _)) => out.push_str(&format!("{user}:***")),
                    None => out.push_str("***"),
                }
                out.push_str(&rest[at..url_end]);
            }
            None => out.push_str(&rest[start..url_end]),
        }
        rest = &rest[url_end..];
    }
    out.push_str(rest);
    out
}

impl fmt::Debug for BackendSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BackendSpec")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("options", &self.display_options())
            .finish()
    }
}

/// The effective configuration of one project.
#[derive(Debug, Clone)]
pub struct Config {
    /// The project root: the directory holding `.envref.yaml`.
    pub root: PathBuf,
    /// The project's `.envref.yaml`.
    pub file: PathBuf,
    /// The global `config.yaml` the project's values were layered on, if one was read.
    pub global_file: Option<PathBuf>,
    /// The project name: the first segment of every stored key.
    pub project: String,
    /// The base env file, relative to the root (default `.env`).
    pub env_file: String,
    /// The machine-local env file, relative to the root (default `.env.local`).
    pub local_file: String,
    /// The profile used when neither `--profile` nor `$ENVREF_PROFILE` names one.
    pub active_profile: Option<String>,
    /// The declared profiles, by name.
    pub profiles: BTreeMap<String, ProfileConfig>,
    /// The backend chain, in the order lookups try it.
    pub backends: Vec<BackendSpec>,
    /// False when no `backends:` was configured and the default chain (keychain) applies.
    pub backends_configured: bool,
    /// The team `envref sync` encrypts to.
    pub team: Vec<TeamMember>,
    /// Mask secret values in `run`'s and `cargo envref`'s program output unless told otherwise.
    pub mask: bool,
    /// Whether the env files or the process environment win for a variable both define.
    pub precedence: Precedence,
}

/// Which value a variable gets when the env files define it and the process environment
/// already has it: `precedence:` in `.envref.yaml`, `--precedence` on `resolve`, `run` and
/// `cargo envref`, `Loader::precedence`. [`Precedence::apply`] is the one place it is decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Precedence {
    /// The env files win (the default): the project runs with the values it declares,
    /// whatever happens to be exported in the shell.
    #[default]
    Files,
    /// An exported variable wins, as with dotenvy, python-dotenv and docker compose: the env
    /// file's definition of it is not used (a reference in it is not even looked up).
    Environment,
}

/// A variable of the process environment as env files see it (`${NAME}`, and exported values
/// under [`Precedence::Environment`]). envref's own credentials are never there, so a `.env`
/// cannot hand them on under another name to a program or a build (and in the binaries they
/// have left the environment already).
pub(crate) fn exported(name: &str) -> Result<String, std::env::VarError> {
    if CREDENTIAL_VARIABLES.contains(&name) {
        return Err(std::env::VarError::NotPresent);
    }
    std::env::var(name)
}

impl Precedence {
    /// The names `precedence:` and `--precedence` accept.
    pub const NAMES: &'static [&'static str] = &["files", "environment"];

    /// `files` or `environment`.
    pub fn parse(s: &str) -> Option<Precedence> {
        match s {
            "files" => Some(Precedence::Files),
            "environment" => Some(Precedence::Environment),
            _ => None,
        }
    }

    /// Apply `flag`, else the project's `precedence:`, to the project's merged layers (see
    /// [`Precedence::apply`]). Returns warnings.
    pub fn apply_to(
        project: &mut crate::project::Project,
        flag: Option<Precedence>,
    ) -> Vec<String> {
        flag.unwrap_or(project.config.precedence)
            .apply(&mut project.merged)
    }

    /// With [`Precedence::Environment`], give every variable that the process environment has
    /// that value, as literal text, in place of its definition. Returns warnings (a value that
    /// is not UTF-8 cannot be used; the file's definition stays).
    pub fn apply(self, merged: &mut crate::layers::Merged) -> Vec<String> {
        let mut warnings = Vec::new();
        if self == Precedence::Files {
            return warnings;
        }
        for d in merged.definitions_mut() {
            match exported(&d.key) {
                Ok(v) => {
                    d.value = crate::dotenv::Value::Template(crate::template::Template::literal(v))
                }
                Err(std::env::VarError::NotUnicode(_)) => warnings.push(format!(
                    "{}: {}: the exported value is not UTF-8, so the file's value is used",
                    d.location, d.key
                )),
                Err(std::env::VarError::NotPresent) => {}
            }
        }
        warnings
    }
}

impl fmt::Display for Precedence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Precedence::Files => "files",
            Precedence::Environment => "environment",
        })
    }
}

impl Config {
    /// Find `.envref.yaml` in `start` or the nearest parent, and load it.
    pub fn discover(start: &Path) -> Result<Config> {
        let file = find_config(start).ok_or_else(|| {
            Error::not_found(format!(
                "no {CONFIG_FILE} found in {} or any parent directory",
                start.display()
            ))
            .with_hint("run `envref init` in the project's root to create one")
        })?;
        Config::load(&file)
    }

    /// Load and validate `file` (layered on the global config).
    pub fn load(file: &Path) -> Result<Config> {
        let text = std::fs::read_to_string(file).map_err(|e| Error::io(file, e))?;
        Config::load_text(file, &text)
    }

    /// Load and validate `text` as if it were the content of `file` (with the global
    /// defaults merged), without reading `file`: config editors check their result with it.
    pub(crate) fn load_text(file: &Path, text: &str) -> Result<Config> {
        let raw = parse_config(file, text)?;
        let global_file = global_config_file().filter(|p| p.is_file());
        let global = match &global_file {
            Some(g) => read_config_file(g)?,
            None => ConfigFile::default(),
        };
        let root = file
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        Config::from_parts(root, file.to_path_buf(), global_file, raw, global)
    }

    fn from_parts(
        root: PathBuf,
        file: PathBuf,
        global_file: Option<PathBuf>,
        p: ConfigFile,
        g: ConfigFile,
    ) -> Result<Config> {
        let mut problems = Vec::new();
        let project = p.project.or(g.project).unwrap_or_default();
        if let Err(m) = check_project(&project) {
            problems.push(format!("project: {m}"));
        }
        let env_file = p.env_file.or(g.env_file).unwrap_or_else(|| ".env".into());
        let local_file = p
            .local_file
            .or(g.local_file)
            .unwrap_or_else(|| ".env.local".into());
        for (field, value) in [("env_file", &env_file), ("local_file", &local_file)] {
            if value.is_empty() {
                problems.push(format!("{field}: must not be empty"));
            }
        }
        let profiles = p.profiles.or(g.profiles).unwrap_or_default();
        let active_profile = p
            .active_profile
            .or(g.active_profile)
            .filter(|s| !s.is_empty());
        check_profiles(&root, &profiles, active_profile.as_deref(), &mut problems);
        let backends_configured = p.backends.is_some() || g.backends.is_some();
        let entries = p.backends.or(g.backends).unwrap_or_default();
        let backends = backend_specs(&entries, backends_configured, &root, &mut problems);
        let team = p.team.or(g.team).unwrap_or_default();
        let mask = p.mask.or(g.mask).unwrap_or(true);
        let precedence = precedence_option(p.precedence.or(g.precedence), &mut problems);
        check_team(&team, &mut problems);
        if !problems.is_empty() {
            return Err(invalid_configuration(&file, &problems));
        }
        Ok(Config {
            root,
            file,
            global_file,
            project,
            env_file,
            local_file,
            active_profile,
            profiles,
            backends,
            backends_configured,
            team,
            mask,
            precedence,
        })
    }

    /// The profile in effect: the flag, else `$ENVREF_PROFILE`, else `active_profile`.
    pub fn select_profile(&self, flag: Option<&str>) -> Result<Option<String>> {
        let from_env = std::env::var(PROFILE_ENV).ok().filter(|s| !s.is_empty());
        let chosen = flag
            .map(str::to_string)
            .or(from_env)
            .or_else(|| self.active_profile.clone());
        if let Some(p) = &chosen {
            check_profile_name(p).map_err(|m| Error::usage(format!("profile {p}: {m}")))?;
        }
        Ok(chosen)
    }

    /// The env file of `profile`: `profiles.<p>.env_file`, else `.env.<p>`, under the root.
    pub fn profile_file(&self, profile: &str) -> PathBuf {
        let rel = self
            .profiles
            .get(profile)
            .and_then(|p| p.env_file.clone())
            .unwrap_or_else(|| format!(".env.{profile}"));
        self.root.join(rel)
    }

    pub(crate) fn layer_paths(&self, profile: Option<&str>) -> LayerPaths {
        LayerPaths {
            base: self.root.join(&self.env_file),
            profile: profile.map(|p| self.profile_file(p)),
            local: self.root.join(&self.local_file),
        }
    }

    /// The configured backend named `name`.
    pub fn backend(&self, name: &str) -> Option<&BackendSpec> {
        self.backends.iter().find(|b| b.name == name)
    }

    /// The named backend, or an error listing the configured ones.
    pub fn require_backend(&self, name: &str) -> Result<&BackendSpec> {
        self.backend(name).ok_or_else(|| {
            let names: Vec<_> = self.backends.iter().map(|b| b.name.as_str()).collect();
            Error::not_found(format!(
                "no backend named {name} in {}",
                self.file.display()
            ))
            .with_hint(format!("configured backends: {}", names.join(", ")))
        })
    }
}

/// `precedence:` as written; an unknown value is a problem naming the choices.
fn precedence_option(value: Option<String>, problems: &mut Vec<String>) -> Precedence {
    let Some(s) = value else {
        return Precedence::default();
    };
    Precedence::parse(&s).unwrap_or_else(|| {
        problems.push(format!(
            "precedence: {s:?} is not one of: {} (files: the env files win over an exported variable; environment: the exported variable wins)",
            Precedence::NAMES.join(", ")
        ));
        Precedence::default()
    })
}

/// Walk up from `start` to the nearest `.envref.yaml`.
pub fn find_config(start: &Path) -> Option<PathBuf> {
    let start = std::path::absolute(start).ok()?;
    start
        .ancestors()
        .map(|d| d.join(CONFIG_FILE))
        .find(|p| p.is_file())
}

/// `$ENVREF_CONFIG_DIR`, else `$XDG_CONFIG_HOME/envref`, else `~/.config/envref`.
pub(crate) fn global_config_dir() -> Option<PathBuf> {
    let var = |name: &str| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    var("ENVREF_CONFIG_DIR")
        .or_else(|| var("XDG_CONFIG_HOME").map(|d| d.join("envref")))
        .or_else(|| home_dir().map(|h| h.join(".config").join("envref")))
}

/// The global configuration file, `config.yaml` in the global config directory.
pub(crate) fn global_config_file() -> Option<PathBuf> {
    global_config_dir().map(|d| d.join("config.yaml"))
}

pub(crate) fn home_dir() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// Expand a leading `~/` to `$HOME`.
#[cfg(feature = "backends")]
pub(crate) fn expand_tilde(path: &str) -> PathBuf {
    match (path.strip_prefix("~/"), home_dir()) {
        (Some(rest), Some(home)) => home.join(rest),
        _ if path == "~" => home_dir().unwrap_or_else(|| PathBuf::from(path)),
        _ => PathBuf::from(path),
    }
}

pub(crate) fn read_config_file(file: &Path) -> Result<ConfigFile> {
    let text = std::fs::read_to_string(file).map_err(|e| Error::io(file, e))?;
    parse_config(file, &text)
}

pub(crate) fn parse_config(file: &Path, text: &str) -> Result<ConfigFile> {
    let bad_yaml = |e: yaml_serde::Error| {
        let at = e
            .location()
            .map(|l| format!(":{}:{}", l.line(), l.column()))
            .unwrap_or_default();
        let mut msg = e.to_string();
        if let Some(i) = msg.find(" at line ") {
            msg.truncate(i);
        }
        // serde quotes the offending scalar (`invalid type: string "hvs.…"`); it may be a token.
        let msg = without_quoted(&msg);
        let hint = if msg.contains("unknown field") && msg.starts_with("backends[") {
            "a backend entry has `name`, `type` and `config`; its options go under `config:` \
             (`config: {command: ./my-plugin}`)"
        } else {
            "fix the YAML syntax; see `envref init` for a template"
        };
        Error::parse(format!("{}{at}: {msg}", file.display())).with_hint(hint)
    };
    if text.trim().is_empty() {
        return Ok(ConfigFile::default());
    }
    let value: yaml_serde::Value = yaml_serde::from_str(text).map_err(bad_yaml)?;
    if let yaml_serde::Value::Mapping(map) = &value {
        let unknown: Vec<String> = map
            .keys()
            .filter_map(|k| k.as_str())
            .filter(|k| !TOP_LEVEL_KEYS.contains(k))
            .map(str::to_string)
            .collect();
        if !unknown.is_empty() {
            return Err(Error::config(format!(
                "{}: unknown key(s): {}",
                file.display(),
                unknown.join(", ")
            ))
            .with_hint(format!("known keys: {}", TOP_LEVEL_KEYS.join(", "))));
        }
    }
    yaml_serde::from_str(text).map_err(bad_yaml)
}

/// Each team member needs a name and a valid age public key.
fn check_team(team: &[TeamMember], problems: &mut Vec<String>) {
    for (i, m) in team.iter().enumerate() {
        if m.name.trim().is_empty() {
            problems.push(format!("team[{i}]: name is required"));
        }
        if let Err(e) = crate::crypto::check_recipient(&m.public_key) {
            problems.push(format!("team[{i}]: public_key: {e}"));
        }
    }
}

fn validate_backend(entry: &BackendEntry) -> Result<BackendSpec, Vec<String>> {
    let mut problems = backend_name_problems(&entry.name);
    let label = if entry.name.is_empty() {
        "(unnamed)"
    } else {
        entry.name.as_str()
    };
    let kind = entry.kind.clone().unwrap_or_else(|| entry.name.clone());
    let k = match kinds::lookup(&kind) {
        Ok(k) => k,
        Err(unknown) => {
            problems.push(format!("{label}: {unknown}"));
            return Err(problems);
        }
    };
    let mut options = BTreeMap::new();
    for (key, value) in &entry.config {
        match backend_option(k, &kind, key, value) {
            Ok(text) => {
                options.insert(key.clone(), text);
            }
            Err(problem) => problems.push(format!("{label}: {problem}")),
        }
    }
    for req in k.required {
        if options.get(*req).is_none_or(|v| v.is_empty()) {
            problems.push(format!("{label}: option {req} is required for type {kind}"));
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(BackendSpec {
        name: entry.name.clone(),
        kind,
        options,
    })
}

/// What is wrong with a backend's name, if anything.
fn backend_name_problems(name: &str) -> Vec<String> {
    if name.is_empty() {
        vec!["name: required".to_string()]
    } else if name == crate::reference::CHAIN {
        vec!["name: `secrets` is reserved (ref://secrets/… walks the whole chain)".into()]
    } else if let Err(m) = check_name(name) {
        vec![format!("name: {m}")]
    } else {
        vec![]
    }
}

/// One option of a backend of type `kind`, as text; or why it is not accepted.
fn backend_option(
    k: &kinds::KindInfo,
    kind: &str,
    key: &str,
    value: &yaml_serde::Value,
) -> Result<String, String> {
    if !k.options.contains(&key) {
        let valid = if k.options.is_empty() {
            "none".to_string()
        } else {
            k.options.join(", ")
        };
        return Err(format!(
            "unknown option {key:?} for type {kind}; valid options: {valid}"
        ));
    }
    let text = match value {
        yaml_serde::Value::String(s) => s.clone(),
        yaml_serde::Value::Number(n) => n.to_string(),
        yaml_serde::Value::Bool(b) => b.to_string(),
        yaml_serde::Value::Null => String::new(),
        _ => return Err(format!("option {key} must be a string")),
    };
    if key == "timeout" && parse_duration(&text).is_none() {
        return Err("timeout is not a duration of at most 24h (e.g. 30s, 500ms, 2m)".into());
    }
    Ok(text)
}

fn check_project(project: &str) -> Result<(), String> {
    if project.is_empty() {
        return Err(
            "required; it names the namespace secrets are stored under (e.g. `project: my-app`)"
                .into(),
        );
    }
    check_name(project)
}

/// Profile names, and that `active_profile` names a profile that exists.
fn check_profiles(
    root: &Path,
    profiles: &BTreeMap<String, ProfileConfig>,
    active_profile: Option<&str>,
    problems: &mut Vec<String>,
) {
    for name in profiles.keys() {
        if let Err(m) = check_profile_name(name) {
            problems.push(format!("profiles.{name}: {m}"));
        }
    }
    if let Some(a) = active_profile {
        if let Err(m) = check_profile_name(a) {
            problems.push(format!("active_profile: {m}"));
        } else if !profiles.is_empty()
            && !profiles.contains_key(a)
            && !root.join(format!(".env.{a}")).exists()
        {
            problems.push(format!(
                "active_profile: profile {a} is neither under `profiles:` nor has a .env.{a} file"
            ));
        }
    }
}

/// The backends: each entry checked, names unique, the keychain when none is configured;
/// relative paths made relative to the project root.
fn backend_specs(
    entries: &[BackendEntry],
    configured: bool,
    root: &Path,
    problems: &mut Vec<String>,
) -> Vec<BackendSpec> {
    let mut backends = Vec::new();
    for (i, entry) in entries.iter().enumerate() {
        match validate_backend(entry) {
            Ok(spec) => {
                if backends.iter().any(|b: &BackendSpec| b.name == spec.name) {
                    problems.push(format!(
                        "backends[{i}]: duplicate backend name {}",
                        spec.name
                    ));
                }
                backends.push(spec);
            }
            Err(ps) => problems.extend(ps.into_iter().map(|m| format!("backends[{i}]: {m}"))),
        }
    }
    if configured && entries.is_empty() {
        problems.push("backends: the list is empty; remove the key to use the keychain, or list at least one backend".into());
    }
    if !configured {
        backends.push(BackendSpec::new("keychain", "keychain"));
    }
    // A relative vault path, or a command given as a relative path (`./bin/x`), is
    // relative to the project, not to wherever envref runs.
    for b in backends.iter_mut() {
        for (option, is_path) in [("path", b.kind == "vault"), ("command", true)] {
            if let Some(p) = b.options.get_mut(option) {
                let relative_path = !p.starts_with('~')
                    && Path::new(p.as_str()).is_relative()
                    && (option == "path" || p.contains('/'));
                if is_path && relative_path {
                    *p = root.join(&*p).display().to_string();
                }
            }
        }
    }
    backends
}

/// Every problem of a configuration file in one error.
fn invalid_configuration(file: &Path, problems: &[String]) -> Error {
    let list = problems
        .iter()
        .map(|p| format!("  - {p}"))
        .collect::<Vec<_>>()
        .join("\n");
    Error::config(format!(
        "{}: invalid configuration:\n{list}",
        file.display()
    ))
    .with_hint("fix the entries above; `envref config show` prints the effective configuration")
}

/// `msg` without its `"…"` parts (and the blank before each).
fn without_quoted(msg: &str) -> String {
    let mut out = String::with_capacity(msg.len());
    let mut parts = msg.split('"');
    out.push_str(parts.next().unwrap_or_default().trim_end_matches(' '));
    for (i, part) in parts.enumerate() {
        if i % 2 == 1 {
            out.push_str(part.trim_end_matches(' '));
        }
    }
    out
}

/// The longest `timeout` accepted: longer is a typo, and huge values overflow `Duration`.
pub(crate) const MAX_TIMEOUT: Duration = Duration::from_secs(24 * 3600);

/// `30s`, `500ms`, `2m`, `1h 30m` (humantime's units), or plain seconds (`1.5`); `None` unless
/// it is positive and at most [`MAX_TIMEOUT`].
pub(crate) fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let d = if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        Duration::try_from_secs_f64(s.parse().ok()?).ok()?
    } else {
        humantime::parse_duration(s).ok()?
    };
    (!d.is_zero() && d <= MAX_TIMEOUT).then_some(d)
}

/// Check a project or backend name; the error says what is wrong (no name text in it).
pub fn check_name(name: &str) -> Result<(), String> {
    if name.trim() != name || name.is_empty() {
        return Err("must not be empty or have leading/trailing spaces".into());
    }
    if name.contains(['/', '\\']) {
        return Err("must not contain `/` or `\\`".into());
    }
    // A name becomes a segment of stored keys (`<project>/<key>`): no path tricks.
    if name == "." || name == ".." {
        return Err("must not be `.` or `..`".into());
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')))
    {
        return Err(format!(
            "contains {c:?}; use letters, digits, `_`, `-` or `.`"
        ));
    }
    Ok(())
}

/// Whether `name` can be a profile: a valid name that is not the reserved `local` and has no
/// `.` (it becomes part of a file name); the error says why not.
pub fn check_profile_name(name: &str) -> Result<(), String> {
    if name == "local" {
        return Err("the name `local` is reserved for .env.local".into());
    }
    check_name(name)?;
    if name.contains('.') {
        return Err("must not contain `.`".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<Config> {
        let raw = parse_config(Path::new("/p/.envref.yaml"), text)?;
        Config::from_parts(
            "/p".into(),
            "/p/.envref.yaml".into(),
            None,
            raw,
            ConfigFile::default(),
        )
    }

    #[test]
    fn defaults_and_chain() {
        let c = load("project: app\n").unwrap();
        assert_eq!(
            (c.env_file.as_str(), c.local_file.as_str()),
            (".env", ".env.local")
        );
        assert_eq!(c.backends, vec![BackendSpec::new("keychain", "keychain")]);
        assert!(!c.backends_configured);
        let c = load("project: app\nbackends:\n  - name: ssm-a\n    type: aws-ssm\n  - name: ssm-b\n    type: aws-ssm\n    config: {prefix: /x, timeout: 5s}\n").unwrap();
        assert_eq!(c.backends[1].option("prefix"), Some("/x"));
        assert_eq!(c.backends[1].timeout(), Duration::from_secs(5));
    }

    #[test]
    fn every_problem_at_once() {
        let e = load("backends:\n  - name: a\n    type: aws\n  - name: o\n    type: oci-vault\n    config: {vault_id: v, bogus: 1}\n  - name: a\n    type: vault\n")
            .unwrap_err();
        assert!(matches!(e, Error::Config { .. }), "{e:?}");
        let e = e.to_string();
        assert!(e.contains("project: required"), "{e}");
        assert!(
            e.contains("unknown backend type \"aws\"; valid types: keychain, vault, 1password"),
            "{e}"
        );
        assert!(e.contains("option compartment_id is required"), "{e}");
        assert!(e.contains("option key_id is required"), "{e}");
        assert!(e.contains("unknown option \"bogus\""), "{e}");
        let e = load("project: a\nbogus: 1\n").unwrap_err();
        assert!(matches!(e, Error::Config { .. }), "{e:?}");
        assert!(e.to_string().contains("unknown key(s): bogus"));
        let beside = "project: p\nbackends:\n  - name: files\n    type: plugin\n    command: ./x\n";
        let e = parse_config(Path::new(".envref.yaml"), beside).unwrap_err();
        assert!(
            e.to_string()
                .contains(".envref.yaml:5:5: backends[0]: unknown field `command`"),
            "{e}"
        );
        assert!(
            e.hint().unwrap().contains("options go under `config:`"),
            "{:?}",
            e.hint()
        );
    }

    #[test]
    fn tokens_hidden() {
        let c = load("project: a\nbackends:\n  - name: hc\n    type: hashicorp-vault\n    config: {token: hvs.SECRET}\n").unwrap();
        assert!(!format!("{:?}", c).contains("hvs.SECRET"));
        assert_eq!(c.backends[0].display_options()["token"], "***");
    }

    #[test]
    fn yaml_errors_quote_no_scalar() {
        for text in [
            "project: a\nbackends: hvs.SECRET\n",
            "project: a\nbackends:\n  - name: h\n    type: hashicorp-vault\n    config: hvs.SECRET\n",
        ] {
            let e = load(text).unwrap_err();
            assert!(matches!(e, Error::Parse { .. }), "{e:?}");
            // Neither the message nor Debug (nor a kept cause) may quote the value.
            assert!(!format!("{e:?}").contains("SECRET"), "{e:?}");
            let e = e.to_string();
            assert!(e.contains("invalid type: string, expected a"), "{e}");
        }
        let e =
            load("project: a\nbackends:\n  - name: h\n    type: plugin\n    config: {command: x, timeout: SECRET}\n").unwrap_err().to_string();
        assert!(
            e.contains("h: timeout is not a duration") && !e.contains("SECRET"),
            "{e}"
        );
    }

    #[test]
    fn url_credentials_hidden_in_any_option() {
        for (url, shown) in [
            (
                "https://user:SECRET@vault.example:8200/v1",
                "https://user:***@vault.example:8200/v1",
            ),
            (
                "https://ghp_SECRET@github.com/x",
                "https://***@github.com/x",
            ),
            ("http://u:p@SECRET/x#y@host", "http://u:***@host"),
            (
                "a https://u:SECRET@h and b http://SECRET@k/",
                "a https://u:***@h and b http://***@k/",
            ),
            ("https://vault.example:8200", "https://vault.example:8200"),
            ("/usr/bin/plugin", "/usr/bin/plugin"),
        ] {
            assert_eq!(mask_url_credentials(url), shown);
        }
        let c = load("project: a\nbackends:\n  - name: hc\n    type: hashicorp-vault\n    config: {addr: 'https://me:SECRET@h:8200'}\n")
            .unwrap();
        assert_eq!(
            c.backends[0].display_options()["addr"],
            "https://me:***@h:8200"
        );
        assert!(!format!("{c:?}").contains("SECRET"));
    }

    #[test]
    fn huge_or_zero_timeouts_are_errors_not_panics() {
        for t in [
            "1e300",
            "1e20s",
            "99999999999999999999m",
            "25h",
            "0",
            "-1",
            "inf",
            "NaN",
            "1e-20",
        ] {
            let e = load(&format!("project: a\nbackends:\n  - name: h\n    type: plugin\n    config: {{command: x, timeout: \"{t}\"}}\n"))
                .unwrap_err()
                .to_string();
            assert!(
                e.contains("h: timeout is not a duration of at most 24h"),
                "{t}: {e}"
            );
        }
        assert_eq!(parse_duration("24h"), Some(MAX_TIMEOUT));
        assert_eq!(parse_duration("86400"), Some(MAX_TIMEOUT));
        assert_eq!(parse_duration("1m 30s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("1.5"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_duration("0.0000000001"), None, "rounds to zero");
    }
}
