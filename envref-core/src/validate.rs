//! `envref validate`: the project's keys against `.env.example` (missing and extra keys) and
//! against a schema (`.env.schema.json`) of typed rules.
//!
//! Schema file: `{"keys": {"PORT": {"type": "port", "required": true}, …}}`. Rule fields:
//! `type` (`string` default, `number`, `boolean`, `url`, `email`, `port`, `enum`), `values`
//! (for `enum`), `pattern` (a regular expression that must match somewhere in the value;
//! anchor it with `^…$` for a whole-value match), `required`, `default` and `description`.
//!
//! The declarations serve more than `validate`: `status` and `onboard` show a key's
//! `description`; a variable declared `"required": false` whose whole value is a reference
//! is optional: when no backend has the secret (every backend said not found, none failed),
//! it resolves to its `default`, or to an empty value, with a note (see [`optional_references`]).
//!
//! Values are checked as the project defines them, without asking any backend: a key whose
//! value needs a secret counts as present, and its type is not checked. Messages never
//! contain values (a `.env` may hold a plaintext secret by mistake).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use regex::Regex;
use serde::Deserialize;

use crate::dotenv::{Document, Location, Value};
use crate::evaluate::{evaluate, Failure, RefMode};
use crate::layers::Merged;
use crate::project::Project;
use crate::reference::Reference;
use crate::{Error, Result};

/// The schema's file name, next to `.envref.yaml`.
pub const SCHEMA_FILE: &str = ".env.schema.json";

pub(crate) const TYPES: &[&str] = &[
    "string", "number", "boolean", "url", "email", "port", "enum",
];

#[derive(Debug, Clone)]
pub(crate) struct Rule {
    pub kind: String,
    pub required: bool,
    /// Written `"required": false`: the secret may be missing (absent `required` is not this).
    pub optional: bool,
    pub values: Vec<String>,
    pub pattern: Option<Regex>,
    pub default: Option<String>,
    pub description: Option<String>,
}

/// A parsed schema file (`.env.schema.json`): typed rules by key.
#[derive(Debug, Clone)]
pub struct Schema {
    pub(crate) path: PathBuf,
    pub(crate) rules: BTreeMap<String, Rule>,
}

#[derive(Deserialize)]
struct SchemaFile {
    keys: Option<BTreeMap<String, RuleFile>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    #[serde(rename = "type")]
    kind: Option<String>,
    required: Option<bool>,
    #[serde(default)]
    values: Vec<serde_json::Value>,
    pattern: Option<String>,
    default: Option<serde_json::Value>,
    description: Option<String>,
}

impl Rule {
    /// A schema rule for `key`; what is wrong with it goes to `problems`.
    fn parse(key: &str, r: RuleFile, problems: &mut Vec<String>) -> Rule {
        let kind = r.kind.unwrap_or_else(|| "string".into());
        if !TYPES.contains(&kind.as_str()) {
            problems.push(format!(
                "{key}: unknown type {kind:?} (expected one of: {})",
                TYPES.join(", ")
            ));
        }
        let values: Vec<String> = r.values.iter().map(scalar_text).collect();
        if kind == "enum" && values.is_empty() {
            problems.push(format!(
                "{key}: type enum needs a non-empty \"values\" list"
            ));
        }
        let pattern = match r.pattern.as_deref().map(Regex::new) {
            None => None,
            Some(Ok(re)) => Some(re),
            Some(Err(e)) => {
                let first = e
                    .to_string()
                    .lines()
                    .last()
                    .unwrap_or_default()
                    .trim()
                    .to_string();
                problems.push(format!("{key}: invalid pattern: {first}"));
                None
            }
        };
        let mut rule = Rule {
            kind,
            required: r.required == Some(true),
            optional: r.required == Some(false),
            values,
            pattern,
            default: None,
            description: r.description.map(|d| one_line(&d)),
        };
        rule.default = match r.default {
            None | Some(serde_json::Value::Null) => None,
            Some(v @ (serde_json::Value::Array(_) | serde_json::Value::Object(_))) => {
                let what = if v.is_array() { "a list" } else { "an object" };
                problems.push(format!(
                    "{key}: default must be a string, number or boolean, not {what}"
                ));
                None
            }
            Some(v) => Some(scalar_text(&v)),
        };
        if let Some(d) = rule.default.as_deref().filter(|d| !d.is_empty()) {
            problems.extend(
                check_value(&rule, d)
                    .into_iter()
                    .map(|m| format!("{key}: default: {m}")),
            );
        }
        rule
    }
}

/// A JSON scalar as the text a variable would hold (`8080`, `true`, `"x"` → `x`).
fn scalar_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A description on one line, for prompts and listings.
fn one_line(s: &str) -> String {
    s.split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

impl Schema {
    /// Read and parse the schema at `path`.
    pub fn load(path: &Path) -> Result<Schema> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Schema::parse(path, &text)
    }

    /// Parse a schema; every problem is reported at once.
    pub(crate) fn parse(path: &Path, text: &str) -> Result<Schema> {
        let file: SchemaFile = serde_json::from_str(text).map_err(|e| {
            Error::parse(format!(
                "{}:{}:{}: invalid schema: {e}",
                path.display(),
                e.line(),
                e.column()
            ))
            .with_source(e)
            .with_hint(
                r#"a schema looks like {"keys": {"PORT": {"type": "port", "required": true}}}"#,
            )
        })?;
        let keys = file.keys.ok_or_else(|| {
            Error::parse(format!(
                "{}: the schema has no \"keys\" object, so it would check nothing",
                path.display()
            ))
            .with_hint(r#"put the rules under "keys": {"keys": {"PORT": {"type": "port"}}}"#)
        })?;
        let mut problems = Vec::new();
        let rules = keys
            .into_iter()
            .map(|(key, r)| {
                let rule = Rule::parse(&key, r, &mut problems);
                (key, rule)
            })
            .collect();
        if !problems.is_empty() {
            let list = problems
                .iter()
                .map(|p| format!("  - {p}"))
                .collect::<Vec<_>>()
                .join("\n");
            return Err(Error::parse(format!(
                "{}: invalid schema:\n{list}",
                path.display()
            )));
        }
        Ok(Schema {
            path: path.to_path_buf(),
            rules,
        })
    }
}

impl Schema {
    /// The project's schema (`.env.schema.json` next to `.envref.yaml`), when it has one.
    pub fn of_project(project: &Project) -> Result<Option<Schema>> {
        let path = project.config.root.join(SCHEMA_FILE);
        if !path.is_file() {
            return Ok(None);
        }
        Schema::load(&path).map(Some)
    }

    /// The declared description of `key`.
    pub fn description(&self, key: &str) -> Option<&str> {
        self.rules.get(key)?.description.as_deref()
    }

    /// `key: description` for each of `keys` that has one, joined with `; `.
    pub fn describe(&self, keys: &[String]) -> Option<String> {
        let parts: Vec<String> = keys
            .iter()
            .filter_map(|k| Some(format!("{k}: {}", self.description(k)?)))
            .collect();
        (!parts.is_empty()).then(|| parts.join("; "))
    }
}

/// A reference that may stay unstored: every variable that uses it is declared
/// `"required": false` and is that reference and nothing else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Optional {
    /// The reference.
    pub reference: Reference,
    /// The variables that use it.
    pub variables: Vec<String>,
    /// What it resolves to when no backend has it: the first variable's `default`, else empty.
    pub stand_in: String,
    /// Whether `stand_in` is a declared default (not the empty value).
    pub has_default: bool,
}

/// The project's optional references (see [`Optional`]), by reference.
pub fn optional_references(project: &Project, schema: &Schema) -> BTreeMap<Reference, Optional> {
    let mut users: BTreeMap<&Reference, Vec<&crate::layers::Definition>> = BTreeMap::new();
    for d in project.merged.definitions() {
        for r in d.value.references() {
            users.entry(r).or_default().push(d);
        }
    }
    let mut out = BTreeMap::new();
    for (r, defs) in users {
        let rule_of = |d: &crate::layers::Definition| {
            let whole = matches!(&d.value, Value::Reference(x) if **x == *r);
            schema
                .rules
                .get(&*d.key)
                .filter(|rule| whole && rule.optional)
        };
        let Some(rules) = defs.iter().map(|d| rule_of(d)).collect::<Option<Vec<_>>>() else {
            continue;
        };
        let default = rules.iter().find_map(|rule| rule.default.clone());
        out.insert(
            r.clone(),
            Optional {
                reference: r.clone(),
                variables: defs.iter().map(|d| d.key.to_string()).collect(),
                has_default: default.is_some(),
                stand_in: default.unwrap_or_default(),
            },
        );
    }
    out
}

/// Whether no backend has `r`: one answered "not found" and none that could have it failed.
pub(crate) fn absent(lookups: &crate::resolve::Lookups, r: &Reference) -> bool {
    let failed = if r.is_chain() {
        !lookups.errors.is_empty()
    } else {
        lookups.errors.contains_key(&r.target)
    };
    lookups.not_found.contains(r) && !lookups.secrets.contains_key(r) && !failed
}

/// Give each optional reference that no backend has its stand-in value (never on a backend
/// error). Returns a note per reference, naming the variables, never a value. The stand-in
/// is treated as the secret it stands for (masked by `run`). Reads the schema only when
/// something was not found.
pub(crate) fn fill_optional(
    project: &Project,
    lookups: &mut crate::resolve::Lookups,
) -> Vec<String> {
    let mut notes = Vec::new();
    if lookups.not_found.is_empty() {
        return notes;
    }
    let schema = match Schema::of_project(project) {
        Ok(Some(s)) => s,
        Ok(None) => return notes,
        Err(e) => return vec![format!("{e}; its defaults are not used")],
    };
    for (r, o) in optional_references(project, &schema) {
        if !absent(lookups, &r) {
            continue;
        }
        lookups.failures.remove(&r);
        lookups.not_found.remove(&r);
        lookups.secrets.insert(r.clone(), o.stand_in.into());
        let what = if o.has_default {
            "its default"
        } else {
            "an empty value"
        };
        notes.push(format!(
            "{}: {r} is in no backend; optional in {SCHEMA_FILE}, so it gets {what}",
            o.variables.join(", ")
        ));
    }
    notes
}

/// Check one value against a rule's type and pattern. Messages never contain the value.
pub(crate) fn check_value(rule: &Rule, value: &str) -> Vec<String> {
    let mut out = Vec::new();
    let ok = match rule.kind.as_str() {
        "number" => value.trim() == value && value.parse::<f64>().is_ok_and(f64::is_finite),
        "boolean" => ["true", "false", "1", "0", "yes", "no", "on", "off"]
            .contains(&value.to_ascii_lowercase().as_str()),
        "url" => is_url(value),
        "email" => is_email(value),
        "port" => {
            !value.is_empty()
                && value.chars().all(|c| c.is_ascii_digit())
                && value.parse::<u16>().is_ok_and(|p| p >= 1)
        }
        "enum" => rule.values.iter().any(|v| v == value),
        _ => true,
    };
    if !ok {
        out.push(match rule.kind.as_str() {
            "number" => "expected a number".to_string(),
            "boolean" => "expected a boolean (true/false/1/0/yes/no/on/off)".to_string(),
            "url" => "expected a URL with a scheme and a host (scheme://host/…)".to_string(),
            "email" => "expected an email address".to_string(),
            "port" => "expected a port number (1-65535)".to_string(),
            "enum" => format!("expected one of: {}", rule.values.join(", ")),
            other => format!("expected a {other}"),
        });
    }
    if let Some(re) = &rule.pattern {
        if !re.is_match(value) {
            out.push(format!("does not match the pattern {}", re.as_str()));
        }
    }
    out
}

fn is_url(v: &str) -> bool {
    let Some((scheme, rest)) = v.split_once("://") else {
        return false;
    };
    let mut sc = scheme.chars();
    let scheme_ok = sc.next().is_some_and(|c| c.is_ascii_alphabetic())
        && sc.all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c));
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let hostport = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if hostport.starts_with('[') {
        hostport
            .split_once(']')
            .map(|(h, _)| h.trim_start_matches('['))
            .unwrap_or_default()
    } else {
        match hostport.rsplit_once(':') {
            Some((h, port)) if port.chars().all(|c| c.is_ascii_digit()) => h,
            Some(_) => return false,
            None => hostport,
        }
    };
    scheme_ok && !host.is_empty() && !v.chars().any(char::is_whitespace)
}

fn is_email(v: &str) -> bool {
    let Some((local, domain)) = v.rsplit_once('@') else {
        return false;
    };
    !local.is_empty()
        && !v.chars().any(char::is_whitespace)
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
}

/// One problem with one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The variable.
    pub key: String,
    /// Where the key is defined (or, for a missing key, where it is required).
    pub location: Option<Location>,
    /// What is wrong (never the value).
    pub message: String,
}

/// What `validate` found, by kind of problem.
#[derive(Debug, Default)]
pub struct Report {
    /// How many keys the project defines.
    pub keys_checked: usize,
    /// Keys the example or the schema requires that the project does not define.
    pub missing: Vec<Problem>,
    /// Keys the project defines that the example does not list.
    pub extra: Vec<Problem>,
    /// Keys whose value breaks the schema's rule.
    pub invalid: Vec<Problem>,
    /// Keys whose type was not checked because their value needs a secret.
    pub unchecked_secrets: Vec<String>,
}

impl Report {
    /// How many problems make `validate` fail.
    pub fn error_count(&self) -> usize {
        self.missing.len() + self.extra.len() + self.invalid.len()
    }

    /// Every problem: missing, then extra, then invalid.
    pub fn problems(&self) -> impl Iterator<Item = &Problem> {
        self.missing.iter().chain(&self.extra).chain(&self.invalid)
    }
}

/// Validate the merged layers against an example file and/or a schema.
pub fn validate(merged: &Merged, example: Option<&Document>, schema: Option<&Schema>) -> Report {
    let mut report = Report {
        keys_checked: merged.definitions().len(),
        ..Report::default()
    };
    if let Some(ex) = example {
        report.check_example(merged, ex);
    }
    if let Some(schema) = schema {
        report.check_schema(merged, schema);
    }
    report
}

impl Report {
    /// Keys the example lists that are not set, and keys set that it does not list.
    fn check_example(&mut self, merged: &Merged, ex: &Document) {
        let example_keys: BTreeSet<&str> =
            ex.all_entries().iter().map(|e| e.key.as_str()).collect();
        let mut seen = BTreeSet::new();
        for e in ex.all_entries() {
            if merged.get(&e.key).is_none() && seen.insert(e.key.as_str()) {
                self.missing.push(Problem {
                    key: e.key.clone(),
                    location: Some(Location {
                        path: ex.path().into(),
                        pos: e.pos,
                    }),
                    message: format!("not set (listed in {})", file_name(ex.path())),
                });
            }
        }
        for d in merged.definitions() {
            if !example_keys.contains(&*d.key) {
                self.extra.push(Problem {
                    key: d.key.to_string(),
                    location: Some(d.location.clone()),
                    message: format!("not listed in {}", file_name(ex.path())),
                });
            }
        }
    }

    /// Required keys that are not set, and values that break their rule.
    fn check_schema(&mut self, merged: &Merged, schema: &Schema) {
        // Evaluate without secrets: keys that need one fail as Unresolved and are not type-checked.
        let no_secrets = Default::default();
        let evaluated = evaluate(merged, RefMode::Resolved(&no_secrets), false);
        let failures: BTreeMap<&str, &Failure> = evaluated
            .failures
            .iter()
            .map(|(k, f)| (k.as_str(), f))
            .collect();
        for (key, rule) in &schema.rules {
            if merged.get(key).is_none() {
                if rule.required && !self.missing.iter().any(|p| &p.key == key) {
                    self.missing.push(Problem {
                        key: key.clone(),
                        location: None,
                        message: format!("not set (required by {})", file_name(&schema.path)),
                    });
                }
                continue;
            }
            let invalid = |message: String| Problem {
                key: key.clone(),
                location: merged.get(key).map(|d| d.location.clone()),
                message,
            };
            match failures.get(key.as_str()) {
                Some(Failure::Unresolved(_)) => self.unchecked_secrets.push(key.clone()),
                Some(Failure::Invalid(m)) => self.invalid.push(invalid(m.clone())),
                None => {
                    let value = evaluated
                        .get(key)
                        .map(|v| v.value.as_str())
                        .unwrap_or_default();
                    if value.is_empty() && rule.required {
                        self.invalid
                            .push(invalid("required, but the value is empty".into()));
                    } else if !value.is_empty() {
                        self.invalid
                            .extend(check_value(rule, value).into_iter().map(invalid));
                    }
                }
            }
        }
    }
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| p.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn merged(text: &str) -> Merged {
        Merged::from_documents(&[Document::parse("/p/.env", text).unwrap()])
    }

    fn schema(json: &str) -> Schema {
        Schema::parse(Path::new("/p/.env.schema.json"), json).unwrap()
    }

    fn rule(kind: &str) -> Rule {
        Rule {
            kind: kind.into(),
            required: false,
            values: vec!["a".into(), "b".into()],
            pattern: None,
            optional: false,
            default: None,
            description: None,
        }
    }

    #[test]
    fn types() {
        let ok = |k: &str, v: &str| check_value(&rule(k), v).is_empty();
        assert!(
            ok("number", "1.5e3")
                && ok("number", "-7")
                && !ok("number", "NaN")
                && !ok("number", "12px")
        );
        assert!(ok("boolean", "Yes") && !ok("boolean", "maybe"));
        assert!(
            ok("url", "https://example.com:8443/x?y")
                && ok("url", "postgres://u:p@db/app")
                && !ok("url", "example.com")
        );
        assert!(!ok("url", "http://") && !ok("url", "http://h:port"));
        assert!(ok("email", "a@b.co") && !ok("email", "a@b") && !ok("email", "@b.co"));
        assert!(
            ok("port", "8080") && !ok("port", "0") && !ok("port", "65536") && !ok("port", "+80")
        );
        assert!(ok("enum", "a") && !ok("enum", "A"));
    }

    #[test]
    fn schema_errors_are_reported_together() {
        let e = Schema::parse(
            Path::new("/s.json"),
            r#"{"keys": {"A": {"type": "int"}, "B": {"type": "enum"}, "C": {"pattern": "("}}}"#,
        )
        .unwrap_err();
        assert!(
            e.to_string().contains("A: unknown type")
                && e.to_string().contains("B: type enum")
                && e.to_string().contains("C: invalid pattern")
        );
        assert!(
            Schema::parse(Path::new("/s.json"), r#"{"PORT": {"type": "port"}}"#)
                .unwrap_err()
                .to_string()
                .contains("no \"keys\"")
        );
    }

    #[test]
    fn declarations_default_and_description() {
        let s = schema(
            r#"{"keys": {"P": {"type": "port", "required": false, "default": 8080, "description": "the\n  port"}, "Q": {}}}"#,
        );
        let p = &s.rules["P"];
        assert!(p.optional && !p.required);
        assert_eq!(p.default.as_deref(), Some("8080"));
        assert_eq!(s.description("P"), Some("the port"));
        assert!(!s.rules["Q"].optional && s.rules["Q"].default.is_none());
        let e = Schema::parse(
            Path::new("/s.json"),
            r#"{"keys": {"P": {"type": "port", "default": "http"}, "L": {"default": [1]}}}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("P: default: expected a port"), "{e}");
        assert!(
            e.contains("L: default must be a string, number or boolean, not a list"),
            "{e}"
        );
    }

    #[test]
    fn example_and_schema() {
        let m = merged("PORT=http\nMODE=dev\nAPI_KEY=ref://secrets/k\nEXTRA=1\n");
        let ex = Document::parse("/p/.env.example", "PORT=\nMODE=\nAPI_KEY=\nMISSING=\n").unwrap();
        let s = schema(
            r#"{"keys": {"PORT": {"type": "port", "required": true}, "MODE": {"type": "enum", "values": ["dev", "prod"]}, "API_KEY": {"type": "url", "required": true}, "NEEDED": {"required": true}}}"#,
        );
        let r = validate(&m, Some(&ex), Some(&s));
        let keys = |v: &[Problem]| v.iter().map(|p| p.key.clone()).collect::<Vec<_>>();
        assert_eq!(keys(&r.missing), ["MISSING", "NEEDED"]);
        assert_eq!(keys(&r.extra), ["EXTRA"]);
        assert_eq!(keys(&r.invalid), ["PORT"]);
        assert_eq!(r.unchecked_secrets, ["API_KEY"]);
        assert_eq!(r.error_count(), 4);
        assert!(!r.invalid[0].message.contains("http"));
    }
}
