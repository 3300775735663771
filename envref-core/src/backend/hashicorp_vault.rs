//! HashiCorp Vault (or OpenBao) KV v2 through the `vault` CLI: each secret is the entry
//! `<mount>/data/<prefix>/<namespaced key>` with the value in the field `value`.
//!
//! - `addr`, `namespace` and `token` reach the child as `VAULT_ADDR`, `VAULT_NAMESPACE` and
//!   `VAULT_TOKEN` in its environment, never as flags; values go in on stdin (`value=-`).
//! - Flags come before positional arguments (the CLI stops parsing flags at the first one).
//! - Not found: exit 2 with `No value found at …`, or exit 0 with `"data": null` (a soft-deleted
//!   entry). `kv list` of a missing folder: exit 2 with `{}` on stdout.
//! - Lookups of distinct keys run in parallel (bounded): KV v2 has no batch read.

use secrecy::SecretString;
use serde_json::Value;

use super::cli::Tool;
use super::{Backend, BackendError, BackendKind, ErrorKind, Lookup};
use crate::config::BackendSpec;
use crate::runner::{Invocation, Output};

const AUTH_HINT: &str =
    "set VAULT_ADDR and VAULT_TOKEN (or `addr:`/`token:` for this backend), or run `vault login`";

pub struct HashicorpVault {
    tool: Tool,
    mount: String,
    /// No leading or trailing `/` (empty: keys at the mount's root).
    prefix: String,
    addr: Option<String>,
    namespace: Option<String>,
    token: Option<SecretString>,
}

impl HashicorpVault {
    pub fn new(spec: &BackendSpec) -> HashicorpVault {
        HashicorpVault {
            tool: Tool::new(spec, BackendKind::HashicorpVault),
            mount: spec
                .option("mount")
                .unwrap_or("secret")
                .trim_matches('/')
                .to_string(),
            prefix: spec
                .option("prefix")
                .unwrap_or("envref")
                .trim_matches('/')
                .to_string(),
            addr: spec.option("addr").map(str::to_string),
            namespace: spec.option("namespace").map(str::to_string),
            token: spec
                .option("token")
                .map(|t| SecretString::from(t.to_string())),
        }
    }

    /// The path inside the mount.
    fn path(&self, key: &str) -> String {
        if self.prefix.is_empty() {
            key.to_string()
        } else {
            format!("{}/{key}", self.prefix)
        }
    }

    /// `vault kv <sub…> -mount=M <flags…> <path>` with the connection settings in the environment.
    fn kv(&self, sub: &[&str], flags: &[&str], path: &str) -> Invocation {
        let mut inv = self
            .tool
            .invocation()
            .arg("kv")
            .args(sub.iter().copied())
            .arg(format!("-mount={}", self.mount));
        inv = inv.args(flags.iter().copied()).arg(path);
        if let Some(a) = &self.addr {
            inv = inv.env("VAULT_ADDR", SecretString::from(a.clone()));
        }
        if let Some(n) = &self.namespace {
            inv = inv.env("VAULT_NAMESPACE", SecretString::from(n.clone()));
        }
        if let Some(t) = &self.token {
            inv = inv.env("VAULT_TOKEN", t.clone());
        }
        inv
    }

    fn failure(&self, what: &str, out: &Output) -> BackendError {
        let stderr = String::from_utf8_lossy(&out.stderr);
        // The CLI's API errors span lines ("Error making API request. / URL: … / Code: 403.
        // Errors: / * permission denied"); keep the code and the reasons.
        let essential: Vec<&str> = stderr
            .lines()
            .map(str::trim)
            .filter(|l| l.starts_with("Code:") || l.starts_with("* "))
            .collect();
        let detail = if essential.is_empty() {
            out.stderr_summary()
        } else {
            essential.join(" ")
        };
        if stderr.contains("Code: 403") || stderr.contains("missing client token") {
            self.tool
                .error(ErrorKind::Denied, what, detail)
                .with_hint(AUTH_HINT)
        } else if stderr.contains("connection refused")
            || stderr.contains("no such host")
            || stderr.contains("i/o timeout")
        {
            self.tool
                .error(ErrorKind::Unavailable, what, detail)
                .with_hint(AUTH_HINT)
        } else {
            self.tool.error(ErrorKind::Failed, what, detail)
        }
    }

    fn parse(&self, what: &str, out: &Output) -> Result<Value, BackendError> {
        serde_json::from_slice(&out.stdout).map_err(|e| {
            self.tool.error(
                ErrorKind::Failed,
                what,
                format!("unexpected output (not the documented JSON: {e})"),
            )
        })
    }

    /// The entries of one folder (`a`, `sub/`), or none when the folder does not exist.
    fn list_folder(&self, folder: &str) -> Result<Vec<String>, BackendError> {
        let out = self.tool.run(
            "vault kv list",
            self.kv(&["list"], &["-format=json"], folder),
        )?;
        if !out.success() {
            let stdout = String::from_utf8_lossy(&out.stdout);
            if out.code() == Some(2)
                && (stdout.trim() == "{}"
                    || String::from_utf8_lossy(&out.stderr).contains("No value found"))
            {
                return Ok(Vec::new());
            }
            return Err(self.failure("vault kv list", &out));
        }
        match self.parse("vault kv list", &out)? {
            Value::Array(items) => Ok(items
                .into_iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()),
            Value::Object(o) if o.is_empty() => Ok(Vec::new()),
            _ => Err(self.tool.error(
                ErrorKind::Failed,
                "vault kv list",
                "unexpected output (not a JSON array)",
            )),
        }
    }
}

impl Backend for HashicorpVault {
    fn name(&self) -> &str {
        &self.tool.backend
    }

    fn kind(&self) -> &'static str {
        "hashicorp-vault"
    }

    fn get(&self, key: &str) -> Lookup {
        let out = self.tool.run(
            "vault kv get",
            self.kv(&["get"], &["-format=json"], &self.path(key)),
        )?;
        if !out.success() {
            if out.code() == Some(2)
                && String::from_utf8_lossy(&out.stderr).contains("No value found")
            {
                return Ok(None);
            }
            return Err(self.failure("vault kv get", &out));
        }
        let body = self.parse("vault kv get", &out)?;
        let data = &body["data"]["data"];
        if data.is_null() {
            // Soft-deleted (`vault kv delete`): the versions remain, the data does not.
            return Ok(None);
        }
        match data.get("value") {
            Some(Value::String(v)) => Ok(Some(SecretString::from(v.clone()))),
            Some(_) => {
                Err(self.tool.error(ErrorKind::Failed, "vault kv get", format!("field `value` of {} is not a string", self.path(key))))
            }
            None => Err(self
                .tool
                .error(ErrorKind::Failed, "vault kv get", format!("{}/{} has no field `value`", self.mount, self.path(key)))
                .with_hint("envref stores each secret in the field `value`; write it with `envref secret set`")),
        }
    }

    fn set(&self, key: &str, value: &SecretString) -> Result<(), BackendError> {
        let mut inv = self.kv(&["put"], &[], &self.path(key)).arg("value=-");
        inv = inv.stdin(value.clone());
        let out = self.tool.run("vault kv put", inv)?;
        if !out.success() {
            return Err(self.failure("vault kv put", &out));
        }
        Ok(())
    }

    /// Removes every version and the metadata (`kv metadata delete`), so the key is really gone.
    fn delete(&self, key: &str) -> Result<bool, BackendError> {
        let existed = self.get(key)?.is_some();
        let out = self.tool.run(
            "vault kv metadata delete",
            self.kv(&["metadata", "delete"], &[], &self.path(key)),
        )?;
        if !out.success() {
            return Err(self.failure("vault kv metadata delete", &out));
        }
        Ok(existed)
    }

    /// `kv list`, descending into sub-folders.
    fn list(&self, prefix: &str) -> Result<Vec<String>, BackendError> {
        // List the deepest folder that contains the prefix, then filter.
        let start = match prefix.rfind('/') {
            Some(i) => &prefix[..=i],
            None => "",
        };
        let mut keys = Vec::new();
        let mut folders = vec![start.to_string()];
        while let Some(folder) = folders.pop() {
            let path = self.path(folder.trim_end_matches('/'));
            for entry in self.list_folder(path.trim_end_matches('/'))? {
                let full = format!("{folder}{entry}");
                if full.ends_with('/') {
                    folders.push(full);
                } else {
                    keys.push(full);
                }
            }
        }
        Ok(super::listed(keys, prefix))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        let mut spec = BackendSpec::new("hc", "hashicorp-vault");
        assert_eq!(HashicorpVault::new(&spec).path("app/k"), "envref/app/k");
        spec.options
            .insert("prefix".into(), "/team-alpha/myapp/".into());
        assert_eq!(
            HashicorpVault::new(&spec).path("app/k"),
            "team-alpha/myapp/app/k"
        );
    }
}
