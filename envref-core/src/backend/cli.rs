//! What the vendor-CLI backends (`aws-ssm`, `hashicorp-vault`, `1password`, `oci-vault`) share:
//! running their executable through the one runner and turning a failure to start it into a
//! backend error with the type's install hint.

use super::{BackendError, BackendKind, ErrorKind};
use crate::config::BackendSpec;
use crate::runner::{Invocation, Output, RunError};

/// The executable (`command:` option, else the tool's usual name) and timeout of a backend.
pub(crate) struct Tool {
    /// The configured backend name, which starts every message.
    pub backend: String,
    pub kind: BackendKind,
    pub command: String,
    pub timeout: std::time::Duration,
}

impl Tool {
    /// The tool of backend `spec` of type `kind`: its `command:`, else the type's program.
    pub fn new(spec: &BackendSpec, kind: BackendKind) -> Tool {
        let default = kind.info().program.unwrap_or_default();
        Tool {
            backend: spec.name.clone(),
            kind,
            command: spec
                .option("command")
                .map(str::to_string)
                .unwrap_or_else(|| default.replace("{name}", &spec.name)),
            timeout: spec.timeout(),
        }
    }

    /// An invocation of the tool with the backend's timeout.
    pub(crate) fn invocation(&self) -> Invocation {
        Invocation::new(&self.command).timeout(self.timeout)
    }

    /// Run it. A missing executable is `Unavailable` with the install hint of the type; a
    /// timeout or I/O failure is `Failed`. The exit status is the caller's to judge.
    pub fn run(&self, what: &str, inv: Invocation) -> Result<Output, BackendError> {
        inv.run().map_err(|e| match e {
            RunError::NotFound(_) => {
                let err = self.error(
                    ErrorKind::Unavailable,
                    what,
                    format!("executable {} not found", self.command),
                );
                match self.kind.info().install_hint {
                    Some(h) => err.with_hint(format!(
                        "{h}; or set `command:` for backend {} in .envref.yaml",
                        self.backend
                    )),
                    None => err,
                }
            }
            other => self.error(ErrorKind::Failed, what, other),
        })
    }

    /// `<backend>: <what>: <detail>`, e.g. `ssm: aws ssm get-parameters: …`.
    pub(crate) fn error(
        &self,
        kind: ErrorKind,
        what: &str,
        detail: impl std::fmt::Display,
    ) -> BackendError {
        BackendError::new(kind, format!("{}: {what}: {detail}", self.backend))
    }
}
