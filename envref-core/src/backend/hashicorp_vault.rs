//! HashiCorp Vault (or OpenBao) KV v2 through the `vault` CLI: each secret is the entry
//! `<mount>/data/<prefix>/<namespaced key>` with the value in the field `value`.
//!
//! - `addr`, `namespace` and `token` reach the child as `VAULT_ADDR`, `VAULT_NAMESPACE` and
//!   `VAULT_TOKEN` in its environment, never as flags; values go in on stdin (`value=-`).
//! - Flags come before positional arguments (the CLI stops parsing flags at the first one).
//! - Not found: exit 2 with `No value found at …`, or exit 0 with `"data": null` (a soft-deleted
//!   entry). `kv list` of a missing folder: exit 2 with `{}` on stdout.
//! - Lookups of distinct keys run in parallel (bounded): KV v2 has no batch read.
//! - Raw references (`ref://hc//secret/myapp/db#username`) read any path and any field:
//!   `vault kv get <mount>/<path>` exactly as an operator types it (the CLI finds the mount,
//!   nested ones too), one read per distinct path however many of its fields are wanted.
//!   Without `#field`: the field `value`, else the only field, else an error naming the fields.

use std::collections::{BTreeSet, HashMap};

use secrecy::SecretString;
use serde_json::{Map, Value};

use super::cli::Tool;
use super::{bounded_parallel, Backend, BackendError, BackendKind, ErrorKind, Lookup};
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

/// A raw reference's name: `<mount>/<path>[#<field>]`.
#[derive(Debug, PartialEq)]
struct RawName<'a> {
    /// `<mount>/<path>`, as `vault kv get` takes it.
    path: &'a str,
    field: Option<&'a str>,
}

impl<'a> RawName<'a> {
    fn parse(name: &'a str) -> Result<RawName<'a>, String> {
        let (path, field) = match name.split_once('#') {
            Some((path, field)) => (path, Some(field)),
            None => (name, None),
        };
        if field == Some("") {
            return Err(format!("{name}: the field after `#` is empty"));
        }
        match path.split_once('/') {
            Some((mount, rest))
                if !mount.is_empty() && !rest.is_empty() && !path.ends_with('/') =>
            {
                Ok(RawName { path, field })
            }
            _ => Err(format!("{name} is not <mount>/<path>[#<field>]")),
        }
    }
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

    fn raw_name<'a>(&self, name: &'a str) -> Result<RawName<'a>, BackendError> {
        RawName::parse(name).map_err(|why| {
            self.tool
                .error(ErrorKind::Failed, "vault kv get", why)
                .with_hint("a raw reference names a KV path with its mount, as `vault kv get` takes it: ref://<backend>//secret/myapp/db#password")
        })
    }

    /// The path inside the mount.
    fn path(&self, key: &str) -> String {
        if self.prefix.is_empty() {
            key.to_string()
        } else {
            format!("{}/{key}", self.prefix)
        }
    }

    /// `vault kv <sub…> -mount=M <flags…> <path>`: `path` inside the configured mount.
    fn kv(&self, sub: &[&str], flags: &[&str], path: &str) -> Invocation {
        let mount = format!("-mount={}", self.mount);
        self.kv_cli(sub, &[&[mount.as_str()], flags].concat(), path)
    }

    /// `vault kv <sub…> <flags…> <path>` with the connection settings in the environment.
    fn kv_cli(&self, sub: &[&str], flags: &[&str], path: &str) -> Invocation {
        let mut inv = self
            .tool
            .invocation()
            .arg("kv")
            .args(sub.iter().copied())
            .args(flags.iter().copied())
            .arg(path);
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

    /// The fields of the secret `kv get` reads, `None` when there is none (never written, or
    /// soft-deleted). KV v2 answers `data.data` beside `data.metadata`; a KV v1 mount (reached
    /// by a raw path) answers the fields in `data`.
    fn read(&self, get: Invocation) -> Result<Option<Map<String, Value>>, BackendError> {
        const WHAT: &str = "vault kv get";
        let out = self.tool.run(WHAT, get)?;
        if !out.success() {
            if out.code() == Some(2)
                && String::from_utf8_lossy(&out.stderr).contains("No value found")
            {
                return Ok(None);
            }
            return Err(self.failure(WHAT, &out));
        }
        let mut body = self.parse(WHAT, &out)?;
        let data = body["data"].take();
        let kv2 = data.get("data").is_some() && data.get("metadata").is_some_and(Value::is_object);
        let fields = if kv2 {
            data.get("data").cloned().unwrap_or(Value::Null)
        } else {
            data
        };
        match fields {
            // Soft-deleted (`vault kv delete`): the versions remain, the data does not.
            Value::Null => Ok(None),
            Value::Object(fields) => Ok(Some(fields)),
            _ => Err(self.tool.error(
                ErrorKind::Failed,
                WHAT,
                "unexpected output (the data is not a JSON object)",
            )),
        }
    }

    /// The answer for raw name `name` from the fields of its path.
    fn raw_field(&self, name: &RawName, fields: &Map<String, Value>) -> Lookup {
        let chosen = match name.field {
            Some(f) => fields.get(f),
            None if fields.len() == 1 => fields.values().next(),
            None => fields.get("value"),
        };
        if let Some(v) = chosen {
            // As `vault kv get -field=F` prints it: a string verbatim, anything else as JSON.
            let text = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            return Ok(Some(SecretString::from(text)));
        }
        let mut names: Vec<&str> = fields.keys().map(String::as_str).collect();
        names.sort_unstable();
        let detail = if names.is_empty() {
            format!("{} has no fields", name.path)
        } else {
            let what = match name.field {
                Some(f) => format!("{} has no field `{f}`", name.path),
                None => format!(
                    "{} has {} fields and none is `value`",
                    name.path,
                    names.len()
                ),
            };
            format!("{what} (its fields: {})", names.join(", "))
        };
        let example = names.first().copied().unwrap_or("<field>");
        Err(self
            .tool
            .error(ErrorKind::Failed, "vault kv get", detail)
            .with_hint(format!(
                "name the field after `#`: ref://{}//{}#{example}",
                self.tool.backend, name.path
            )))
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
        let get = self.kv(&["get"], &["-format=json"], &self.path(key));
        let Some(data) = self.read(get)? else {
            return Ok(None);
        };
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

    /// One `vault kv get <mount>/<path>` per distinct path (in parallel, bounded); each name
    /// takes its field from its path's answer.
    fn get_raw(&self, names: &[String]) -> Vec<Lookup> {
        let parsed: Vec<Result<RawName, BackendError>> =
            names.iter().map(|n| self.raw_name(n)).collect();
        let paths: Vec<&str> = parsed
            .iter()
            .filter_map(|n| n.as_ref().ok().map(|n| n.path))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let read = bounded_parallel(&paths, |p| {
            self.read(self.kv_cli(&["get"], &["-format=json"], p))
        });
        let by_path: HashMap<&str, _> = paths.iter().copied().zip(read).collect();
        parsed
            .into_iter()
            .map(|name| {
                let name = name?;
                match &by_path[name.path] {
                    Err(e) => Err(e.clone()),
                    Ok(None) => Ok(None),
                    Ok(Some(fields)) => self.raw_field(&name, fields),
                }
            })
            .collect()
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

    #[test]
    fn raw_names_are_a_mount_a_path_and_maybe_a_field() {
        let parse = |n| RawName::parse(n);
        assert_eq!(
            parse("secret/myapp/db#username"),
            Ok(RawName {
                path: "secret/myapp/db",
                field: Some("username")
            })
        );
        assert_eq!(
            parse("team/kv/a#b#c"),
            Ok(RawName {
                path: "team/kv/a",
                field: Some("b#c")
            })
        );
        assert_eq!(
            parse("secret/x"),
            Ok(RawName {
                path: "secret/x",
                field: None
            })
        );
        for bad in [
            "secret",
            "secret#f",
            "secret/",
            "/x",
            "secret/x/",
            "secret/x#",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_raw_name_without_a_field_takes_value_else_the_only_field() {
        let hc = HashicorpVault::new(&BackendSpec::new("hc", "hashicorp-vault"));
        let fields = |json: &str| -> Map<String, Value> { serde_json::from_str(json).unwrap() };
        let pick = |name: &str, json: &str| {
            hc.raw_field(&RawName::parse(name).unwrap(), &fields(json))
                .map(|v| secrecy::ExposeSecret::expose_secret(&v.unwrap()).to_string())
        };
        let db = r#"{"username": "u-CANARY", "password": "p-CANARY", "port": 5432}"#;
        assert_eq!(pick("secret/db#username", db).unwrap(), "u-CANARY");
        assert_eq!(pick("secret/db#password", db).unwrap(), "p-CANARY");
        assert_eq!(pick("secret/db#port", db).unwrap(), "5432");
        assert_eq!(pick("secret/t", r#"{"token": "t"}"#).unwrap(), "t");
        assert_eq!(
            pick("secret/t", r#"{"a": "x", "value": "v"}"#).unwrap(),
            "v"
        );
        let e = pick("secret/db", db).unwrap_err();
        assert_eq!(
            e.message,
            "hc: vault kv get: secret/db has 3 fields and none is `value` (its fields: password, port, username)"
        );
        assert_eq!(
            e.hint.as_deref(),
            Some("name the field after `#`: ref://hc//secret/db#password")
        );
        let e = pick("secret/db#user", db).unwrap_err();
        assert!(
            e.message
                .contains("secret/db has no field `user` (its fields: password, port, username)"),
            "{e}"
        );
        assert!(!format!("{e:?}").contains("CANARY"));
        let e = pick("secret/e", "{}").unwrap_err();
        assert_eq!(e.message, "hc: vault kv get: secret/e has no fields");
    }
}
