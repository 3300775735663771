//! 1Password through the `op` CLI (v2): each secret is a Secure Note item whose title is the
//! namespaced key and whose value is the `notesPlain` field, in the configured vault.
//!
//! - Values never reach argv: `item create` reads a JSON item template on stdin (`-`),
//!   `item edit --template <0600 temp file>` updates an existing item.
//! - Not found is op's `isn't an item` error only; "not currently signed in" is `Denied`.
//! - Lookups of distinct keys run in parallel (bounded): op has no batch read.
//! - `set` reads the item to choose between `create` and `edit`: op has no upsert and no
//!   create-if-absent, and 1Password allows several items with one title. Two concurrent
//!   `set`s of a new key can therefore both create it; later reads then fail with op's "More
//!   than one item matches" error, which names the fix (delete the extra items). Existing keys
//!   are edited in place, so only the first store of a key can race.
//! - `op://<vault>/<item>/[<section>/]<field>` references (and `ref://<name>//<path>`) are read
//!   by `get_raw`, any item category and any field: several at once with one `op inject` (one
//!   process instead of one per reference; benches/op_read.sh measures it), one with `op read`,
//!   as are names op's template syntax cannot hold (spaces, `?attribute=`). When `op inject`
//!   fails, `op read` of each (in parallel, bounded) says which reference failed, with op's
//!   own message.

use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use super::cli::Tool;
use super::{bounded_parallel, Backend, BackendError, BackendKind, ErrorKind, Lookup};
use crate::config::BackendSpec;
use crate::reference::OP_PREFIX;
use crate::runner::{Invocation, Output, SecretFile};

pub(crate) struct OnePassword {
    tool: Tool,
    vault: String,
    account: Option<String>,
}

impl OnePassword {
    pub fn new(spec: &BackendSpec) -> OnePassword {
        OnePassword {
            tool: Tool::new(spec, BackendKind::OnePassword),
            vault: spec.option("vault").unwrap_or("Personal").to_string(),
            account: spec.option("account").map(str::to_string),
        }
    }

    /// `op item <sub> <args…> --vault V [--account A]`.
    fn item(&self, sub: &str, args: &[&str]) -> Invocation {
        let mut inv = self
            .tool
            .invocation()
            .args(["item", sub])
            .args(args.iter().copied());
        inv = inv.args(["--vault", &self.vault]);
        if let Some(a) = &self.account {
            inv = inv.args(["--account", a.as_str()]);
        }
        inv
    }

    /// `op <args…> [--account A]`, for the commands that take no vault (`read`, `inject`).
    fn op(&self, args: &[&str]) -> Invocation {
        let mut inv = self.tool.invocation().args(args.iter().copied());
        if let Some(a) = &self.account {
            inv = inv.args(["--account", a.as_str()]);
        }
        inv
    }

    /// `op read --no-newline op://<path>`: the field's value, exactly.
    fn read(&self, path: &str) -> Lookup {
        let reference = format!("{OP_PREFIX}{path}");
        let out = self
            .tool
            .run("op read", self.op(&["read", "--no-newline", &reference]))?;
        if !out.success() {
            return Err(self.failure("op read", &out));
        }
        let value = String::from_utf8(out.stdout).map_err(|_| {
            self.tool.error(
                ErrorKind::Failed,
                "op read",
                format!("{reference}: the value is not UTF-8"),
            )
        })?;
        Ok(Some(SecretString::from(value)))
    }

    /// All of `paths` with one `op inject`: a template of `{{ op://… }}` lines between
    /// markers no value holds (a random nonce). `None` when op failed for a reason other than
    /// the session (each reference is then read alone, so the error names it).
    fn inject(&self, paths: &[String]) -> Option<Vec<Lookup>> {
        let mut nonce = [0u8; 16];
        getrandom::fill(&mut nonce).ok()?;
        let nonce: String = nonce.iter().map(|b| format!("{b:02x}")).collect();
        let marker = |i: usize| format!("envref-{nonce}-{i}:");
        let mut template = String::new();
        for (i, p) in paths.iter().enumerate() {
            template.push_str(&format!("{}{{{{ {OP_PREFIX}{p} }}}}\n", marker(i)));
        }
        template.push_str(&marker(paths.len()));
        let inv = self.op(&["inject"]).stdin(SecretString::from(template));
        let out = match self.tool.run("op inject", inv) {
            Ok(out) => out,
            Err(e) => return Some(paths.iter().map(|_| Err(e.clone())).collect()),
        };
        if !out.success() {
            let e = self.failure("op inject", &out);
            return (e.kind == ErrorKind::Denied)
                .then(|| paths.iter().map(|_| Err(e.clone())).collect());
        }
        let text = String::from_utf8(out.stdout).ok()?;
        split_injected(&text, paths.len(), marker)
    }

    fn is_not_found(out: &Output) -> bool {
        !out.success() && String::from_utf8_lossy(&out.stderr).contains("isn't an item")
    }

    fn failure(&self, what: &str, out: &Output) -> BackendError {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let detail = out.stderr_summary();
        if stderr.contains("not currently signed in")
            || stderr.contains("session expired")
            || stderr.contains("not signed in")
        {
            self.tool
                .error(ErrorKind::Denied, what, detail)
                .with_hint("run `op signin` (or set OP_SERVICE_ACCOUNT_TOKEN)")
        } else if what != "op item get"
            && (stderr.contains("isn't") || stderr.contains("does not have"))
        {
            // op read / inject: a vault, item or field that is not there.
            self.tool.error(ErrorKind::Failed, what, detail).with_hint(
                "check the vault, item and field names against `op item get <item> --vault <vault> --format json` (a name with other characters than letters, digits, `-_.` and spaces is written by its ID)",
            )
        } else if stderr.contains("More than one item matches") {
            // Duplicates come from concurrent first stores (see the module notes).
            self.tool.error(ErrorKind::Failed, what, detail).with_hint(format!(
                "several items share this title (two stores of a new key at once create two); keep one: `op item list --vault {}`, then `op item delete <id>` for the others",
                self.vault
            ))
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

    /// The item template: a Secure Note with the value as its notes.
    fn template(key: &str, value: &SecretString) -> SecretString {
        let t = serde_json::json!({
            "title": key,
            "category": "SECURE_NOTE",
            "fields": [{
                "id": "notesPlain",
                "type": "STRING",
                "purpose": "NOTES",
                "label": "notesPlain",
                "value": value.expose_secret(),
            }],
        });
        SecretString::from(t.to_string())
    }
}

impl Backend for OnePassword {
    fn name(&self) -> &str {
        &self.tool.backend
    }

    fn kind(&self) -> &'static str {
        "1password"
    }

    fn get(&self, key: &str) -> Lookup {
        let out = self
            .tool
            .run("op item get", self.item("get", &[key, "--format", "json"]))?;
        if Self::is_not_found(&out) {
            return Ok(None);
        }
        if !out.success() {
            return Err(self.failure("op item get", &out));
        }
        let item = self.parse("op item get", &out)?;
        let notes = item["fields"]
            .as_array()
            .and_then(|fields| fields.iter().find(|f| f["id"] == "notesPlain"));
        match notes {
            // An empty note has no `value`.
            Some(f) => Ok(Some(SecretString::from(
                f["value"].as_str().unwrap_or_default().to_string(),
            ))),
            None => Err(self
                .tool
                .error(
                    ErrorKind::Failed,
                    "op item get",
                    format!("item {key:?} has no notesPlain field"),
                )
                .with_hint(
                    "envref stores each secret as a Secure Note; write it with `envref secret set`",
                )),
        }
    }

    /// `op://` paths (`<vault>/<item>/[<section>/]<field>`), any item, any field.
    /// Several go through one `op inject`; names its template syntax cannot hold (spaces, a
    /// `?attribute=` query), a single one, or all after a failed batch, through `op read`.
    fn get_raw(&self, names: &[String]) -> Vec<Lookup> {
        let mut answers: Vec<Option<Lookup>> = names.iter().map(|_| None).collect();
        let batch: Vec<usize> = (0..names.len())
            .filter(|&i| injectable(&names[i]))
            .collect();
        if batch.len() > 1 {
            let paths: Vec<String> = batch.iter().map(|&i| names[i].clone()).collect();
            for (i, answer) in batch.iter().zip(self.inject(&paths).into_iter().flatten()) {
                answers[*i] = Some(answer);
            }
        }
        let rest: Vec<usize> = (0..names.len()).filter(|&i| answers[i].is_none()).collect();
        let read = bounded_parallel(&rest, |&i| self.read(&names[i]));
        for (i, answer) in rest.into_iter().zip(read) {
            answers[i] = Some(answer);
        }
        answers
            .into_iter()
            .map(|a| a.expect("every name answered"))
            .collect()
    }

    fn set(&self, key: &str, value: &SecretString) -> Result<(), BackendError> {
        let template = Self::template(key, value);
        if self.get(key)?.is_some() {
            let file = SecretFile::new(&template).map_err(|e| {
                self.tool.error(
                    ErrorKind::Failed,
                    "op item edit",
                    format!("cannot write the template file: {e}"),
                )
            })?;
            let path = file.path().display().to_string();
            let inv = self.item("edit", &[key, "--template", &path, "--format", "json"]);
            let out = self.tool.run("op item edit", inv)?;
            drop(file);
            if !out.success() {
                return Err(self.failure("op item edit", &out));
            }
        } else {
            let inv = self
                .item(
                    "create",
                    &[
                        "--category",
                        "Secure Note",
                        "--title",
                        key,
                        "--format",
                        "json",
                    ],
                )
                .arg("-")
                .stdin(template);
            let out = self.tool.run("op item create", inv)?;
            if !out.success() {
                return Err(self.failure("op item create", &out));
            }
        }
        Ok(())
    }

    fn delete(&self, key: &str) -> Result<bool, BackendError> {
        let out = self
            .tool
            .run("op item delete", self.item("delete", &[key]))?;
        if Self::is_not_found(&out) {
            return Ok(false);
        }
        if !out.success() {
            return Err(self.failure("op item delete", &out));
        }
        Ok(true)
    }

    fn list(&self, prefix: &str) -> Result<Vec<String>, BackendError> {
        let inv = self.item("list", &["--categories", "Secure Note", "--format", "json"]);
        let out = self.tool.run("op item list", inv)?;
        if !out.success() {
            return Err(self.failure("op item list", &out));
        }
        let items = self.parse("op item list", &out)?;
        let titles = items.as_array().into_iter().flatten();
        let keys = titles
            .filter_map(|i| i["title"].as_str())
            .map(str::to_string);
        Ok(super::listed(keys, prefix))
    }
}

/// Whether op's template syntax takes `op://<path>`: an unenclosed reference (and so an enclosed
/// one) is letters, digits and `- ? _ .` between the `/`s; no space, no `=`.
fn injectable(path: &str) -> bool {
    path.chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '?' | '_' | '.' | '/'))
}

/// The values in `op inject`'s output of the template `inject` wrote: the text after each
/// marker up to the newline before the next. `None` when a marker is missing or out of order.
fn split_injected(text: &str, n: usize, marker: impl Fn(usize) -> String) -> Option<Vec<Lookup>> {
    let mut rest = text.strip_prefix(&marker(0))?;
    let mut out = Vec::with_capacity(n);
    for i in 1..=n {
        let next = format!("\n{}", marker(i));
        let end = rest.find(&next)?;
        out.push(Ok(Some(SecretString::from(rest[..end].to_string()))));
        rest = &rest[end + next.len()..];
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn injected_values_are_split_at_the_markers_only() {
        let marker = |i: usize| format!("envref-ab-{i}:");
        let text = "envref-ab-0:one\nenvref-ab-1:two\nlines: envref-ab-0\nenvref-ab-2:\n";
        let got = split_injected(text, 2, marker).unwrap();
        let values: Vec<String> = got
            .into_iter()
            .map(|l| l.unwrap().unwrap().expose_secret().to_string())
            .collect();
        assert_eq!(values, ["one", "two\nlines: envref-ab-0"]);
        assert!(split_injected("envref-ab-0:one", 1, marker).is_none());
        assert!(split_injected("garbage", 1, marker).is_none());
    }

    #[test]
    fn names_op_templates_cannot_hold_are_read_alone() {
        assert!(injectable("Engineering/Stripe/API/credential_2.v-1"));
        assert!(!injectable("Engineering/Postgres Prod/password"));
        assert!(!injectable("prod/2fa/otp?attribute=otp"));
    }
}
