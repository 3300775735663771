//! Any executable speaking JSON over stdin/stdout: one request per invocation,
//! `{"operation": "get"|"set"|"delete"|"list", "key": …, "value": …}`, answered by
//! `{"value": …}`, `{"keys": […]}`, `{}` or `{"error": "…"}`. An error containing "not found"
//! (any case) means not found.
//!
//! Batch extension (protocol 1): for two keys or more envref sends
//! `{"operation": "get_many", "protocol": 1, "keys": […]}`. A plugin that knows it answers
//! `{"protocol": 1, "results": {key: {"value": …} | {"error": …}}}` (or
//! `{"protocol": 1, "error": …}` for the whole request); any JSON object without `protocol` is
//! a plugin that does not, which is then asked key by key for the rest of the run.
//!
//! Raw references (`ref://<plugin>//<name>`) reach the plugin as the key `<name>`, verbatim and
//! batched like any other (the trait's default `get_raw`): a plugin has no namespace of its
//! own to bypass, so the protocol needs no new field.

use std::collections::HashMap;
use std::sync::OnceLock;

use secrecy::{ExposeSecret, SecretString};
use serde::de::IgnoredAny;
use serde::Deserialize;

use super::{parallel_get, Backend, BackendError, ErrorKind, Lookup};
use crate::config::BackendSpec;
use crate::runner::{Invocation, Output, RunError};

/// A plugin's answer is small; more than this is a broken plugin.
const RESPONSE_LIMIT: usize = 1024 * 1024;

/// The batch extension's version: sent with `get_many` and required back.
pub const BATCH_PROTOCOL: u64 = 1;

/// A batch answer carries many values; it is bounded like one answer, with more room.
const BATCH_RESPONSE_LIMIT: usize = 16 * RESPONSE_LIMIT;

const HINT: &str = "a plugin prints one JSON object on stdout: {\"value\": …}, {\"keys\": […]}, \
                    {} or {\"error\": …}";
const BATCH_HINT: &str = "a plugin answers get_many with one JSON object on stdout: \
                          {\"protocol\": 1, \"results\": {\"<key>\": {\"value\": …} or \
                          {\"error\": …}}} or {\"protocol\": 1, \"error\": …}";

/// A backend served by an external program speaking the JSON protocol on stdin/stdout.
pub(crate) struct Plugin {
    name: String,
    command: String,
    timeout: std::time::Duration,
    /// Whether the plugin answers `get_many`: learnt from its first answer to one, kept for
    /// the run (so a plugin without it costs one extra call per run, not per key).
    batches: OnceLock<bool>,
}

/// A plugin's JSON object (`{"value": …}`, `{"keys": […]}`, `{}` or `{"error": …}`).
#[derive(Deserialize)]
pub struct Response {
    /// The secret, for `get`.
    pub value: Option<String>,
    /// The names, for `list`.
    pub keys: Option<Vec<String>>,
    /// What went wrong, in the plugin's words.
    pub error: Option<String>,
}

/// What a plugin's stdout says, before its exit status is considered.
pub enum Reply {
    /// A well-formed answer without an error.
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
        Ok(r) => classify(r),
        Err(e) => Reply::Invalid(json_problem(&e)),
    }
}

/// An `error` that says "not found" is not found; any other is cut to one line.
fn classify(r: Response) -> Reply {
    match r.error {
        Some(err) if err.to_ascii_lowercase().contains("not found") => Reply::NotFound,
        Some(err) => Reply::Error(one_line(&err)),
        None => Reply::Answer(r),
    }
}

/// A plugin's answer to `get_many`.
#[derive(Deserialize)]
pub struct BatchResponse {
    /// The protocol version the plugin speaks (1).
    pub protocol: u64,
    /// Each key's answer.
    pub results: Option<HashMap<String, Response>>,
    /// An error for the whole request.
    pub error: Option<String>,
}

/// What a plugin's stdout says to `get_many`.
pub enum BatchReply {
    /// Each answered key's reply, read as the answer to a `get` of it.
    Results(HashMap<String, Reply>),
    /// `{"protocol": 1, "error": …}`: one reply for every key (`NotFound` or `Error`).
    All(Reply),
    /// A JSON object without `protocol`: a plugin that does not know `get_many`.
    NotBatch,
    /// Not JSON, or a batch answer of the wrong shape or version: why and where.
    Invalid(String),
}

/// Decode a plugin's stdout to `get_many` (any bytes).
pub fn parse_batch_response(stdout: &[u8]) -> BatchReply {
    /// Only whether the object declares a protocol; every other field is skipped.
    #[derive(Deserialize)]
    struct Declared {
        protocol: Option<IgnoredAny>,
    }
    match serde_json::from_slice::<Declared>(stdout) {
        Err(e) => return BatchReply::Invalid(json_problem(&e)),
        Ok(Declared { protocol: None }) => return BatchReply::NotBatch,
        Ok(_) => {}
    }
    match serde_json::from_slice::<BatchResponse>(stdout) {
        Err(e) => BatchReply::Invalid(json_problem(&e)),
        Ok(r) if r.protocol != BATCH_PROTOCOL => BatchReply::Invalid(format!(
            "it speaks batch protocol {}, envref speaks {BATCH_PROTOCOL}",
            r.protocol
        )),
        Ok(BatchResponse {
            error: Some(err), ..
        }) => BatchReply::All(classify(Response {
            value: None,
            keys: None,
            error: Some(err),
        })),
        Ok(BatchResponse {
            results: Some(results),
            ..
        }) => BatchReply::Results(results.into_iter().map(|(k, r)| (k, classify(r))).collect()),
        Ok(_) => BatchReply::Invalid("it has neither `results` nor `error`".into()),
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
             strings, protocol: a number, results: an object of answers) at line {} column {}",
            e.line(),
            e.column()
        ),
    }
}

impl Plugin {
    /// The plugin a backend spec names (its `command:`, or `envref-backend-<name>`).
    pub fn new(spec: &BackendSpec) -> Plugin {
        let command = super::kinds::program(spec).unwrap_or_default();
        Plugin {
            name: spec.name.clone(),
            command,
            timeout: spec.timeout(),
            batches: OnceLock::new(),
        }
    }

    fn fail(&self, kind: ErrorKind, what: impl std::fmt::Display) -> BackendError {
        BackendError::new(
            kind,
            format!("{}: plugin {}: {what}", self.name, self.command),
        )
    }

    fn invalid(&self, operation: &str, why: &str, hint: &str) -> BackendError {
        self.fail(
            ErrorKind::Failed,
            format!("{operation}: the response is not the JSON object the protocol expects: {why}"),
        )
        .with_hint(hint)
    }

    /// Run the plugin once with `request` on stdin; its output, whatever the exit status.
    fn invoke(&self, request: serde_json::Value, limit: usize) -> Result<Output, BackendError> {
        let body = SecretString::from(request.to_string());
        Invocation::new(&self.command)
            .stdin(body)
            .timeout(self.timeout)
            .output_limit(limit)
            .run()
            .map_err(|e| match e {
                RunError::NotFound(_) => self
                    .fail(ErrorKind::Unavailable, "executable not found")
                    .with_hint(format!(
                        "put an executable named envref-backend-{} on PATH, or set `command:` \
                         for backend {} in .envref.yaml",
                        self.name, self.name
                    )),
                other => self.fail(ErrorKind::Failed, other),
            })
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
        let out = self.invoke(serde_json::Value::Object(request), RESPONSE_LIMIT)?;
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
            Reply::Invalid(why) => Err(self.invalid(operation, &why, HINT)),
        }
    }

    /// A `get` answer (alone, or one key's in a batch) as a lookup.
    fn lookup(&self, reply: Reply) -> Lookup {
        match reply {
            Reply::NotFound => Ok(None),
            Reply::Answer(Response { value: Some(v), .. }) => Ok(Some(SecretString::from(v))),
            Reply::Answer(_) => Err(self.fail(
                ErrorKind::Failed,
                "get: the response has neither `value` nor `error`",
            )),
            Reply::Error(line) => Err(self.fail(ErrorKind::Failed, format!("get failed: {line}"))),
            Reply::Invalid(why) => Err(self.invalid("get", &why, HINT)),
        }
    }

    /// One `get_many` call for `keys`: an answer per key, or `None` when the plugin (not yet
    /// known to batch) answered like a plugin without the extension.
    fn get_batch(&self, keys: &[String]) -> Option<Vec<Lookup>> {
        let request = serde_json::json!({
            "operation": "get_many",
            "protocol": BATCH_PROTOCOL,
            "keys": keys,
        });
        let every = |answer: Lookup| Some(vec![answer; keys.len()]);
        let out = match self.invoke(request, BATCH_RESPONSE_LIMIT) {
            Ok(out) => out,
            Err(e) => return every(Err(e)),
        };
        let known = self.batches.get() == Some(&true);
        let reply = parse_batch_response(&out.stdout);
        match reply {
            BatchReply::NotBatch if !known => return None,
            BatchReply::Invalid(_) if !known && !out.success() => return None,
            _ => {}
        }
        let _ = self.batches.set(true);
        match reply {
            BatchReply::All(reply) => every(self.lookup(reply)),
            _ if !out.success() => every(Err(self.fail(
                ErrorKind::Failed,
                format!("get_many failed: {}", out.stderr_summary()),
            ))),
            BatchReply::Results(mut results) => Some(
                keys.iter()
                    .map(|k| match results.remove(k) {
                        Some(reply) => self.lookup(reply),
                        None => Err(self
                            .fail(ErrorKind::Failed, format!("get_many: no answer for {k}"))
                            .with_hint(BATCH_HINT)),
                    })
                    .collect(),
            ),
            BatchReply::NotBatch => every(Err(self.invalid(
                "get_many",
                "it has no `protocol`, though the plugin answered get_many before",
                BATCH_HINT,
            ))),
            BatchReply::Invalid(why) => every(Err(self.invalid("get_many", &why, BATCH_HINT))),
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
            Some(r) => self.lookup(Reply::Answer(r)),
        }
    }

    /// One `get_many` call when the plugin batches; key by key when it does not.
    fn get_many(&self, keys: &[String]) -> Vec<Lookup> {
        if keys.len() > 1 && self.batches.get() != Some(&false) {
            if let Some(answers) = self.get_batch(keys) {
                return answers;
            }
            let _ = self.batches.set(false);
        }
        parallel_get(self, keys)
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

    #[test]
    fn batch_answers_are_read_per_key() {
        let reply = parse_batch_response(
            br#"{"protocol": 1, "results": {"a": {"value": "A"}, "b": {"error": "Not Found"},
                "c": {"error": "denied\nmore"}, "d": {}}}"#,
        );
        let BatchReply::Results(results) = reply else {
            panic!("not results")
        };
        assert!(
            matches!(&results["a"], Reply::Answer(Response { value: Some(v), .. }) if v == "A")
        );
        assert!(matches!(results["b"], Reply::NotFound));
        assert!(matches!(&results["c"], Reply::Error(line) if line == "denied"));
        assert!(matches!(
            results["d"],
            Reply::Answer(Response { value: None, .. })
        ));
        assert!(matches!(
            parse_batch_response(br#"{"protocol": 1, "error": "store is locked"}"#),
            BatchReply::All(Reply::Error(_))
        ));
    }

    #[test]
    fn a_reply_without_protocol_is_a_plugin_without_batches() {
        for out in [
            r#"{"error": "unsupported operation \"get_many\""}"#,
            "{}",
            r#"{"value": "x"}"#,
        ] {
            assert!(
                matches!(parse_batch_response(out.as_bytes()), BatchReply::NotBatch),
                "{out}"
            );
        }
    }

    #[test]
    fn malformed_batch_replies_say_why_but_not_what() {
        let why = |out: &str| match parse_batch_response(out.as_bytes()) {
            BatchReply::Invalid(why) => why,
            _ => panic!("{out} is not invalid"),
        };
        assert_eq!(
            why(r#"{"protocol": 2, "results": {}}"#),
            "it speaks batch protocol 2, envref speaks 1"
        );
        assert_eq!(
            why(r#"{"protocol": 1}"#),
            "it has neither `results` nor `error`"
        );
        assert!(why(r#"{"protocol": 1, "results": {"a": {"value": "CANA"#)
            .starts_with("EOF while parsing"));
        for out in [
            r#"{"protocol": 1, "results": ["CANARY"]}"#,
            r#"{"protocol": 1, "results": {"a": {"value": ["CANARY"]}}}"#,
            r#"{"protocol": "CANARY", "results": {}}"#,
            "[\"CANARY\"]",
        ] {
            let w = why(out);
            assert!(
                w.starts_with("a field is not of the protocol's type"),
                "{out}: {w}"
            );
            assert!(!w.contains("CANARY"), "{w}");
        }
    }
}
