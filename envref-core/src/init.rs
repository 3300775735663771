//! `envref init`'s files: the `.envref.yaml`, `.env` and `.env.local` templates, the line that
//! ignores `.env.local` in `.gitignore`, and direnv's `.envrc`.

use std::path::Path;

use crate::config::Config;
use crate::layers::write_atomic;
use crate::{Error, Result};

/// The committed `.env`: no secrets, an example of a reference.
pub const ENV_TEMPLATE: &str =
    "# Committed configuration. Secrets never go here: reference them instead,\n\
     # e.g. API_KEY=ref://secrets/api_key, and store the value with `envref secret set api_key`.\n\
     APP_ENV=development\n\
     APP_PORT=3000\n";

/// The uncommitted `.env.local`.
pub const LOCAL_TEMPLATE: &str = "# Local overrides for this machine only (not committed).\n";

/// A valid project name from a directory name: runs of other characters become `-`
/// (`My Project` → `my-project`); `app` when nothing is left.
pub fn project_name_from_dir(dir_name: &str) -> String {
    let mut name = String::new();
    for c in dir_name.chars() {
        if c.is_ascii_alphanumeric() || matches!(c, '_' | '.') {
            name.push(c.to_ascii_lowercase());
        } else if !name.ends_with('-') {
            name.push('-');
        }
    }
    let name = name.trim_matches(['-', '.']);
    if name.is_empty() {
        "app".to_string()
    } else {
        name.to_string()
    }
}

/// The `.envref.yaml` for `project`. The keychain is the default chain; `vault_first` (no
/// Secret Service on this machine) configures the local vault instead. Checked with the
/// validation every command runs on load, so init never writes what later commands reject.
pub fn config_template(dir: &Path, project: &str, vault_first: bool) -> Result<String> {
    let backends = if vault_first {
        "# Backends are asked in order for ref://secrets/<key>; the first that has the key wins.\n\
         # Without a backends section, the OS keychain is the only backend; `envref init` found\n\
         # no Secret Service on this machine, so the local vault comes first.\n\
         backends:\n\
         \x20 - name: vault\n\
         \x20   type: vault\n\
         # Once a keychain is available, it can follow (or precede) the vault:\n\
         #   - name: keychain\n\
         #     type: keychain\n"
    } else {
        "# Backends are asked in order for ref://secrets/<key>; the first that has the key wins.\n\
         # Without a backends section, the OS keychain is the only backend. To add the local\n\
         # vault (`envref vault init`) after it:\n\
         # backends:\n\
         #   - name: keychain\n\
         #     type: keychain\n\
         #   - name: vault\n\
         #     type: vault\n"
    };
    let text = format!(
        "# envref configuration: https://github.com/envref/envref\n\
         # Secrets are stored under the namespace <project>/<key> in every backend.\n\
         project: {project}\n\
         env_file: .env\n\
         local_file: .env.local\n\
         \n\
         {backends}\
         \n\
         # profiles:\n\
         #   staging:\n\
         #     env_file: .env.staging\n"
    );
    Config::load_text(&dir.join(".envref.yaml"), &text)
        .map_err(|e| e.context("envref init would write an invalid .envref.yaml"))?;
    Ok(text)
}

/// Why the OS keychain cannot be the default chain here, so the config puts the local vault
/// first: `Some` when no Secret Service answers at all (a locked keyring still answers).
#[cfg(feature = "backends")]
pub fn keychain_unavailable() -> Option<crate::backend::BackendError> {
    match crate::backend::keychain::probe() {
        Err(e) if e.kind == crate::backend::ErrorKind::Unavailable => Some(e),
        _ => None,
    }
}

/// The keys of the env file at `path` whose values look like plaintext secrets (`audit`'s
/// detection, what `envref import --detect` moves); none when it is missing or does not parse.
#[cfg(feature = "backends")]
pub fn plaintext_secrets(path: &Path) -> Vec<String> {
    crate::dotenv::Document::load(path)
        .map(|doc| crate::import::detect(&doc))
        .unwrap_or_default()
}

/// What `direnv allow` made of a new `.envrc`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DirenvAllow {
    /// direnv now loads the file.
    Allowed,
    /// direnv is not installed, so the file does nothing yet.
    NotInstalled,
    /// direnv ran and refused: its stderr, in a line.
    Refused(String),
    /// direnv could not be run (timeout, permissions): why.
    CannotRun(String),
}

/// Run `direnv allow <envrc>` in `dir`, so a new `.envrc` loads without a second step.
#[cfg(feature = "backends")]
pub fn direnv_allow(dir: &Path, envrc: &Path) -> DirenvAllow {
    use crate::runner::{Invocation, RunError};
    match Invocation::new("direnv")
        .arg("allow")
        .arg(envrc)
        .current_dir(dir)
        .run()
    {
        Ok(o) if o.success() => DirenvAllow::Allowed,
        Ok(o) => DirenvAllow::Refused(o.stderr_summary()),
        Err(RunError::NotFound(_)) => DirenvAllow::NotInstalled,
        Err(e) => DirenvAllow::CannotRun(e.to_string()),
    }
}

/// What [`ignore_in_git`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GitignoreEdit {
    /// `.gitignore` already listed the entry; nothing was written.
    AlreadyListed,
    /// There was no `.gitignore`; one was created with the entry.
    Created,
    /// The entry was appended to the existing `.gitignore`.
    Appended,
}

/// `.gitignore` with `entry` on a line of its own, added at the end when missing; the file's
/// line ending is kept. Bytes, not text: a file in another encoding is appended to, never
/// replaced. `None` when `entry` is already listed.
pub(crate) fn gitignore_with(existing: &[u8], entry: &str) -> Option<Vec<u8>> {
    let listed = existing
        .split(|&b| b == b'\n')
        .any(|l| l.trim_ascii() == entry.as_bytes());
    if listed {
        return None;
    }
    let mut bytes = existing.to_vec();
    let eol: &[u8] = if bytes.windows(2).any(|w| w == b"\r\n") {
        b"\r\n"
    } else {
        b"\n"
    };
    if !bytes.is_empty() && !bytes.ends_with(b"\n") {
        bytes.extend_from_slice(eol);
    }
    bytes.extend_from_slice(entry.as_bytes());
    bytes.extend_from_slice(eol);
    Some(bytes)
}

/// Make `.gitignore` in `dir` list `entry` (atomically).
pub fn ignore_in_git(dir: &Path, entry: &str) -> Result<GitignoreEdit> {
    let path = dir.join(".gitignore");
    let existing = match std::fs::read(&path) {
        Ok(bytes) => Some(bytes),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(Error::io(&path, e)),
    };
    let Some(bytes) = gitignore_with(existing.as_deref().unwrap_or_default(), entry) else {
        return Ok(GitignoreEdit::AlreadyListed);
    };
    write_atomic(&path, &bytes, None)?;
    Ok(if existing.is_none() {
        GitignoreEdit::Created
    } else {
        GitignoreEdit::Appended
    })
}

/// The `.envrc`: `watch_file` for the config and env files (direnv re-runs only when one of
/// them changes), then the resolved environment. When envref fails it prints nothing, the
/// `|| exit` makes the `.envrc` fail, and direnv shows envref's error and exports nothing
/// from the project, instead of a partial environment.
pub fn envrc(watch: &[String]) -> String {
    let files: Vec<String> = watch
        .iter()
        .map(|f| crate::output::shell_quote(f))
        .collect();
    format!(
        "# Written by `envref init --direnv`. direnv runs this on entering the directory, and again\n\
         # only when a watched file changes. If any reference does not resolve, envref prints\n\
         # nothing and this file fails: direnv shows envref's error and exports nothing from here.\n\
         watch_file {}\n\
         envref_env=\"$(envref resolve --direnv)\" || exit\n\
         eval \"$envref_env\"\n\
         unset envref_env\n",
        files.join(" ")
    )
}

/// The files the `.envrc` of the project in `dir` watches, relative to its root: the config,
/// the env file, every profile's file, the local file; the defaults when the config does not load.
pub fn envrc_watch_files(dir: &Path) -> Vec<String> {
    let mut watch = vec![".envref.yaml".to_string()];
    match Config::load(&dir.join(".envref.yaml")) {
        Ok(c) => {
            let rel = |p: std::path::PathBuf| {
                p.strip_prefix(&c.root)
                    .map(|r| r.display().to_string())
                    .unwrap_or_else(|_| p.display().to_string())
            };
            watch.push(rel(c.root.join(&c.env_file)));
            let profiles = c.profiles.keys().cloned().chain(c.active_profile.clone());
            for p in profiles {
                watch.push(rel(c.profile_file(&p)));
            }
            watch.push(rel(c.root.join(&c.local_file)));
        }
        Err(_) => watch.extend([".env".to_string(), ".env.local".to_string()]),
    }
    let mut seen = std::collections::HashSet::new();
    watch.retain(|w| seen.insert(w.clone()));
    watch
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_names_from_directories() {
        assert_eq!(project_name_from_dir("My Project"), "my-project");
        assert_eq!(project_name_from_dir("a__b..c"), "a__b..c");
        assert_eq!(project_name_from_dir("--x  y--"), "x-y");
        assert_eq!(project_name_from_dir("日本"), "app");
        assert_eq!(project_name_from_dir(""), "app");
    }

    #[test]
    fn config_templates_load_and_choose_the_first_backend() {
        let dir = tempfile::tempdir().unwrap();
        for vault_first in [false, true] {
            let text = config_template(dir.path(), "my-app", vault_first).unwrap();
            let c = Config::load_text(&dir.path().join(".envref.yaml"), &text).unwrap();
            assert_eq!(c.project, "my-app");
            let kind = c.backends.first().map(|b| b.kind.to_string());
            assert_eq!(
                kind.as_deref(),
                Some(if vault_first { "vault" } else { "keychain" })
            );
        }
        let e = config_template(dir.path(), "bad: [", false).unwrap_err();
        assert!(matches!(e, Error::Parse { .. }), "{e:?}");
        assert!(
            e.to_string()
                .starts_with("envref init would write an invalid"),
            "{}",
            e.to_string()
        );
    }

    #[test]
    fn gitignore_gains_the_entry_once_keeping_line_endings() {
        assert_eq!(gitignore_with(b"", ".env.local").unwrap(), b".env.local\n");
        assert_eq!(
            gitignore_with(b"target", ".env.local").unwrap(),
            b"target\n.env.local\n"
        );
        assert_eq!(
            gitignore_with(b"a\r\nb\r\n", ".env.local").unwrap(),
            b"a\r\nb\r\n.env.local\r\n"
        );
        assert_eq!(gitignore_with(b"x\n  .env.local \n", ".env.local"), None);
        assert!(gitignore_with(b".env.local.bak\n", ".env.local").is_some());
        // Not UTF-8: appended to, never replaced.
        assert_eq!(
            gitignore_with(b"\xff\n", ".env.local").unwrap(),
            b"\xff\n.env.local\n"
        );
    }

    #[test]
    fn ignore_in_git_creates_appends_then_leaves_alone() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            ignore_in_git(dir.path(), ".env.local").unwrap(),
            GitignoreEdit::Created
        );
        std::fs::write(dir.path().join(".gitignore"), "target/\n").unwrap();
        assert_eq!(
            ignore_in_git(dir.path(), ".env.local").unwrap(),
            GitignoreEdit::Appended
        );
        assert_eq!(
            ignore_in_git(dir.path(), ".env.local").unwrap(),
            GitignoreEdit::AlreadyListed
        );
        let text = std::fs::read_to_string(dir.path().join(".gitignore")).unwrap();
        assert_eq!(text, "target/\n.env.local\n");
    }

    #[test]
    fn envrc_watches_profile_files_once_and_fails_when_envref_fails() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            envrc_watch_files(dir.path()),
            [".envref.yaml", ".env", ".env.local"]
        );
        let config = "project: app\nactive_profile: dev\nprofiles:\n  dev: {}\n  prod: {}\n";
        std::fs::write(dir.path().join(".envref.yaml"), config).unwrap();
        let watch = envrc_watch_files(dir.path());
        assert_eq!(
            watch,
            [
                ".envref.yaml",
                ".env",
                ".env.dev",
                ".env.prod",
                ".env.local"
            ]
        );
        let rc = envrc(&["a b".to_string()]);
        assert!(rc.contains("watch_file 'a b'\n"), "{rc}");
        assert!(
            rc.contains("envref_env=\"$(envref resolve --direnv)\" || exit\n"),
            "{rc}"
        );
    }
}
