//! `build.rs` helper for envref.
//!
//! In `build.rs`:
//!
//! ```no_run
//! envref_build::emit();
//! ```
//!
//! Then `env!("APP_PORT")` works in the crate for every **non-secret** variable of the
//! project's `.env` layers. A variable whose value comes from a `ref://` reference is not
//! emitted unless the build opts in with [`Builder::include_secrets`] (feature `secrets`),
//! because an emitted value ends up in `target/` and in the binary.
//!
//! Emitting plain config never contacts a backend, so it works even when the project's
//! backends are unreachable.

use std::io::Write;
use std::path::{Path, PathBuf};

use envref_core::config::{Config, PROFILE_ENV};
use envref_core::evaluate::{evaluate, RefMode, Var};
use envref_core::project::Project;
use envref_core::{Error, Result};

/// Emit with the default options; panics (failing the build) with envref's error message.
pub fn emit() {
    if let Err(e) = Builder::new().emit() {
        fail(e);
    }
}

fn fail(e: Error) -> ! {
    let hint = e.hint().map(|h| format!("\nhint: {h}")).unwrap_or_default();
    panic!("envref: {e}{hint}");
}

/// What to emit.
#[derive(Debug, Clone, Default)]
pub struct Builder {
    dir: Option<PathBuf>,
    profile: Option<String>,
    include_secrets: bool,
    only: Option<Vec<String>>,
    except: Vec<String>,
}

/// What [`Builder::emit_to`] printed, for callers that want to know.
#[derive(Debug, Default)]
pub struct Emitted {
    pub keys: Vec<String>,
    /// Keys left out because their value comes from a reference.
    pub secret_keys: Vec<String>,
    /// Keys left out because rustc-env cannot carry their value (newlines).
    pub unrepresentable: Vec<String>,
    pub files: Vec<PathBuf>,
}

impl Builder {
    pub fn new() -> Self {
        Builder::default()
    }

    /// Where to look for the project (default: `CARGO_MANIFEST_DIR`, then upward).
    pub fn dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.dir = Some(dir.into());
        self
    }

    /// The profile (default: `$ENVREF_PROFILE`, else `active_profile`).
    pub fn profile(mut self, profile: impl Into<String>) -> Self {
        self.profile = Some(profile.into());
        self
    }

    /// Resolve and emit variables that come from references too. Their values are then
    /// stored in `target/` and compiled into the binary; each gets a `cargo::warning`.
    #[cfg(feature = "secrets")]
    pub fn include_secrets(mut self, yes: bool) -> Self {
        self.include_secrets = yes;
        self
    }

    /// Emit only these keys.
    pub fn only<I: IntoIterator<Item = S>, S: Into<String>>(mut self, keys: I) -> Self {
        self.only = Some(keys.into_iter().map(Into::into).collect());
        self
    }

    /// Never emit these keys.
    pub fn except<I: IntoIterator<Item = S>, S: Into<String>>(mut self, keys: I) -> Self {
        self.except.extend(keys.into_iter().map(Into::into));
        self
    }

    /// Print the cargo instructions on stdout.
    pub fn emit(self) -> Result<Emitted> {
        let stdout = std::io::stdout();
        let mut lock = stdout.lock();
        self.emit_to(&mut lock)
    }

    /// Print the cargo instructions to `out`.
    pub fn emit_to(self, out: &mut dyn Write) -> Result<Emitted> {
        let dir = match &self.dir {
            Some(d) => d.clone(),
            None => std::env::var_os("CARGO_MANIFEST_DIR")
                .map(PathBuf::from)
                .ok_or_else(|| Error::usage("CARGO_MANIFEST_DIR is not set: call envref_build::emit() from a build script"))?,
        };
        let mut emitted = Emitted::default();
        let config = Config::discover(&dir)?;
        let mut io = |line: String| {
            out.write_all(line.as_bytes())
                .map_err(|e| Error::io_while("cannot write to stdout", e))
        };
        // Rerun when the profile changes or any file that exists changes; a rerun-if-changed
        // on a missing path would rebuild every time.
        io(format!("cargo::rerun-if-env-changed={PROFILE_ENV}\n"))?;
        let project = Project::from_config(config, self.profile.as_deref())?;
        let mut files: Vec<&Path> = vec![project.config.file.as_path()];
        files.extend(project.paths.all().into_iter().filter(|p| p.exists()));
        for f in &files {
            io(format!("cargo::rerun-if-changed={}\n", f.display()))?;
            emitted.files.push(f.to_path_buf());
        }
        for w in project.merged.warnings() {
            io(format!("cargo::warning=envref: {}\n", one_line(w)))?;
        }
        let vars = self.values(&project)?;
        for v in vars {
            let key = v.key.to_string();
            let selected =
                self.only.as_ref().is_none_or(|o| o.contains(&key)) && !self.except.contains(&key);
            if !selected {
                continue;
            }
            if v.secret && !self.include_secrets {
                emitted.secret_keys.push(key);
                continue;
            }
            if v.value.contains(['\n', '\r']) {
                io(format!("cargo::warning=envref: {} not emitted: rustc-env cannot carry a value with a newline\n", v.key))?;
                emitted.unrepresentable.push(key);
                continue;
            }
            if v.secret {
                io(format!(
                    "cargo::warning=envref: secret {} is emitted: its value is now stored in target/ and compiled into the binary\n",
                    v.key
                ))?;
            }
            io(format!("cargo::rustc-env={}={}\n", v.key, v.value))?;
            emitted.keys.push(key);
        }
        Ok(emitted)
    }

    fn values(&self, project: &Project) -> Result<Vec<Var>> {
        if self.include_secrets {
            return self.resolved(project);
        }
        let ev = evaluate(&project.merged, RefMode::Literal, false);
        if let Some((key, f)) = ev.failures.first() {
            return Err(Error::unresolved(format!("{key}: {f}")));
        }
        Ok(ev.vars)
    }

    #[cfg(feature = "secrets")]
    fn resolved(&self, project: &Project) -> Result<Vec<Var>> {
        // A build never prompts: the passphrase is $ENVREF_VAULT_PASSPHRASE or an error.
        let ctx = envref_core::backend::BuildContext {
            in_project_code: true,
            ..Default::default()
        };
        let r = envref_core::resolve::resolve_project(
            project,
            || envref_core::backend::build_all(&project.config, &ctx),
            false,
        )?;
        match r.error() {
            Some(e) => Err(e),
            None => Ok(r.vars),
        }
    }

    #[cfg(not(feature = "secrets"))]
    fn resolved(&self, _project: &Project) -> Result<Vec<Var>> {
        unreachable!("include_secrets is only settable with the `secrets` feature")
    }
}

fn one_line(s: &str) -> String {
    s.replace(['\n', '\r'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emits_config_not_secrets() {
        let dir = std::env::temp_dir().join(format!("envref-build-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join(".envref.yaml"),
            "project: t\nbackends:\n  - name: nowhere\n    type: plugin\n",
        )
        .unwrap();
        std::fs::write(
            dir.join(".env"),
            "PORT=8080\nKEY=ref://secrets/k\nVIA=${KEY}\nML=\"a\\nb\"\n",
        )
        .unwrap();
        let mut out = Vec::new();
        let e = Builder::new().dir(&dir).emit_to(&mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("cargo::rustc-env=PORT=8080\n"), "{text}");
        assert!(text.contains(&format!(
            "cargo::rerun-if-changed={}\n",
            dir.join(".env").display()
        )));
        assert!(
            !text.contains(".env.local"),
            "a missing file is not watched: {text}"
        );
        assert!(
            !text.contains("ref://") && !text.contains("rustc-env=KEY"),
            "{text}"
        );
        assert_eq!(e.secret_keys, ["KEY", "VIA"]);
        assert_eq!(e.unrepresentable, ["ML"]);
        let mut out = Vec::new();
        let e = Builder::new()
            .dir(&dir)
            .only(["KEY", "ML"])
            .emit_to(&mut out)
            .unwrap();
        assert!(e.keys.is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
