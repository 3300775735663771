//! Oracle Cloud Infrastructure Vault through the `oci` CLI: each secret is an OCI Vault secret
//! in the configured vault and compartment, encrypted with the configured master key, whose
//! name is the namespaced key mapped by [`secret_name`] and whose content is the value in base64.
//!
//! Secret names: OCI allows only letters, digits, `-`, `_` and `.`. The mapping is reversible
//! and unambiguous, with `.` as the escape character:
//!
//! | in the key | in the secret name |
//! |---|---|
//! | `A-Z a-z 0-9 _ -` | unchanged |
//! | `/` | `..` |
//! | `.` | `.-` |
//! | any other byte | `.x` + two lowercase hex digits (each UTF-8 byte) |
//!
//! so `my-app/staging/api_key` is `my-app..staging..api_key` and `my-app/db.url` is
//! `my-app..db.-url`. Every `.` in a name starts a two-character (or `.xHH`) escape, so decoding
//! is left to right with no lookahead; names that do not decode, or that are not what encoding
//! their decoded key gives, are not envref's and `list` skips them.
//!
//! - Reads: one `oci secrets secret-bundle get-secret-bundle-by-name` per key (the current
//!   version), in parallel (bounded) through the trait's default `get_many`: no batch read.
//!   A raw reference (`ref://oci//Stripe-Key.v2`) reads the secret of that very name in the
//!   configured vault, without the mapping.
//! - Writes: the content goes in a 0600 temporary file given as `--from-json file://…`, never in
//!   argv. `set` looks the name up (`oci vault secret list --name`, every state): a live secret
//!   gets a new version (`update-base64`); a secret pending deletion (it still owns its name) has
//!   its deletion cancelled and then gets the new version; otherwise `create-base64`.
//! - `delete` schedules the deletion (`schedule-secret-deletion`): OCI deletes secrets 1-30
//!   days later (30 by default). From then on `get` and `list` no longer see it.
//! - Not found: exit 1 with `ServiceError:` and JSON whose `code` is `NotAuthorizedOrNotFound`.
//!   OCI answers a missing IAM permission with the same code, by design, so a read the policy
//!   does not allow also looks like "not found".

use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use super::base64::{base64_decode, base64_encode};
use super::cli::Tool;
use super::{bounded_parallel, Backend, BackendError, BackendKind, ErrorKind, Lookup};
use crate::config::BackendSpec;
use crate::runner::{Output, SecretFile};

const IAM_HINT: &str =
    "the IAM policy needs `manage secret-family` in the compartment and `use keys` on the master \
encryption key (see the OCI Vault section of the envref docs)";
const CONFIG_HINT: &str = "configure the OCI CLI (`oci setup config`), or set `profile:` for this backend to a profile of ~/.oci/config";
/// The service rejects secret content over 25 KB (base64).
pub const MAX_CONTENT: usize = 25 * 1024;
/// The one read: a secret's current version by name.
const BUNDLE: &str = "oci secrets secret-bundle get-secret-bundle-by-name";

/// The OCI secret name of a namespaced key (see the module documentation).
pub fn secret_name(key: &str) -> String {
    let mut out = String::with_capacity(key.len() + 8);
    for b in key.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-' => out.push(b as char),
            b'/' => out.push_str(".."),
            b'.' => out.push_str(".-"),
            other => out.push_str(&format!(".x{other:02x}")),
        }
    }
    out
}

/// The key whose secret name is `name`, or `None` when `name` is not one [`secret_name`] makes.
pub fn key_of_secret_name(name: &str) -> Option<String> {
    let bytes = name.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'.' => {
                match *bytes.get(i + 1)? {
                    b'.' => out.push(b'/'),
                    b'-' => out.push(b'.'),
                    b'x' => {
                        let hex = std::str::from_utf8(bytes.get(i + 2..i + 4)?).ok()?;
                        out.push(u8::from_str_radix(hex, 16).ok()?);
                        i += 2;
                    }
                    _ => return None,
                }
                i += 2;
            }
            b @ (b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-') => {
                out.push(b);
                i += 1;
            }
            _ => return None,
        }
    }
    let key = String::from_utf8(out).ok()?;
    // Canonical only: `.x2f` decodes to `/` but `/` is written `..`.
    (secret_name(&key) == name).then_some(key)
}

pub struct OciVault {
    tool: Tool,
    vault_id: String,
    compartment_id: String,
    key_id: String,
    profile: Option<String>,
}

/// One entry of `oci vault secret list`.
struct Summary {
    id: String,
    name: String,
    state: String,
}

/// The CLI's report of a failed call: a line like `ServiceError:` then a JSON object.
struct CliError {
    /// `ServiceError`, `RequestException`, …
    kind: String,
    code: Option<String>,
    status: Option<u64>,
    message: Option<String>,
}

impl CliError {
    fn parse(stderr: &str) -> Option<CliError> {
        let mut offset = 0;
        for line in stderr.split_inclusive('\n') {
            let head = line.trim();
            offset += line.len();
            if let Some(kind) = head
                .strip_suffix(':')
                .filter(|k| !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric()))
            {
                let json: Value = serde_json::Deserializer::from_str(&stderr[offset..])
                    .into_iter()
                    .next()?
                    .ok()?;
                let text = |k: &str| json.get(k).and_then(Value::as_str).map(str::to_string);
                return Some(CliError {
                    kind: kind.to_string(),
                    code: text("code"),
                    status: json.get("status").and_then(Value::as_u64),
                    message: text("message"),
                });
            }
        }
        None
    }

    fn is_not_found(&self) -> bool {
        self.kind == "ServiceError" && self.code.as_deref() == Some("NotAuthorizedOrNotFound")
    }

    /// `ServiceError 404 NotAuthorizedOrNotFound: Authorization failed or …`.
    fn summary(&self) -> String {
        let mut s = self.kind.clone();
        if let Some(st) = self.status {
            s.push_str(&format!(" {st}"));
        }
        if let Some(c) = &self.code {
            s.push_str(&format!(" {c}"));
        }
        if let Some(m) = &self.message {
            s.push_str(&format!(": {m}"));
        }
        s
    }
}

impl OciVault {
    pub fn new(spec: &BackendSpec) -> crate::Result<OciVault> {
        let required = |option: &str| {
            spec.option(option).filter(|v| !v.trim().is_empty()).map(str::to_string).ok_or_else(|| {
                crate::Error::config(format!("backend {}: option `{option}` is required for type oci-vault", spec.name))
                    .with_hint("set vault_id, compartment_id and key_id (OCIDs) under `config:` in .envref.yaml")
            })
        };
        Ok(OciVault {
            tool: Tool::new(spec, BackendKind::OciVault),
            vault_id: required("vault_id")?,
            compartment_id: required("compartment_id")?,
            key_id: required("key_id")?,
            profile: spec.option("profile").map(str::to_string),
        })
    }

    /// Run `oci <args…> --output json [--profile P]` (stdin is /dev/null: the runner gives no
    /// stdin data, so a CLI without config cannot sit at its setup prompt).
    fn oci(&self, what: &str, args: &[&str]) -> Result<Output, BackendError> {
        let mut inv = self
            .tool
            .invocation()
            .args(args.iter().copied())
            .args(["--output", "json"]);
        if let Some(p) = &self.profile {
            inv = inv.args(["--profile", p.as_str()]);
        }
        self.tool.run(what, inv)
    }

    fn is_not_found(out: &Output) -> bool {
        !out.success()
            && CliError::parse(&String::from_utf8_lossy(&out.stderr))
                .is_some_and(|e| e.is_not_found())
    }

    /// A failed call as a backend error with the CLI's own code and message.
    fn failure(&self, what: &str, out: &Output) -> BackendError {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let Some(e) = CliError::parse(&stderr) else {
            let detail = out.stderr_summary();
            if stderr.contains("Could not find config file")
                || stderr.contains("not found in config file")
            {
                return self
                    .tool
                    .error(ErrorKind::Denied, what, detail)
                    .with_hint(CONFIG_HINT);
            }
            return self.tool.error(ErrorKind::Failed, what, detail);
        };
        let detail = e.summary();
        match (e.kind.as_str(), e.status) {
            ("ServiceError", Some(401)) => self
                .tool
                .error(ErrorKind::Denied, what, detail)
                .with_hint(CONFIG_HINT),
            ("ServiceError", Some(403 | 404)) => self
                .tool
                .error(ErrorKind::Denied, what, detail)
                .with_hint(IAM_HINT),
            ("RequestException", _) => self
                .tool
                .error(ErrorKind::Unavailable, what, detail)
                .with_hint("check the network and the region of the OCI CLI profile"),
            _ => self.tool.error(ErrorKind::Failed, what, detail),
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

    /// Every secret of the vault (all pages), or only those named `name`, or only those in
    /// `state`. An empty result is 0 bytes of output.
    fn secrets(
        &self,
        name: Option<&str>,
        state: Option<&str>,
    ) -> Result<Vec<Summary>, BackendError> {
        const WHAT: &str = "oci vault secret list";
        let mut args = vec![
            "vault",
            "secret",
            "list",
            "-c",
            &self.compartment_id,
            "--vault-id",
            &self.vault_id,
        ];
        if let Some(n) = name {
            args.extend(["--name", n]);
        }
        if let Some(s) = state {
            args.extend(["--lifecycle-state", s]);
        }
        args.push("--all");
        let out = self.oci(WHAT, &args)?;
        if !out.success() {
            return Err(self.failure(WHAT, &out));
        }
        if out.stdout.iter().all(u8::is_ascii_whitespace) {
            return Ok(Vec::new());
        }
        let body = self.parse(WHAT, &out)?;
        let items = body["data"].as_array().ok_or_else(|| {
            self.tool.error(
                ErrorKind::Failed,
                WHAT,
                "unexpected output (no `data` array)",
            )
        })?;
        Ok(items
            .iter()
            .filter_map(|s| {
                Some(Summary {
                    id: s["id"].as_str()?.to_string(),
                    name: s["secret-name"].as_str()?.to_string(),
                    state: s["lifecycle-state"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                })
            })
            .filter(|s| name.is_none_or(|n| s.name == n))
            .collect())
    }

    /// `--from-json` request file with the content: the value never reaches argv.
    /// A new version of secret `id` with `value` (sent in a 0600 file, never in argv).
    fn update(&self, id: &str, value: &SecretString) -> Result<(), BackendError> {
        const WHAT: &str = "oci vault secret update-base64";
        let file = self.content_file(WHAT, value)?;
        let json = format!("file://{}", file.path().display());
        let args = [
            "vault",
            "secret",
            "update-base64",
            "--secret-id",
            id,
            "--from-json",
            &json,
        ];
        self.call(WHAT, &args)?;
        Ok(())
    }

    /// A new secret `name` holding `value` (sent in a 0600 file, never in argv).
    fn create(&self, name: &str, value: &SecretString) -> Result<(), BackendError> {
        const WHAT: &str = "oci vault secret create-base64";
        let file = self.content_file(WHAT, value)?;
        let json = format!("file://{}", file.path().display());
        let args = [
            "vault",
            "secret",
            "create-base64",
            "-c",
            &self.compartment_id,
            "--vault-id",
            &self.vault_id,
            "--key-id",
            &self.key_id,
            "--secret-name",
            name,
            "--from-json",
            &json,
        ];
        self.call(WHAT, &args)?;
        Ok(())
    }

    fn content_file(&self, what: &str, value: &SecretString) -> Result<SecretFile, BackendError> {
        let content = base64_encode(value.expose_secret().as_bytes());
        if content.len() > MAX_CONTENT {
            return Err(self.tool.error(
                ErrorKind::Failed,
                what,
                format!(
                    "the value is too large for OCI Vault ({} bytes in base64; the limit is 25 KB)",
                    content.len()
                ),
            ));
        }
        let request = serde_json::json!({ "secretContentContent": content });
        SecretFile::new(&SecretString::from(request.to_string())).map_err(|e| {
            self.tool.error(
                ErrorKind::Failed,
                what,
                format!("cannot write the request file: {e}"),
            )
        })
    }

    fn call(&self, what: &str, args: &[&str]) -> Result<Output, BackendError> {
        let out = self.oci(what, args)?;
        if !out.success() {
            return Err(self.failure(what, &out));
        }
        Ok(out)
    }

    /// The current version of the secret named `name` in the vault, as text.
    fn bundle(&self, name: &str) -> Lookup {
        const WHAT: &str = BUNDLE;
        let args = [
            "secrets",
            "secret-bundle",
            "get-secret-bundle-by-name",
            "--secret-name",
            name,
            "--vault-id",
            &self.vault_id,
        ];
        let out = self.oci(WHAT, &args)?;
        if Self::is_not_found(&out) {
            return Ok(None);
        }
        if !out.success() {
            return Err(self.failure(WHAT, &out));
        }
        let body = self.parse(WHAT, &out)?;
        let content = &body["data"]["secret-bundle-content"];
        if content["content-type"]
            .as_str()
            .is_some_and(|t| t != "BASE64")
        {
            return Err(self.tool.error(
                ErrorKind::Failed,
                WHAT,
                format!(
                    "secret {name} has content type {}, not BASE64",
                    content["content-type"]
                ),
            ));
        }
        let text = content["content"].as_str().ok_or_else(|| {
            self.tool.error(
                ErrorKind::Failed,
                WHAT,
                format!("secret {name} came back without content"),
            )
        })?;
        let bytes = base64_decode(text).ok_or_else(|| {
            self.tool.error(
                ErrorKind::Failed,
                WHAT,
                format!("the content of secret {name} is not base64"),
            )
        })?;
        let value = String::from_utf8(bytes).map_err(|_| {
            self.tool
                .error(
                    ErrorKind::Failed,
                    WHAT,
                    format!("the content of secret {name} is not UTF-8 text"),
                )
                .with_hint("envref stores text values; write it with `envref secret set`")
        })?;
        Ok(Some(SecretString::from(value)))
    }
}

impl Backend for OciVault {
    fn name(&self) -> &str {
        &self.tool.backend
    }

    fn kind(&self) -> &'static str {
        "oci-vault"
    }

    fn get(&self, key: &str) -> Lookup {
        self.bundle(&secret_name(key))
    }

    /// Each secret by its own name in the vault; a name OCI cannot hold is refused here.
    fn get_raw(&self, names: &[String]) -> Vec<Lookup> {
        bounded_parallel(names, |name| {
            let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
            match name.chars().find(|&c| !allowed(c)) {
                None => self.bundle(name),
                Some(c) => Err(self
                    .tool
                    .error(
                        ErrorKind::Failed,
                        BUNDLE,
                        format!("{name} is not an OCI secret name (it contains {c:?})"),
                    )
                    .with_hint("an OCI secret name holds only letters, digits, - _ and .")),
            }
        })
    }

    fn set(&self, key: &str, value: &SecretString) -> Result<(), BackendError> {
        let name = secret_name(key);
        let found = self.secrets(Some(&name), None)?;
        let live = found
            .iter()
            .find(|s| matches!(s.state.as_str(), "ACTIVE" | "CREATING" | "UPDATING"));
        let pending = found
            .iter()
            .find(|s| matches!(s.state.as_str(), "PENDING_DELETION" | "SCHEDULING_DELETION"));
        match (live, pending) {
            (Some(s), _) => self.update(&s.id, value),
            (None, Some(s)) => {
                // Scheduled for deletion, but it still owns the name: bring it back with the new value.
                let args = [
                    "vault",
                    "secret",
                    "cancel-secret-deletion",
                    "--secret-id",
                    &s.id,
                ];
                self.call("oci vault secret cancel-secret-deletion", &args)?;
                self.update(&s.id, value)
            }
            (None, None) => self.create(&name, value),
        }
    }

    /// Schedules the deletion of the active secret (OCI's default: 30 days ahead); `false` when
    /// there is none (never stored, or already scheduled).
    fn deletion_note(&self) -> Option<&'static str> {
        Some("OCI schedules the deletion; the secret keeps its name until then, and setting it again cancels the deletion")
    }

    fn delete(&self, key: &str) -> Result<bool, BackendError> {
        let found = self.secrets(Some(&secret_name(key)), Some("ACTIVE"))?;
        for s in &found {
            self.call(
                "oci vault secret schedule-secret-deletion",
                &[
                    "vault",
                    "secret",
                    "schedule-secret-deletion",
                    "--secret-id",
                    &s.id,
                ],
            )?;
        }
        Ok(!found.is_empty())
    }

    /// The active secrets of the vault whose names decode to keys under `prefix`.
    fn list(&self, prefix: &str) -> Result<Vec<String>, BackendError> {
        let keys = self
            .secrets(None, Some("ACTIVE"))?
            .into_iter()
            .filter_map(|s| key_of_secret_name(&s.name));
        Ok(super::listed(keys, prefix))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_names_round_trip() {
        let cases = [
            ("my-app/api_key", "my-app..api_key"),
            ("my-app/staging/api_key", "my-app..staging..api_key"),
            ("my-app/db.url", "my-app..db.-url"),
            // Keys that already contain what looks like an escape.
            ("a..b", "a.-.-b"),
            ("a.-b", "a.--b"),
            ("a/.x2f", "a...-x2f"),
            ("app/key.__history.1", "app..key.-__history.-1"),
            ("a__b//c", "a__b....c"),
            ("", ""),
            ("é €", ".xc3.xa9.x20.xe2.x82.xac"),
        ];
        for (key, name) in cases {
            assert_eq!(secret_name(key), name, "{key}");
            assert!(
                name.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)),
                "{name}"
            );
            assert_eq!(key_of_secret_name(name).as_deref(), Some(key), "{name}");
        }
        // Every printable ASCII string of up to two characters round-trips, and distinct keys
        // get distinct names.
        let chars: Vec<char> = (0x20u8..0x7f).map(char::from).collect();
        let mut names = std::collections::HashSet::new();
        for a in &chars {
            for b in &chars {
                let key = format!("{a}{b}");
                let name = secret_name(&key);
                assert_eq!(key_of_secret_name(&name), Some(key), "{name}");
                assert!(names.insert(name));
            }
        }
    }

    #[test]
    fn foreign_names_are_not_keys() {
        for name in [
            "a.b",
            "trailing.",
            "a.x2f",
            "a.xZZ",
            "a.x4",
            "a.X41",
            "a b",
            "a/b",
            ".x41",
        ] {
            assert_eq!(key_of_secret_name(name), None, "{name}");
        }
    }

    #[test]
    fn cli_errors() {
        let stderr = "WARNING: something\nServiceError:\n{\n    \"code\": \"NotAuthorizedOrNotFound\",\n    \"message\": \"Authorization failed or requested resource not found.\",\n    \"status\": 404\n}\n";
        let e = CliError::parse(stderr).unwrap();
        assert!(e.is_not_found());
        assert_eq!(e.summary(), "ServiceError 404 NotAuthorizedOrNotFound: Authorization failed or requested resource not found.");
        let e =
            CliError::parse("ServiceError:\n{\"code\": \"NotAuthenticated\", \"status\": 401}\n")
                .unwrap();
        assert!(!e.is_not_found());
        let e = CliError::parse(
            "RequestException:\n{\"message\": \"The connection to endpoint timed out.\"}",
        )
        .unwrap();
        assert_eq!(
            e.summary(),
            "RequestException: The connection to endpoint timed out."
        );
        assert!(CliError::parse("ERROR: Profile 'X' not found in config file").is_none());
        assert!(CliError::parse("Secret NotAuthorizedOrNotFound somewhere in text").is_none());
    }

    #[test]
    fn required_options() {
        let mut spec = BackendSpec::new("oci", "oci-vault");
        spec.options.insert("vault_id".into(), "v".into());
        spec.options.insert("compartment_id".into(), "c".into());
        let e = OciVault::new(&spec).err().unwrap();
        assert!(matches!(e, crate::Error::Config { .. }), "{e:?}");
        assert!(e.to_string().contains("`key_id`"));
        spec.options.insert("key_id".into(), "k".into());
        assert!(OciVault::new(&spec).is_ok());
    }

    #[test]
    fn raw_names_are_used_as_they_are_or_refused_before_any_call() {
        let mut spec = BackendSpec::new("oci", "oci-vault");
        for (k, v) in [("vault_id", "v"), ("compartment_id", "c"), ("key_id", "k")] {
            spec.options.insert(k.into(), v.into());
        }
        spec.options
            .insert("command".into(), "/nonexistent/oci".into());
        let oci = OciVault::new(&spec).unwrap();
        let names = ["myapp/db", "Stripe-Key.v2", "a b"].map(String::from);
        let got = oci.get_raw(&names);
        let bad = got[0].as_ref().unwrap_err();
        assert_eq!(
            bad.message,
            "oci: oci secrets secret-bundle get-secret-bundle-by-name: myapp/db is not an OCI secret name (it contains '/')"
        );
        // A valid name goes to the CLI (which is missing here).
        let sent = got[1].as_ref().unwrap_err();
        assert!(
            sent.message
                .contains("executable /nonexistent/oci not found"),
            "{sent}"
        );
        assert!(got[2]
            .as_ref()
            .unwrap_err()
            .message
            .contains("contains ' '"));
    }
}
