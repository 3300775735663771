//! Interpolation over the merged layers. Names resolve among all keys (order does not
//! matter), then the process environment; a cycle is an error naming it. Secret values are
//! inserted literally and never re-scanned.

use std::collections::HashMap;

use secrecy::{ExposeSecret, SecretString};

use crate::dotenv::{Location, Value};
use crate::layers::Merged;
use crate::reference::Reference;
use crate::template::{Segment, Template, VarOp, LITERAL_DOLLAR};

/// What a reference turns into during evaluation.
#[derive(Clone, Copy)]
pub enum RefMode<'a> {
    /// Keep `ref://target/key` as text (`get`, `list --show-secrets`, `profile export`).
    Literal,
    /// Show `ref://***` (`list`).
    Masked,
    /// Insert the resolved secret; a reference missing from the map fails the key.
    Resolved(&'a HashMap<Reference, SecretString>),
}

/// One variable of the output.
#[derive(Clone, PartialEq, Eq)]
pub struct Var {
    pub key: String,
    pub value: String,
    /// The value comes from a reference (directly, through `${ref://…}`, or through a
    /// variable that does), whatever the mode: build scripts must not emit it.
    pub secret: bool,
}

/// No value, not even a non-secret one: a `.env` may hold a plaintext secret by mistake.
impl std::fmt::Debug for Var {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Var").field("key", &self.key).field("secret", &self.secret).finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The value needs these references, which did not resolve.
    Unresolved(Vec<Reference>),
    /// An interpolation error (`${X:?…}`, a cycle, `--strict` and an unset name), with location.
    Invalid(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Unresolved(refs) => {
                let list: Vec<String> = refs.iter().map(|r| r.to_string()).collect();
                write!(f, "unresolved reference(s): {}", list.join(", "))
            }
            Failure::Invalid(m) => f.write_str(m),
        }
    }
}

#[derive(Debug, Default)]
pub struct Evaluated {
    /// Variables that evaluated, in layer order.
    pub vars: Vec<Var>,
    /// Keys that did not, in layer order.
    pub failures: Vec<(String, Failure)>,
    pub warnings: Vec<String>,
}

impl Evaluated {
    pub fn get(&self, key: &str) -> Option<&Var> {
        self.vars.iter().find(|v| v.key == key)
    }
}

#[derive(Clone)]
enum State {
    Busy,
    Done(Result<(String, bool), Failure>),
}

struct Evaluator<'a> {
    merged: &'a Merged,
    mode: RefMode<'a>,
    strict: bool,
    /// Per definition index: being evaluated, or the result.
    state: Vec<Option<State>>,
    stack: Vec<usize>,
    warnings: Vec<String>,
}

/// Evaluate every key of `merged`.
pub fn evaluate(merged: &Merged, mode: RefMode<'_>, strict: bool) -> Evaluated {
    let state = vec![None; merged.definitions().len()];
    let mut ev = Evaluator { merged, mode, strict, state, stack: Vec::new(), warnings: Vec::new() };
    let mut out = Evaluated::default();
    for (i, def) in merged.definitions().iter().enumerate() {
        match ev.key(i) {
            Ok((value, secret)) => out.vars.push(Var { key: def.key.clone(), value, secret }),
            Err(f) => out.failures.push((def.key.clone(), f)),
        }
    }
    out.warnings = ev.warnings;
    out
}

impl<'a> Evaluator<'a> {
    fn key(&mut self, index: usize) -> Result<(String, bool), Failure> {
        match &self.state[index] {
            Some(State::Done(r)) => return r.clone(),
            Some(State::Busy) => unreachable!("cycles are caught before recursing"),
            None => {}
        }
        let merged: &'a Merged = self.merged;
        let def = &merged.definitions()[index];
        self.state[index] = Some(State::Busy);
        self.stack.push(index);
        let result = match &def.value {
            Value::Reference(r) => self.reference(r),
            Value::Template(t) => self.template(t, &def.key, &def.location),
        };
        self.stack.pop();
        self.state[index] = Some(State::Done(result.clone()));
        result
    }

    fn reference(&self, r: &Reference) -> Result<(String, bool), Failure> {
        match self.mode {
            RefMode::Literal => Ok((r.to_string(), true)),
            RefMode::Masked => Ok(("ref://***".into(), true)),
            RefMode::Resolved(map) => match map.get(r) {
                Some(v) => Ok((v.expose_secret().to_string(), true)),
                None => Err(Failure::Unresolved(vec![r.clone()])),
            },
        }
    }

    /// Evaluate `t`, the value (or a default inside the value) of `key` defined at `at`.
    /// Messages name `key` and the position, never a variable name: for `Tr0ub4dor$K7x` the
    /// "name" is the rest of a password.
    fn template(&mut self, t: &'a Template, key: &str, at: &Location) -> Result<(String, bool), Failure> {
        let mut out = String::new();
        let mut secret = false;
        let mut unresolved: Vec<Reference> = Vec::new();
        for seg in &t.segments {
            let piece = match seg {
                Segment::Lit(s) => Ok((s.clone(), false)),
                Segment::Ref(r, _) => self.reference(r),
                Segment::Var(v) => {
                    let here = Location { path: at.path.clone(), pos: v.pos };
                    let looked = self.lookup(&v.name, &here)?;
                    match (&v.op, looked) {
                        (VarOp::Plain, Some(x)) => Ok(x),
                        (VarOp::Plain, None) => {
                            if self.strict {
                                return Err(Failure::Invalid(format!(
                                    "{here}: the variable at this `$` is not set (--strict); {LITERAL_DOLLAR}"
                                )));
                            }
                            self.warnings.push(format!(
                                "{here}: {key}: the variable at this `$` is not set, so it expands to an empty string; {LITERAL_DOLLAR}"
                            ));
                            Ok((String::new(), false))
                        }
                        (VarOp::DefaultIfEmpty(d), Some(x)) if x.0.is_empty() => self.template(d, key, at),
                        (VarOp::DefaultIfEmpty(d), None) | (VarOp::DefaultIfUnset(d), None) => self.template(d, key, at),
                        // The `:?message` text is file text too, so it is not repeated.
                        (VarOp::ErrorIfEmpty(_), x) if x.as_ref().is_none_or(|x| x.0.is_empty()) => {
                            return Err(Failure::Invalid(format!("{here}: the variable that `${{…:?…}}` requires is not set or empty")));
                        }
                        (_, Some(x)) => Ok(x),
                        (VarOp::ErrorIfEmpty(_), None) => unreachable!("handled by the guard above"),
                    }
                }
            };
            match piece {
                Ok((s, sec)) => {
                    out.push_str(&s);
                    secret |= sec;
                }
                Err(Failure::Unresolved(rs)) => unresolved.extend(rs),
                Err(f) => return Err(f),
            }
        }
        if unresolved.is_empty() {
            Ok((out, secret))
        } else {
            Err(Failure::Unresolved(unresolved))
        }
    }

    /// A name's value: another key (evaluated), else the process environment, else `None`.
    fn lookup(&mut self, name: &str, here: &Location) -> Result<Option<(String, bool)>, Failure> {
        let defs = self.merged.definitions();
        // `PATH=${PATH}:./bin`: a key naming itself means the inherited value.
        let index = self.merged.index_of(name).filter(|i| self.stack.last() != Some(i));
        let Some(index) = index else {
            return Ok(std::env::var(name).ok().map(|v| (v, false)));
        };
        if let Some(at) = self.stack.iter().position(|k| *k == index) {
            let mut cycle: Vec<&str> = self.stack[at..].iter().map(|&k| defs[k].key.as_str()).collect();
            cycle.push(&defs[index].key);
            return Err(Failure::Invalid(format!("{here}: interpolation cycle: {}", cycle.join(" -> "))));
        }
        self.key(index).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dotenv::Document;

    fn merged(text: &str) -> Merged {
        Merged::from_documents(&[Document::parse("/p/.env", text).unwrap()])
    }

    fn eval(text: &str) -> Evaluated {
        evaluate(&merged(text), RefMode::Literal, false)
    }

    #[test]
    fn order_free_and_defaults() {
        let e = eval("A=${B}-x\nB=b\nC=${NOPE_UNSET_1:-d}\nD=${B:-z}\nE=$$B\nF='${B}'\nG=${EMPTY-u}\nEMPTY=\n");
        let v: Vec<_> = e.vars.iter().map(|v| (v.key.as_str(), v.value.as_str())).collect();
        assert_eq!(v, [("A", "b-x"), ("B", "b"), ("C", "d"), ("D", "b"), ("E", "$B"), ("F", "${B}"), ("G", ""), ("EMPTY", "")]);
    }

    #[test]
    fn self_reference_is_the_inherited_value() {
        std::env::set_var("ENVREF_TEST_SELF_REF", "/usr/bin");
        let e = eval("ENVREF_TEST_SELF_REF=${ENVREF_TEST_SELF_REF}:./bin\n");
        assert_eq!(e.vars[0].value, "/usr/bin:./bin");
    }

    #[test]
    fn cycles_and_required() {
        let e = eval("A=${B}\nB=${A}\nC=${NOPE_UNSET_2:?set C first}\n");
        assert_eq!(e.failures.len(), 3);
        match &e.failures[0].1 {
            Failure::Invalid(m) => assert_eq!(m, "/p/.env:2:3: interpolation cycle: A -> B -> A"),
            f => panic!("{f:?}"),
        }
        match &e.failures[2].1 {
            Failure::Invalid(m) => {
                assert_eq!(m, "/p/.env:3:3: the variable that `${…:?…}` requires is not set or empty");
            }
            f => panic!("{f:?}"),
        }
    }

    /// `Tr0ub4dor$K7x…` is a password, not a variable: the warning names the key and the
    /// column, says how to keep `$`, and quotes nothing of the value.
    #[test]
    fn unset_variable_names_the_key_not_the_value() {
        let text = "DB_PASSWORD=Tr0ub4dor$K7xQpSECRET\nB=\"${NOPE_SECRET}\"\n";
        let e = eval(text);
        assert_eq!(e.get("DB_PASSWORD").unwrap().value, "Tr0ub4dor");
        assert_eq!(e.warnings.len(), 2, "{:?}", e.warnings);
        assert!(e.warnings[0].starts_with("/p/.env:1:22: DB_PASSWORD: the variable at this `$` is not set"), "{}", e.warnings[0]);
        assert!(e.warnings[1].starts_with("/p/.env:2:4: B: "), "{}", e.warnings[1]);
        for w in &e.warnings {
            assert!(w.contains(LITERAL_DOLLAR) && !w.contains("SECRET"), "{w}");
        }
        let strict = evaluate(&merged(text), RefMode::Literal, true);
        assert!(strict.warnings.is_empty());
        match &strict.failures[..] {
            [(k, Failure::Invalid(m)), _] => {
                assert_eq!(k, "DB_PASSWORD");
                assert!(m.starts_with("/p/.env:1:22: the variable at this `$` is not set (--strict)"), "{m}");
                assert!(!m.contains("SECRET"), "{m}");
            }
            f => panic!("{f:?}"),
        }
    }

    #[test]
    fn references_through_vars() {
        let m = merged("DATABASE_URL=ref://secrets/db\nDB_DISPLAY=${DATABASE_URL}\nFULL=x${ref://secrets/u}y\n");
        let mut map = HashMap::new();
        map.insert(Reference::parse("ref://secrets/db").unwrap(), SecretString::from("pg://s$x"));
        let e = evaluate(&m, RefMode::Resolved(&map), false);
        assert_eq!(e.get("DB_DISPLAY").unwrap().value, "pg://s$x");
        assert!(e.get("DB_DISPLAY").unwrap().secret);
        assert_eq!(e.failures, vec![("FULL".to_string(), Failure::Unresolved(vec![Reference::parse("ref://secrets/u").unwrap()]))]);
        assert!(!format!("{:?}", e.vars).contains("pg://"));
        let plain = eval("PASSWORD=hunter2\n");
        assert!(!format!("{plain:?}").contains("hunter2"));
    }
}
