//! Trust in a project's `.envref.yaml`, like `direnv allow`: a program that the project's
//! config names runs only once the user has run `envref allow` on that exact file.
//!
//! - Named by the project: a `command:` other than the type's default, `addr:` of a
//!   `hashicorp-vault` backend (it decides where the user's Vault token is sent), and any
//!   program that resolves to a file inside the project (a relative `command:`, or a default
//!   name found through a `PATH` entry that points into the project). All of this only for
//!   backends that come from a file inside the project; the user's global config is trusted.
//! - An allow is a record in the user's state directory: one file per config, named by the
//!   SHA-256 of its canonical path, holding the SHA-256 of its content. Any edit of the file
//!   makes the record stale, so the next run asks again.
//! - Records are believed only from a private state directory outside the project: a repo's
//!   own `.cargo/config.toml` `[env]` could otherwise point `XDG_STATE_HOME` at a forged one.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::backend::kinds;
use crate::config::{read_config_file, BackendSpec, Config};
use crate::{Error, Result};

/// A program (or server) a backend would use that needs the project to be allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Named {
    /// The backend's configured name.
    pub backend: String,
    /// Its type.
    pub kind: String,
    /// What it runs, e.g. `/src/app/bin/helper`, or `envref-backend-x (found in the project: …)`.
    pub what: String,
}

impl std::fmt::Display for Named {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "backend {} ({}): {}", self.backend, self.kind, self.what)
    }
}

/// Whether the user has allowed a config file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    /// Allowed, and unchanged since.
    Allowed,
    /// Allowed once, but the file has changed since.
    Changed,
    /// Never allowed (or the allowance was revoked).
    NotAllowed,
}

/// The programs among `specs` (backends of `config`) that need `config.file` allowed.
pub fn named(config: &Config, specs: &[&BackendSpec]) -> Vec<Named> {
    let root = canonical(&config.root);
    // Backends come whole from the project file, else from the global file.
    let source = match read_config_file(&config.file) {
        Ok(f) if f.backends.is_none() => config.global_file.clone(),
        _ => Some(config.file.clone()),
    };
    let from_project = source.is_some_and(|s| canonical(&s).starts_with(&root));
    let mut out = Vec::new();
    for spec in specs {
        let Some(program) = kinds::program(spec) else {
            continue;
        };
        let renamed = spec.option("command").is_some()
            && Some(&program) != kinds::default_program(spec).as_ref();
        let found_inside = locate(&program).filter(|p| canonical(p).starts_with(&root));
        let addr = from_project && spec.kind == "hashicorp-vault" && spec.option("addr").is_some();
        if found_inside.is_none() && !(from_project && renamed) && !addr {
            continue;
        }
        let bare = !program.contains(std::path::MAIN_SEPARATOR);
        // `<root>/./bin/x` reads as `<root>/bin/x` (components drop the `.`).
        let mut what = if bare {
            program.clone()
        } else {
            Path::new(&program)
                .components()
                .collect::<PathBuf>()
                .display()
                .to_string()
        };
        if let Some(p) = found_inside.filter(|_| bare) {
            what = format!("{program} (found in the project: {})", p.display());
        }
        if addr {
            what.push_str(" (with the project's addr:, where your Vault token goes)");
        }
        out.push(Named {
            backend: spec.name.clone(),
            kind: spec.kind.clone(),
            what,
        });
    }
    out
}

/// Refuse when any of `specs` needs `config.file` allowed and it is not (or has changed).
/// The error names the programs and the command that allows the file.
pub(crate) fn check(config: &Config, specs: &[&BackendSpec]) -> Result<()> {
    let named = named(config, specs);
    if named.is_empty() {
        return Ok(());
    }
    let file = config.file.display();
    let allow = format!("if you trust it, run `{}`", allow_command(config));
    let (why, hint, cause) = match state(&config.file) {
        Ok(State::Allowed) => return Ok(()),
        Ok(State::Changed) => (
            "has changed since you allowed it".to_string(),
            format!("read what changed in {file}; {allow}"),
            None,
        ),
        Ok(State::NotAllowed) => (
            "is not allowed yet".to_string(),
            format!("read {file}; {allow}"),
            None,
        ),
        Err(e) => (
            format!("cannot be checked ({e})"),
            e.hint()
                .map_or_else(|| format!("read {file}; {allow}"), String::from),
            Some(e),
        ),
    };
    let list: Vec<String> = named.iter().map(|n| format!("  - {n}")).collect();
    let e = Error::not_allowed(format!(
        "{file} {why}; envref runs the programs it names only once you allow it:\n{}",
        list.join("\n")
    ))
    .with_hint(hint);
    Err(match cause {
        Some(cause) => e.with_source(cause),
        None => e,
    })
}

/// `envref allow`, with `-C <root>` when the current directory would not find this config.
pub(crate) fn allow_command(config: &Config) -> String {
    let here = std::env::current_dir()
        .ok()
        .and_then(|d| crate::config::find_config(&d));
    if here.is_some_and(|f| canonical(&f) == canonical(&config.file)) {
        "envref allow".into()
    } else {
        format!(
            "envref -C {} allow",
            crate::output::shell_quote(&config.root.display().to_string())
        )
    }
}

/// Whether `file` is allowed as it is now.
pub(crate) fn state(file: &Path) -> Result<State> {
    let record = record_path(file)?;
    if !private(&record) {
        return Ok(State::NotAllowed);
    }
    let Ok(text) = std::fs::read_to_string(&record) else {
        return Ok(State::NotAllowed);
    };
    let content = std::fs::read(file).map_err(|e| Error::io(file, e))?;
    Ok(
        if text.split_whitespace().next() == Some(sha256_hex(&content).as_str()) {
            State::Allowed
        } else {
            State::Changed
        },
    )
}

/// Record `file`, as it is now, as allowed. Returns the record's path.
pub fn allow(file: &Path) -> Result<PathBuf> {
    let record = record_path(file)?;
    let content = std::fs::read(file).map_err(|e| Error::io(file, e))?;
    let dir = record.parent().expect("a record has a directory");
    create_private_dir(dir)?;
    let line = format!("{}  {}\n", sha256_hex(&content), canonical(file).display());
    crate::layers::write_atomic(&record, line.as_bytes(), Some(0o600))?;
    #[cfg(unix)]
    {
        // write_atomic keeps an existing file's mode; a loose one would make the record ignored.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&record, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| Error::io(&record, e))?;
    }
    Ok(record)
}

/// Forget `file`; returns whether it had been allowed.
pub fn revoke(file: &Path) -> Result<bool> {
    let record = record_path(file)?;
    match std::fs::remove_file(&record) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(Error::io(&record, e)),
    }
}

/// `<state dir>/allow/<sha256 of the canonical path>`; refused when the state directory is
/// inside the project (then the project could have written the record itself).
fn record_path(file: &Path) -> Result<PathBuf> {
    let dir = crate::state::dir()?;
    let file = canonical(file);
    let root = file.parent().unwrap_or(Path::new("/"));
    if canonical(&dir).starts_with(root) {
        return Err(Error::not_allowed(format!(
            "the state directory {} is inside the project {}",
            dir.display(),
            root.display()
        ))
        .with_hint("set XDG_STATE_HOME (or HOME) to a directory outside the project"));
    }
    Ok(dir
        .join("allow")
        .join(sha256_hex(file.as_os_str().as_encoded_bytes())))
}

/// Create `dir` (and missing parents) 0700, and tighten the envref directories to 0700.
fn create_private_dir(dir: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| Error::io(dir, e))?;
        for d in [dir.parent().unwrap_or(dir), dir] {
            std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o700))
                .map_err(|e| Error::io(d, e))?;
        }
    }
    #[cfg(not(unix))]
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    Ok(())
}

/// A record counts only if neither it nor its directories can be written by others.
fn private(record: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let dirs = record
            .parent()
            .into_iter()
            .chain(record.parent().and_then(Path::parent));
        for p in std::iter::once(record).chain(dirs) {
            match std::fs::metadata(p) {
                Ok(m) if m.permissions().mode() & 0o022 != 0 => return false,
                _ => {}
            }
        }
    }
    let _ = record;
    true
}

/// Where `program` would be found: a path as given, else the first `PATH` entry holding it.
fn locate(program: &str) -> Option<PathBuf> {
    if Path::new(program).components().count() > 1 {
        return std::path::absolute(program).ok();
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(program))
        .find(|p| executable(p))
        .and_then(|p| std::path::absolute(p).ok())
}

fn executable(p: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    }
    #[cfg(not(unix))]
    p.is_file()
}

/// Symlinks resolved where the path exists; as given (made absolute) where it does not.
fn canonical(p: &Path) -> PathBuf {
    std::fs::canonicalize(p)
        .or_else(|_| std::path::absolute(p))
        .unwrap_or_else(|_| p.to_path_buf())
}

fn sha256_hex(data: &[u8]) -> String {
    Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(dir: &Path, text: &str) -> Config {
        let file = dir.join(".envref.yaml");
        std::fs::write(&file, text).unwrap();
        Config::load(&file).unwrap()
    }

    fn names(c: &Config) -> Vec<String> {
        let specs: Vec<&BackendSpec> = c.backends.iter().collect();
        named(c, &specs).into_iter().map(|n| n.backend).collect()
    }

    #[test]
    fn what_the_project_names() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        std::fs::create_dir(dir.join("bin")).unwrap();
        let c = config(
            dir,
            "project: p\nbackends:\n  - {name: v, type: vault}\n  - {name: local, type: plugin, config: {command: ./bin/helper}}\n  \
             - {name: abs, type: plugin, config: {command: /opt/elsewhere}}\n  - {name: ssm, type: aws-ssm, config: {command: aws}}\n  \
             - {name: ssm2, type: aws-ssm}\n  - {name: hv, type: hashicorp-vault, config: {addr: 'https://vault.example'}}\n  \
             - {name: other, type: aws-ssm, config: {command: op}}\n",
        );
        // Default names on PATH are trusted; a command of the project's choosing is not.
        assert_eq!(names(&c), ["local", "abs", "hv", "other"]);
    }

    #[test]
    fn sha_is_sha256() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
