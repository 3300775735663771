//! Project health: `envref status` (does everything resolve, and if not, the exact command
//! that fixes it) and `envref doctor` (is the setup sound: files parse, no duplicate keys,
//! the local file is ignored by git, no plaintext secrets in committed files, backends
//! reachable, vault and keychain usable, direnv trusts the `.envrc`).
//!
//! Resolution asks the same chain as [`crate::resolve`], so a profile's scope is asked before
//! the project's, exactly as `resolve` and `run` do.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::audit;
use crate::backend::kinds::is_secret_option;
use crate::backend::vault::vault_path;
use crate::backend::{Backend, BackendError, BackendKind, Namespace};
use crate::config::{global_config_file, read_config_file, BackendSpec, Config};
use crate::dotenv::Document;
use crate::evaluate::{evaluate, Failure, RefMode};
use crate::layers::LayerPaths;
use crate::project::Project;
use crate::reference::Reference;
use crate::resolve::{lookup, plan, Lookups};
use crate::runner::{Invocation, RunError};
use crate::validate::{absent, optional_references, Schema};

/// Whether a backend can be used right now, found without reading a secret or prompting.
#[derive(Debug, Clone, Serialize)]
pub struct BackendState {
    /// The backend's configured name.
    pub name: String,
    /// Its type.
    #[serde(rename = "type")]
    pub kind: String,
    /// Whether the probe succeeded.
    pub available: bool,
    /// What was found ("Secret Service answered", "vault: locked", …).
    pub detail: String,
    /// How to make it available, when it is not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl BackendState {
    fn ok(spec: &BackendSpec, detail: impl Into<String>) -> Self {
        BackendState {
            name: spec.name.clone(),
            kind: spec.kind.clone(),
            available: true,
            detail: detail.into(),
            hint: None,
        }
    }

    fn failed(spec: &BackendSpec, e: &BackendError) -> Self {
        BackendState {
            name: spec.name.clone(),
            kind: spec.kind.clone(),
            available: false,
            detail: e.message.clone(),
            hint: e.hint.clone(),
        }
    }
}

/// Check one backend with its [`Backend::probe`]: never a secret read, never a prompt.
pub(crate) fn check_backend(
    spec: &BackendSpec,
    backend: &dyn Backend,
    ns: &Namespace,
) -> BackendState {
    match backend.probe(ns) {
        Ok(detail) => BackendState::ok(spec, detail),
        Err(e) => BackendState::failed(spec, &e),
    }
}

/// One file the project may read.
#[derive(Debug, Clone, Serialize)]
pub struct FileState {
    /// `env`, `profile`, `local`, `example` or `schema`.
    pub role: &'static str,
    /// Where the file is.
    pub path: PathBuf,
    /// Whether it exists.
    pub present: bool,
}

/// One distinct reference and what the chain said about it.
#[derive(Debug, Clone, Serialize)]
pub struct SecretState {
    /// The reference as written (`ref://secrets/api_key`).
    pub reference: String,
    /// The secret's key (`api_key` of `ref://secrets/api_key`).
    pub key: String,
    /// The variables whose values name it.
    pub variables: Vec<String>,
    /// Whether some backend has it.
    pub resolved: bool,
    /// The backend that has it, when resolved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backend: Option<String>,
    /// The namespaced key it was found under, when resolved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stored_as: Option<String>,
    /// What each backend said, when not resolved.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<String>,
    /// The command that stores it, when not resolved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
    /// The schema's descriptions of the variables that use it (`KEY: description`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Not resolved, but not a failure: its variables are declared `"required": false` and
    /// no backend has it, so it resolves to their default (or an empty value).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub optional: bool,
    /// For an optional secret: whether a declared default stands in (else an empty value).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub has_default: bool,
}

/// How many variables the project defines, and how many of them need a secret.
#[derive(Debug, Clone, Serialize)]
pub struct KeyCounts {
    /// Every variable.
    pub total: usize,
    /// Variables whose value needs no secret.
    pub config: usize,
    /// Variables whose value needs a secret.
    pub secret: usize,
}

/// What `envref status` reports: the project, its files, its secrets and its backends.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    /// The project name.
    pub project: String,
    /// The profile in effect.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// The project's `.envref.yaml`.
    pub config_file: PathBuf,
    /// The env, profile, local, example and schema files.
    pub files: Vec<FileState>,
    /// How many variables, and how many need a secret.
    pub keys: KeyCounts,
    /// Every distinct reference and whether it resolved.
    pub secrets: Vec<SecretState>,
    /// Every configured backend and whether it answers.
    pub backends: Vec<BackendState>,
    /// Variables that fail for reasons other than a missing secret (`${X:?}`, a cycle).
    pub problems: Vec<String>,
    /// Every reference resolved and no other problem: the project resolves as it stands.
    pub ok: bool,
    /// Non-fatal problems met on the way (duplicate keys, backends skipped).
    #[serde(skip)]
    pub warnings: Vec<String>,
}

impl Status {
    /// The references no backend has, except optional ones.
    pub fn missing(&self) -> impl Iterator<Item = &SecretState> {
        self.secrets.iter().filter(|s| !s.resolved && !s.optional)
    }
}

/// The status of an opened project. `backends` are the project's chain (same order as
/// `project.config.backends`); each is asked at most once per key.
pub fn status(project: &Project, backends: &[Box<dyn Backend>]) -> Status {
    let config = &project.config;
    let ns = project.namespace();
    let refs = plan(project);
    let lookups = if refs.is_empty() {
        Lookups::default()
    } else {
        lookup(&refs, backends, &ns)
    };
    // What the lookups said of each backend; one that was not asked is probed.
    let states: Vec<BackendState> = config
        .backends
        .iter()
        .zip(backends)
        .map(|(spec, b)| match lookups.errors.get(&spec.name) {
            Some(e) => BackendState::failed(spec, e),
            None if lookups.answered.contains(&spec.name) => BackendState::ok(spec, "answered"),
            None => check_backend(spec, b.as_ref(), &ns),
        })
        .collect();
    let mut warnings = project.merged.warnings().to_vec();
    let schema = Schema::of_project(project).unwrap_or_else(|e| {
        warnings.push(format!("{e}; descriptions and optional keys are not used"));
        None
    });
    let secrets = secret_states(project, &refs, &lookups, &states, schema.as_ref());

    let with = evaluate(&project.merged, RefMode::Resolved(&lookups.secrets), false);
    let problems: Vec<String> = with
        .failures
        .iter()
        .filter_map(|(k, f)| match f {
            Failure::Invalid(m) => Some(format!("{k}: {m}")),
            Failure::Unresolved(_) => None,
        })
        .collect();

    warnings.extend(lookups.warnings);
    let ok = secrets.iter().all(|s| s.resolved || s.optional) && problems.is_empty();
    Status {
        project: config.project.clone(),
        profile: project.profile.clone(),
        config_file: config.file.clone(),
        files: file_states(project),
        keys: key_counts(project),
        secrets,
        backends: states,
        problems,
        ok,
        warnings,
    }
}

/// How many variables there are, and how many need a secret (found by evaluating with none).
fn key_counts(project: &Project) -> KeyCounts {
    let none = Default::default();
    let without = evaluate(&project.merged, RefMode::Resolved(&none), false);
    let secret = without
        .failures
        .iter()
        .filter(|(_, f)| matches!(f, Failure::Unresolved(_)))
        .count();
    let total = project.merged.definitions().len();
    KeyCounts {
        total,
        config: total - secret,
        secret,
    }
}

/// What the chain said about each reference, with the variables that use it and, when it
/// is missing, the command that stores it.
fn secret_states(
    project: &Project,
    refs: &[Reference],
    lookups: &Lookups,
    states: &[BackendState],
    schema: Option<&Schema>,
) -> Vec<SecretState> {
    let optional = schema
        .map(|s| optional_references(project, s))
        .unwrap_or_default();
    let mut users: BTreeMap<&Reference, Vec<String>> = BTreeMap::new();
    for d in project.merged.definitions() {
        for r in d.value.references() {
            users.entry(r).or_default().push(d.key.to_string());
        }
    }
    refs.iter()
        .map(|r| {
            let found = lookups.found.get(r);
            let variables = users.get(r).cloned().unwrap_or_default();
            let stand_in = optional.get(r).filter(|_| absent(lookups, r));
            SecretState {
                reference: r.to_string(),
                key: r.shown_key(),
                description: schema.and_then(|s| s.describe(&variables)),
                optional: stand_in.is_some(),
                has_default: stand_in.is_some_and(|o| o.has_default),
                variables,
                resolved: found.is_some(),
                backend: found.map(|(backend, _)| backend.clone()),
                stored_as: found.map(|(_, stored)| stored.clone()),
                reasons: match found {
                    Some(_) => vec![],
                    None => lookups.failures.get(r).cloned().unwrap_or_default(),
                },
                fix: found
                    .is_none()
                    .then(|| fix_command(r, states, project.profile.as_deref())),
            }
        })
        .collect()
}

/// The files the project may read, and whether each is there.
fn file_states(project: &Project) -> Vec<FileState> {
    let state = |role, path: &Path| FileState {
        role,
        present: path.is_file(),
        path: path.to_path_buf(),
    };
    let mut files = vec![state("env", &project.paths.base)];
    files.extend(
        project
            .paths
            .profile
            .as_deref()
            .map(|p| state("profile", p)),
    );
    files.push(state("local", &project.paths.local));
    for (role, name) in [("example", ".env.example"), ("schema", ".env.schema.json")] {
        files.push(state(role, &project.config.root.join(name)));
    }
    files
}

/// The fix for a missing reference: `envref secret set <key> --backend <b>` with the named
/// backend, or for `ref://secrets/…` the first available backend of the chain. When that
/// backend is unavailable, storing into it cannot work: the fix is making it available.
pub(crate) fn fix_command(
    r: &Reference,
    backends: &[BackendState],
    profile: Option<&str>,
) -> String {
    let state = if r.is_chain() {
        backends.iter().find(|b| b.available).or(backends.first())
    } else {
        backends.iter().find(|b| b.name == r.target)
    };
    if let Some(b) = state.filter(|b| !b.available) {
        let how = b
            .hint
            .clone()
            .unwrap_or_else(|| crate::backend::backend_hint(&b.name, &b.kind));
        return format!("backend {} is unavailable: {how}", b.name);
    }
    if let Some(fix) = r.outside_namespace_fix() {
        return fix;
    }
    let backend = state.map(|b| b.name.clone()).unwrap_or_else(|| {
        if r.is_chain() {
            "<backend>".into()
        } else {
            r.target.clone()
        }
    });
    let mut cmd = format!("envref secret set {} --backend {backend}", r.key);
    if let Some(p) = profile {
        cmd.push_str(&format!(" -P {p}"));
    }
    cmd
}

/// How bad a `doctor` finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth fixing; `doctor` still exits 0.
    Warning,
    /// Something is broken; `doctor` exits 1.
    Error,
}

/// One thing `doctor` found, with the fix.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// How bad it is.
    pub severity: Severity,
    /// Which check: `config`, `credential`, `parse`, `duplicate`, `gitignore`, `plaintext`,
    /// `backend`, `vault`, `keychain`, `direnv`, `unresolved`, `profile`.
    pub check: &'static str,
    /// A file, or `file:line`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// What is wrong.
    pub message: String,
    /// How to fix it, when there is a known fix.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl Finding {
    fn new(
        severity: Severity,
        check: &'static str,
        location: Option<String>,
        message: impl Into<String>,
        fix: Option<String>,
    ) -> Self {
        Finding {
            severity,
            check,
            location,
            message: message.into(),
            fix,
        }
    }

    /// An error that stops a check, with its hint as the fix.
    fn error(check: &'static str, location: Option<String>, e: &crate::Error) -> Self {
        let fix = e.hint().map(String::from);
        Finding::new(Severity::Error, check, location, e.to_string(), fix)
    }
}

/// Everything `doctor` checks, for the project found from `dir`. `build` makes the chain's
/// backends (they are probed, never asked for a secret).
pub fn doctor(
    dir: &Path,
    profile_flag: Option<&str>,
    build: impl FnOnce(&Config) -> crate::Result<Vec<Box<dyn Backend>>>,
) -> Vec<Finding> {
    let config = match Config::discover(dir) {
        Ok(c) => c,
        Err(e) => return vec![Finding::error("config", None, &e)],
    };
    let mut out = Vec::new();
    let shown_config = relative(&config.root, &config.file);
    let profile = match config.select_profile(profile_flag) {
        Ok(p) => p,
        Err(e) => {
            let at = Some(shown_config.clone());
            out.push(Finding::error("config", at, &e));
            None
        }
    };
    // The project's config is committed: it must not carry a credential.
    out.extend(config_credentials(&config.file, &shown_config));
    let paths = config.layer_paths(profile.as_deref());
    let all_parse = env_file_findings(&config, &paths, &mut out);
    // Git: the local file must be ignored; the base file is meant to be committed.
    out.extend(gitignore_findings(&config, &paths.local, &paths.base));
    // Backends: usable? Errors only when none is and the project needs one.
    let needs_backend = !(all_parse && paths.base.is_file())
        || Project::from_config(config.clone(), profile.as_deref())
            .map(|p| !plan(&p).is_empty())
            .unwrap_or(true);
    // Vault permissions as found, before a probe opens the file.
    let vaults = config
        .backends
        .iter()
        .filter(|b| BackendKind::of(b) == Some(BackendKind::Vault));
    for spec in vaults {
        out.extend(vault_permissions(&vault_path(Some(spec))));
    }
    out.extend(backend_findings(&config, profile, needs_backend, build));
    out.extend(direnv_findings(&config.root));
    out.sort_by_key(|f| std::cmp::Reverse(f.severity));
    out
}

/// `p` relative to the project root, for a finding's location.
fn relative(root: &Path, p: &Path) -> String {
    p.strip_prefix(root).unwrap_or(p).display().to_string()
}

/// The env files: each parses, has no duplicate keys, and no plaintext secret when committed.
/// Returns whether every file parsed.
fn env_file_findings(config: &Config, paths: &LayerPaths, out: &mut Vec<Finding>) -> bool {
    let committed = audit::committed_env_files(config);
    let mut files: Vec<PathBuf> = committed.clone();
    files.extend(paths.profile.iter().filter(|p| p.is_file()).cloned());
    if paths.local.is_file() {
        files.push(paths.local.clone());
    }
    let mut seen = std::collections::HashSet::new();
    files.retain(|f| seen.insert(f.clone()));
    if !paths.base.is_file() {
        let base = relative(&config.root, &paths.base);
        out.push(Finding::new(
            Severity::Error,
            "parse",
            Some(base.clone()),
            "the env file does not exist",
            Some(format!(
                "create {base} (`envref init` writes one) or set `env_file` in .envref.yaml"
            )),
        ));
    }
    let mut all_parse = true;
    for f in &files {
        let shown = relative(&config.root, f);
        match Document::load(f) {
            Err(e) => {
                all_parse = false;
                out.push(Finding::error("parse", Some(shown), &e));
            }
            Ok(doc) => {
                out.extend(duplicate_findings(f, &shown, &doc));
                if committed.contains(f) {
                    out.extend(plaintext_findings(&shown, &doc));
                } else {
                    // The local file may hold plaintext secrets, not a reference that stays text.
                    for e in doc.all_entries() {
                        if let Some(why) = audit::unresolved_reason(&e.value) {
                            let at = format!("{shown}:{}", e.pos.line);
                            out.push(unresolved_finding(&at, &e.key, why));
                        }
                    }
                }
            }
        }
    }
    all_parse
}

/// The document's duplicate-key warnings, located by line.
fn duplicate_findings(file: &Path, shown: &str, doc: &Document) -> Vec<Finding> {
    let own_prefix = format!("{}:", file.display());
    doc.warnings()
        .iter()
        .map(|w| {
            let w = w
                .strip_prefix(&own_prefix)
                .map(|s| format!("line {s}"))
                .unwrap_or_else(|| w.clone());
            let fix = Some("delete the definition that should not win".into());
            Finding::new(
                Severity::Warning,
                "duplicate",
                Some(shown.to_string()),
                w,
                fix,
            )
        })
        .collect()
}

/// What the audit finds in a committed file: references that stay text, plaintext secrets.
fn plaintext_findings(shown: &str, doc: &Document) -> Vec<Finding> {
    let mut out = Vec::new();
    for hit in audit::scan(doc) {
        let at = format!("{shown}:{}", hit.line);
        if let audit::Evidence::Unresolved(why) = hit.evidence {
            out.push(unresolved_finding(&at, &hit.key, why));
            continue;
        }
        let severity = if matches!(hit.evidence, audit::Evidence::Entropy(_)) {
            Severity::Warning
        } else {
            Severity::Error
        };
        let secret_key = hit.key.to_ascii_lowercase();
        out.push(Finding::new(
            severity,
            "plaintext",
            Some(at),
            format!(
                "{} may be a plaintext secret ({}: {})",
                hit.key,
                hit.evidence.reason(),
                hit.preview
            ),
            Some(format!(
                "store it with `envref secret set {secret_key}`, then set \
                 {}=ref://secrets/{secret_key} (and rotate it: it was committed)",
                hit.key
            )),
        ));
    }
    out
}

/// Vault permissions, the profile against the backends, and a probe of each backend: an
/// unusable one is an error only when none is usable and the project needs one.
fn backend_findings(
    config: &Config,
    profile: Option<String>,
    needs_backend: bool,
    build: impl FnOnce(&Config) -> crate::Result<Vec<Box<dyn Backend>>>,
) -> Vec<Finding> {
    let mut out = Vec::new();
    // Vault permissions as found, before a probe opens the file.
    let vaults = config
        .backends
        .iter()
        .filter(|b| BackendKind::of(b) == Some(BackendKind::Vault));
    for spec in vaults {
        out.extend(vault_permissions(&vault_path(Some(spec))));
    }
    let backends = match build(config) {
        Ok(b) => b,
        Err(e) => {
            let at = Some(relative(&config.root, &config.file));
            out.push(Finding::error("backend", at, &e));
            return out;
        }
    };
    if let Some(p) = &profile {
        match crate::profile::check_selected(config, p, &backends) {
            Err(e) => out.push(Finding::error("profile", None, &e)),
            Ok(Some(w)) => out.push(Finding::new(Severity::Warning, "profile", None, w, None)),
            Ok(None) => {}
        }
    }
    let ns = Namespace::new(&config.project, profile);
    let states: Vec<BackendState> = config
        .backends
        .iter()
        .zip(&backends)
        .map(|(s, b)| check_backend(s, b.as_ref(), &ns))
        .collect();
    out.extend(unusable_findings(&states, needs_backend));
    out
}

/// A finding for each backend that cannot be used: an error when none can and the project
/// needs one, else a warning.
fn unusable_findings(states: &[BackendState], needs_backend: bool) -> Vec<Finding> {
    let severity = if needs_backend && !states.iter().any(|s| s.available) {
        Severity::Error
    } else {
        Severity::Warning
    };
    let unusable = states.iter().filter(|s| !s.available);
    unusable
        .map(|s| {
            // The local stores have checks of their own name; the rest are `backend`.
            let check = match BackendKind::from_name(&s.kind) {
                Some(k @ (BackendKind::Vault | BackendKind::Keychain)) => k.name(),
                _ => "backend",
            };
            let message = format!("backend {} ({}): {}", s.name, s.kind, s.detail);
            Finding::new(severity, check, None, message, s.hint.clone())
        })
        .collect()
}

fn unresolved_finding(location: &str, key: &str, why: &str) -> Finding {
    Finding::new(
        Severity::Error,
        "unresolved",
        Some(location.to_string()),
        format!("{key} looks like a reference but is passed through as text"),
        Some(why.to_string()),
    )
}

/// Credentials written into the project's `.envref.yaml` (a `token:`-like option, or a URL
/// with a password in any option): the file is committed, so they reach everyone with the
/// repository. Only the project file counts: the global config is the place for them.
fn config_credentials(file: &Path, shown: &str) -> Vec<Finding> {
    let (Ok(text), Ok(raw)) = (std::fs::read_to_string(file), read_config_file(file)) else {
        return Vec::new(); // unreadable or invalid: reported by the config check
    };
    let mut out = Vec::new();
    for entry in raw.backends.iter().flatten() {
        for (option, value) in &entry.config {
            let Some(value) = value.as_str().filter(|v| !v.trim().is_empty()) else {
                continue;
            };
            let kind = entry.kind.as_deref().unwrap_or("");
            let (what, fix) = if is_secret_option(option) {
                let via = match (kind, option.as_str()) {
                    ("hashicorp-vault", "token") => "set VAULT_TOKEN in your environment or run `vault login`".to_string(),
                    _ => format!(
                        "give it to the backend through its environment, or define the backend in your global config ({}), which is never committed",
                        global_config_file().map(|p| p.display().to_string()).unwrap_or_else(|| "~/.config/envref/config.yaml".into())
                    ),
                };
                (
                    format!("`{option}:` holds a credential"),
                    format!("remove `{option}:` from {shown} and {via}"),
                )
            } else if audit::has_url_password(value) {
                (
                    format!("`{option}:` holds a URL with a password"),
                    format!("remove the user:password part from `{option}:` in {shown} and log in with the backend's own tool instead"),
                )
            } else {
                continue;
            };
            let at = option_line(&text, &entry.name, option)
                .map(|l| format!("{shown}:{l}"))
                .unwrap_or_else(|| shown.to_string());
            out.push(Finding::new(
                Severity::Error,
                "credential",
                Some(at),
                format!(
                    "backend {}: {what} in the project's config, which is meant to be committed",
                    entry.name
                ),
                Some(format!(
                    "{fix}; revoke it if the file was ever committed or shared"
                )),
            ));
        }
    }
    out
}

/// The line (from 1) of `option:` in the block of backend `name`, for the finding's location.
fn option_line(text: &str, name: &str, option: &str) -> Option<usize> {
    let is_key = |line: &str, key: &str| {
        line.match_indices(key).any(|(i, _)| {
            let before = line[..i].chars().next_back();
            let after = line[i + key.len()..].trim_start();
            before.is_none_or(|c| c.is_whitespace() || matches!(c, '{' | ',' | '-'))
                && after.starts_with(':')
        })
    };
    let start = text.lines().position(|l| {
        is_key(l, "name")
            && l.split_once(':')
                .is_some_and(|(_, v)| v.trim().trim_matches(['"', '\'']) == name)
    })?;
    text.lines()
        .enumerate()
        .skip(start)
        .find(|(_, l)| is_key(l, option))
        .map(|(i, _)| i + 1)
}

/// The vault file must not be readable by others (it holds ciphertexts and the wrapped key),
/// nor its directory open to them (whoever can write there can swap the file).
fn vault_permissions(path: &Path) -> Vec<Finding> {
    let mut out = Vec::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| {
            std::fs::metadata(p)
                .ok()
                .map(|m| m.permissions().mode() & 0o777)
        };
        if let Some(m) = mode(path).filter(|m| m & 0o077 != 0) {
            out.push(Finding::new(
                Severity::Warning,
                "vault",
                Some(path.display().to_string()),
                format!("the vault file is readable by other users (mode {m:o})"),
                Some(format!("chmod 600 {}", path.display())),
            ));
        }
        let dir = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        if let Some(m) = mode(dir).filter(|m| m & 0o077 != 0) {
            let (severity, what) = if m & 0o022 != 0 {
                (
                    Severity::Error,
                    "writable by other users, who could replace the vault file",
                )
            } else {
                (
                    Severity::Warning,
                    "open to other users, who can see which vault files it holds",
                )
            };
            out.push(Finding::new(
                severity,
                "vault",
                Some(dir.display().to_string()),
                format!("the vault directory is {what} (mode {m:o}, expected 700)"),
                Some(format!("chmod 700 {}", dir.display())),
            ));
        }
    }
    let _ = path;
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum GitState {
    /// Not in a git work tree, or git is not installed.
    NoRepo,
    Tracked,
    Ignored,
    NotIgnored,
}

fn git(root: &Path, args: &[&str]) -> Result<bool, RunError> {
    let out = Invocation::new("git")
        .args(["-C".as_ref(), root.as_os_str()])
        .args(args.iter().copied())
        .run()?;
    Ok(out.success())
}

fn in_git_work_tree(root: &Path) -> bool {
    matches!(git(root, &["rev-parse", "--is-inside-work-tree"]), Ok(true))
}

/// How git sees `rel`; `in_repo` is [`in_git_work_tree`] of `root`.
fn git_state(root: &Path, in_repo: bool, rel: &str) -> GitState {
    if !in_repo {
        return GitState::NoRepo;
    }
    if git(root, &["ls-files", "--error-unmatch", "--", rel]).unwrap_or(false) {
        return GitState::Tracked;
    }
    match git(root, &["check-ignore", "-q", "--", rel]) {
        Ok(true) => GitState::Ignored,
        _ => GitState::NotIgnored,
    }
}

fn gitignore_findings(config: &Config, local: &Path, base: &Path) -> Vec<Finding> {
    let mut out = Vec::new();
    let rel = |p: &Path| relative(&config.root, p);
    let local_rel = rel(local);
    let add = format!("echo {local_rel} >> .gitignore");
    let in_repo = in_git_work_tree(&config.root);
    match git_state(&config.root, in_repo, &local_rel) {
        GitState::Tracked => out.push(Finding::new(
            Severity::Error,
            "gitignore",
            Some(local_rel.clone()),
            format!(
                "{local_rel} is committed to git; it is for this machine only and may hold secrets"
            ),
            Some(format!(
                "git rm --cached {local_rel} && {add} (and rotate any secret it held)"
            )),
        )),
        GitState::NotIgnored => out.push(Finding::new(
            if local.exists() {
                Severity::Error
            } else {
                Severity::Warning
            },
            "gitignore",
            Some(local_rel.clone()),
            format!("{local_rel} is not ignored by git, so it could be committed"),
            Some(add),
        )),
        GitState::Ignored => {}
        GitState::NoRepo => {
            // Not a git work tree (yet): read .gitignore itself, by git's rules.
            let listed = gitignore_lists(&config.root, &local_rel);
            if !listed {
                out.push(Finding::new(
                    Severity::Warning,
                    "gitignore",
                    Some(local_rel.clone()),
                    format!("{local_rel} is not listed in .gitignore"),
                    Some(add),
                ));
            }
        }
    }
    // The base file holds references and is meant to be committed (unlike the Go envref,
    // doctor never asks to ignore it); ignoring it keeps the references from the team.
    let base_rel = rel(base);
    if git_state(&config.root, in_repo, &base_rel) == GitState::Ignored {
        out.push(Finding::new(
            Severity::Warning,
            "gitignore",
            Some(base_rel.clone()),
            format!("{base_rel} is ignored by git, so the team does not get its references"),
            Some(format!("remove the line that ignores it (`git check-ignore -v {base_rel}` shows it) and commit {base_rel}")),
        ));
    }
    out
}

/// Whether `root`'s `.gitignore` ignores `rel` (a file relative to `root`) by git's rules:
/// `**`, character classes, negation, directories. An unreadable file lists nothing; a bad
/// line is skipped, as git skips it.
fn gitignore_lists(root: &Path, rel: &str) -> bool {
    let mut rules = ignore::gitignore::GitignoreBuilder::new(root);
    let _partial = rules.add(root.join(".gitignore"));
    rules
        .build()
        .map(|g| {
            g.matched_path_or_any_parents(root.join(rel), false)
                .is_ignore()
        })
        .unwrap_or(false)
}

/// `.envrc` in the project root: direnv installed, the file allowed, errors not swallowed.
fn direnv_findings(root: &Path) -> Vec<Finding> {
    let mut out = Vec::new();
    let envrc = root.join(".envrc");
    if !envrc.is_file() {
        return out;
    }
    let text = std::fs::read_to_string(&envrc).unwrap_or_default();
    if text.contains("envref resolve") && (text.contains("|| true") || text.contains("2>/dev/null"))
    {
        out.push(Finding::new(
            Severity::Warning,
            "direnv",
            Some(".envrc".into()),
            ".envrc hides envref's errors, so direnv can load a partial environment without saying why",
            Some("rewrite it with `envref init --direnv --force`".into()),
        ));
    }
    match Invocation::new("direnv").arg("status").current_dir(root).run() {
        Err(RunError::NotFound(_)) => out.push(Finding::new(
            Severity::Warning,
            "direnv",
            Some(".envrc".into()),
            ".envrc exists but direnv is not installed",
            Some("install direnv (https://direnv.net: `apt install direnv`, `brew install direnv`) and hook it into your shell".into()),
        )),
        Err(e) => out.push(Finding::new(Severity::Warning, "direnv", Some(".envrc".into()), format!("direnv status: {e}"), None)),
        Ok(o) => {
            let text = o.stdout_str();
            let allowed = text.lines().find_map(|l| l.strip_prefix("Found RC allowed ")).map(str::trim);
            if !matches!(allowed, Some("true" | "0")) {
                out.push(Finding::new(
                    Severity::Warning,
                    "direnv",
                    Some(".envrc".into()),
                    ".envrc is not allowed by direnv, so it is not loaded",
                    Some(format!("read it, then run `direnv allow {}`", root.display())),
                ));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gitignore_by_gits_rules() {
        let dir = tempfile::tempdir().unwrap();
        let lists = |lines: &str, rel: &str| {
            std::fs::write(dir.path().join(".gitignore"), lines).unwrap();
            gitignore_lists(dir.path(), rel)
        };
        assert!(lists(".env.local\n", ".env.local"));
        assert!(lists("# c\n/.env.local\n", ".env.local"));
        assert!(lists(".env*\n", ".env.local"));
        assert!(lists("*.local\n", ".env.local"));
        assert!(!lists(".env\n", ".env.local"));
        assert!(!lists("!.env.local\n", ".env.local"));
        assert!(lists(".env.local\n", "config/.env.local"));
        assert!(!lists("/.env.local\n", "config/.env.local"));
        // What the hand-written matcher got wrong: `**`, character classes, negation, dirs.
        assert!(lists("**/.env.local\n", "config/.env.local"));
        assert!(lists("config/**\n", "config/.env.local"));
        assert!(lists(".env.[lL]ocal\n", ".env.Local"));
        assert!(!lists(".env.[!l]ocal\n", ".env.local"));
        assert!(!lists(".env*\n!.env.local\n", ".env.local"));
        assert!(lists("!.env.local\n.env*\n", ".env.local"));
        assert!(lists("config/\n", "config/.env.local"));
        assert!(
            lists("[\n.env.local\n", ".env.local"),
            "a bad line is skipped"
        );
        std::fs::remove_file(dir.path().join(".gitignore")).unwrap();
        assert!(!gitignore_lists(dir.path(), ".env.local"));
    }

    #[test]
    fn fix_commands() {
        let r = Reference::parse("ref://secrets/api_key").unwrap();
        let st = |name: &str, available| BackendState {
            name: name.into(),
            kind: "x".into(),
            available,
            detail: String::new(),
            hint: None,
        };
        let states = [st("keychain", false), st("vault", true)];
        assert_eq!(
            fix_command(&r, &states, None),
            "envref secret set api_key --backend vault"
        );
        assert_eq!(
            fix_command(&r, &states, Some("staging")),
            "envref secret set api_key --backend vault -P staging"
        );
        let named = Reference::parse("ref://ssm-prod/db").unwrap();
        assert_eq!(
            fix_command(&named, &states, None),
            "envref secret set db --backend ssm-prod"
        );
        // An unavailable backend is never where the fix stores a secret.
        let down = [BackendState {
            hint: Some("use the local vault instead".into()),
            detail: "no Secret Service".into(),
            ..st("keychain", false)
        }];
        let fix = fix_command(&r, &down, None);
        assert_eq!(
            fix,
            "backend keychain is unavailable: use the local vault instead"
        );
        let kc = Reference::parse("ref://keychain/db").unwrap();
        assert!(fix_command(&kc, &states, None).starts_with("backend keychain is unavailable"));
    }

    #[test]
    fn credentials_in_the_project_config() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(".envref.yaml");
        let yaml = "project: app\nbackends:\n  - name: vault\n    type: vault\n  - name: hc\n    type: hashicorp-vault\n    config:\n      addr: https://ops:CANARY-pw@vault.example\n      token: CANARY-token\n  - name: hc2\n    type: hashicorp-vault\n    config: {addr: \"https://vault.example\", token: \"\"}\n";
        std::fs::write(&file, yaml).unwrap();
        let f = config_credentials(&file, ".envref.yaml");
        let got: Vec<(&str, &str)> = f
            .iter()
            .map(|f| (f.location.as_deref().unwrap(), f.message.as_str()))
            .collect();
        assert_eq!(f.len(), 2, "{got:?}");
        assert!(f
            .iter()
            .all(|f| f.severity == Severity::Error && f.check == "credential"));
        assert_eq!(got[0].0, ".envref.yaml:8");
        assert!(
            got[0].1.contains("`addr:` holds a URL with a password"),
            "{got:?}"
        );
        assert_eq!(got[1].0, ".envref.yaml:9");
        assert!(
            f[1].fix.as_deref().unwrap().contains("VAULT_TOKEN"),
            "{f:?}"
        );
        assert!(!format!("{f:?}").contains("CANARY"), "{f:?}");
        std::fs::write(
            &file,
            "project: app\nbackends:\n  - name: hc\n    type: hashicorp-vault\n    config: {addr: \"https://vault.example\"}\n",
        )
        .unwrap();
        assert!(config_credentials(&file, ".envref.yaml").is_empty());
    }

    #[test]
    fn option_lines() {
        let text = "backends:\n  - name: a\n    config:\n      token: x\n  - name: b\n    config: {addr: y, token: z}\n";
        assert_eq!(option_line(text, "a", "token"), Some(4));
        assert_eq!(option_line(text, "b", "token"), Some(6));
        assert_eq!(option_line(text, "c", "token"), None);
    }

    #[cfg(unix)]
    #[test]
    fn vault_directory_mode() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let vault_dir = dir.path().join("envref");
        std::fs::create_dir(&vault_dir).unwrap();
        let db = vault_dir.join("vault.db");
        let chmod =
            |m| std::fs::set_permissions(&vault_dir, std::fs::Permissions::from_mode(m)).unwrap();
        chmod(0o700);
        assert!(vault_permissions(&db).is_empty());
        chmod(0o755);
        let f = vault_permissions(&db);
        assert_eq!((f.len(), f[0].severity), (1, Severity::Warning), "{f:?}");
        assert_eq!(
            f[0].fix.as_deref(),
            Some(format!("chmod 700 {}", vault_dir.display()).as_str())
        );
        chmod(0o777);
        assert_eq!(vault_permissions(&db)[0].severity, Severity::Error);
        chmod(0o700);
    }
}
