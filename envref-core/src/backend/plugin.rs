//! Any executable speaking JSON over stdin/stdout: one request per invocation,
//! `{"operation": "get"|"set"|"delete"|"list", "key": …, "value": …}`, answered by
//! `{"value": …}`, `{"keys": […]}`, `{}` or `{"error": "…"}`. An error containing "not found"
//! (any case) means not found.

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::{Backend, BackendError, ErrorKind, Lookup};
use crate::config::BackendSpec;
use crate::runner::{Invocation, RunError};

/// A plugin's answer is small; more than this is a broken plugin.
const RESPONSE_LIMIT: usize = 1024 * 1024;

pub struct Plugin {
    name: String,
    command: String,
    timeout: std::time::Duration,
}

/// A plugin's JSON object (`{"value": …}`, `{"keys": […]}`, `{}` or `{"error": …}`).
#[derive(Deserialize)]
pub struct Response {
    pub value: Option<String>,
    pub keys: Option<Vec<String>>,
    pub error: Option<String>,
}

/// What a plugin's stdout says, before its exit status is considered.
pub enum Reply {
    Answer(Response),
    /// `{"error": "…not found…"}`.
    NotFound,
    /// Any other `error`: its first line, cut short.
    Error(String),
    /// Not the JSON object the protocol expects: why, and where in the output (never the
    /// output itself, which may hold a secret).
    Invalid(String),
}

/// Decode a plugin's stdout (any bytes: a plugin is someone else's program).
pub fn parse_response(stdout: &[u8]) -> Reply {
    match serde_json::from_slice::<Response>(stdout) {
        Ok(Response {
            error: Some(err), ..
        }) if err.to_ascii_lowercase().contains("not found") => Reply::NotFound,
        Ok(Response {
            error: Some(err), ..
        }) => Reply::Error(one_line(&err)),
        Ok(r) => Reply::Answer(r),
        Err(e) => Reply::Invalid(json_problem(&e)),
    }
}

/// serde's reason and position. Syntax and end-of-input messages are fixed texts; a data
/// error's message can quote a value (`invalid type: string "…"`), so it gets a fixed text.
fn json_problem(e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    match e.classify() {
        Category::Syntax | Category::Eof | Category::Io => e.to_string(),
        Category::Data => format!(
            "a field is not of the protocol's type (value and error: a string, keys: a list of \
             strings) at line {} column {}",
            e.line(),
            e.column()
        ),
    }
}

impl Plugin {
    pub fn new(spec: &BackendSpec) -> Plugin {
        let command = super::kinds::program(spec).unwrap_or_default();
        Plugin {
            name: spec.name.clone(),
            command,
            timeout: spec.timeout(),
        }
    }

    fn fail(&self, kind: ErrorKind, what: impl std::fmt::Display) -> BackendError {
        BackendError::new(
            kind,
            format!("{}: plugin {}: {what}", self.name, self.command),
        )
    }

    /// Run one request. `Ok(None)` is the plugin's "not found".
    fn call(
        &self,
        operation: &str,
        key: Option<&str>,
        value: Option<&SecretString>,
    ) -> Result<Option<Response>, BackendError> {
        let mut request = serde_json::Map::new();
        request.insert("operation".into(), operation.into());
        if let Some(k) = key {
            request.insert("key".into(), k.into());
        }
        if let Some(v) = value {
            request.insert("value".into(), v.expose_secret().into());
        }
        let body = SecretString::from(serde_json::Value::Object(request).to_string());
        let out =
            Invocation::new(&self.command).stdin(body).timeout(self.timeout).output_limit(RESPONSE_LIMIT).run().map_err(|e| match e {
                RunError::NotFound(_) => self.fail(ErrorKind::Unavailable, "executable not found").with_hint(format!(
                    "put an executable named envref-backend-{} on PATH, or set `command:` for backend {} in .envref.yaml",
                    self.name, self.name
                )),
                other => self.fail(ErrorKind::Failed, other),
            })?;
        match parse_response(&out.stdout) {
            Reply::NotFound => Ok(None),
            Reply::Error(line) => {
                Err(self.fail(ErrorKind::Failed, format!("{operation} failed: {line}")))
            }
            _ if !out.success() => Err(self.fail(
                ErrorKind::Failed,
                format!("{operation} failed: {}", out.stderr_summary()),
            )),
            Reply::Answer(r) => Ok(Some(r)),
            Reply::Invalid(why) => Err(self
                .fail(
                    ErrorKind::Failed,
                    format!(
                        "{operation}: the response is not the JSON object the protocol \
                         expects: {why}"
                    ),
                )
                .with_hint(
                    "a plugin prints one JSON object on stdout: {\"value\": …}, {\"keys\": […]}, \
                     {} or {\"error\": …}",
                )),
        }
    }
}

fn one_line(s: &str) -> String {
    let line = s.lines().next().unwrap_or_default();
    line.chars().take(300).collect()
}

impl Backend for Plugin {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> &'static str {
        "plugin"
    }

    fn get(&self, key: &str) -> Lookup {
        match self.call("get", Some(key), None)? {
            None => Ok(None),
            Some(Response { value: Some(v), .. }) => Ok(Some(SecretString::from(v))),
            Some(_) => Err(self.fail(
                ErrorKind::Failed,
                "get: the response has neither `value` nor `error`",
            )),
        }
    }

    fn set(&self, key: &str, value: &SecretString) -> Result<(), BackendError> {
        self.call("set", Some(key), Some(value))?;
        Ok(())
    }

    fn delete(&self, key: &str) -> Result<bool, BackendError> {
        // The protocol has no "did it exist"; a plugin that says not found answers it.
        Ok(self.call("delete", Some(key), None)?.is_some())
    }

    fn list(&self, prefix: &str) -> Result<Vec<String>, BackendError> {
        let keys = self
            .call("list", None, None)?
            .and_then(|r| r.keys)
            .unwrap_or_default();
        Ok(super::listed(keys, prefix))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_output_says_why_and_where_but_not_what() {
        let why = |out: &str| match parse_response(out.as_bytes()) {
            Reply::Invalid(why) => why,
            _ => panic!("{out} is not invalid"),
        };
        assert_eq!(
            why("{\"value\": \"CANARY"),
            "EOF while parsing a string at line 1 column 17"
        );
        assert_eq!(
            why("\n{\"value\" \"CANARY\"}"),
            "expected `:` at line 2 column 10"
        );
        for out in [
            "{\"value\": [\"CANARY\"]}",
            "\"CANARY\"",
            "{\"keys\": \"CANARY\"}",
        ] {
            let w = why(out);
            assert!(
                w.starts_with("a field is not of the protocol's type"),
                "{w}"
            );
            assert!(w.contains(" at line 1 column "), "{w}");
            assert!(!w.contains("CANARY"), "{w}");
        }
    }
}
