//! Interpolation over the merged layers. Names resolve among all keys (order does not
//! matter), then the process environment; a cycle is an error naming it. Secret values are
//! inserted literally and never re-scanned.
//!
//! Bounded and linear: keys are evaluated with an explicit work stack (a 100k-key chain
//! needs no native recursion), a cycle is found in O(1) per lookup from the per-key busy
//! state, one value and all values together have a size cap, and a key that fails only
//! because a key it uses failed is reported after the real failures, not with a copy of them.

use std::collections::HashMap;

use secrecy::{ExposeSecret, SecretString};

use crate::dotenv::{Location, Value};
use crate::layers::{Key, Merged};
use crate::reference::Reference;
use crate::template::{Segment, Template, VarOp, VarUse, LITERAL_DOLLAR};

/// The largest value one key may expand to. Linux refuses a single environment string
/// over 128 KiB anyway; this stops `A=${B}${B}` doubling before it exhausts memory.
pub(crate) const MAX_VALUE_BYTES: usize = 1 << 20;
/// The largest total of all expanded values.
pub(crate) const MAX_TOTAL_BYTES: usize = 64 << 20;
/// Members of a cycle named in its message; the rest are counted.
const CYCLE_NAMES: usize = 10;
/// Unresolved references one failure lists (a key's own and those of the keys it uses).
const MAX_UNRESOLVED: usize = 64;

/// What a reference turns into during evaluation.
#[derive(Clone, Copy)]
pub enum RefMode<'a> {
    /// Keep `ref://target/key` as text (`get`, `list --show-refs`, `profile export`).
    Literal,
    /// Show `ref://***` (`op://***` for 1Password's references) (`list`).
    Masked,
    /// Insert the resolved secret; a reference missing from the map fails the key.
    Resolved(&'a HashMap<Reference, SecretString>),
}

/// One variable of the output.
#[derive(Clone, PartialEq, Eq)]
pub struct Var {
    /// The variable name.
    pub key: Key,
    /// The final value, interpolated.
    pub value: String,
    /// The value comes from a reference (directly, through `${ref://…}`, or through a
    /// variable that does), whatever the mode: build scripts must not emit it.
    pub secret: bool,
}

/// No value, not even a non-secret one: a `.env` may hold a plaintext secret by mistake.
impl std::fmt::Debug for Var {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Var")
            .field("key", &self.key)
            .field("secret", &self.secret)
            .finish_non_exhaustive()
    }
}

/// Why a key got no value.
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

/// The outcome of [`evaluate`]: what evaluated, what did not and why.
#[derive(Debug, Default)]
pub struct Evaluated {
    /// Variables that evaluated, in layer order.
    pub vars: Vec<Var>,
    /// Keys that did not, in layer order.
    pub failures: Vec<(String, Failure)>,
    /// Non-fatal problems (a `$` name that is not set, without `strict`).
    pub warnings: Vec<String>,
}

impl Evaluated {
    /// The variable `key`, if it evaluated.
    pub fn get(&self, key: &str) -> Option<&Var> {
        self.vars.iter().find(|v| &*v.key == key)
    }
}

enum State {
    Todo,
    /// Waiting for keys it uses; the number is its place in `Evaluator::chain`.
    Busy(usize),
    /// The finished variable: the states become the output list in place.
    Done(Result<Var, Failure>),
}

struct Evaluator<'a> {
    merged: &'a Merged,
    mode: RefMode<'a>,
    strict: bool,
    /// Per definition index.
    state: Vec<State>,
    /// The busy keys, each waiting for the next: meeting a busy key again is a cycle.
    chain: Vec<usize>,
    /// Per definition index: failed only because a key it uses failed.
    dependent: Vec<bool>,
    /// Bytes of all values evaluated so far.
    total: usize,
    warnings: Vec<String>,
}

/// One attempt at a key's value.
#[derive(Default)]
struct Pass {
    out: String,
    secret: bool,
    unresolved: Vec<Reference>,
    /// Keys it uses whose values are not known yet: evaluate them, then try again.
    needs: Vec<usize>,
    warnings: Vec<String>,
}

/// Why a pass stopped: the failure, and whether it only repeats a failure of a key used.
type Stop = (Failure, bool);

/// Evaluate every key of `merged`.
pub fn evaluate(merged: &Merged, mode: RefMode<'_>, strict: bool) -> Evaluated {
    evaluate_from(merged, 0..merged.definitions().len(), mode, strict)
}

/// Evaluate only `keys` and the keys they use: the others are not looked at, so they add no
/// value, failure or warning.
#[cfg(feature = "backends")]
pub(crate) fn evaluate_keys(
    merged: &Merged,
    keys: &[&str],
    mode: RefMode<'_>,
    strict: bool,
) -> Evaluated {
    let roots: Vec<usize> = keys.iter().filter_map(|k| merged.index_of(k)).collect();
    evaluate_from(merged, roots, mode, strict)
}

fn evaluate_from(
    merged: &Merged,
    roots: impl IntoIterator<Item = usize>,
    mode: RefMode<'_>,
    strict: bool,
) -> Evaluated {
    let n = merged.definitions().len();
    let state = (0..n).map(|_| State::Todo).collect();
    let mut ev = Evaluator {
        merged,
        mode,
        strict,
        state,
        chain: Vec::new(),
        dependent: vec![false; n],
        total: 0,
        warnings: Vec::new(),
    };
    for i in roots {
        ev.run(i);
    }
    ev.finish()
}

impl<'a> Evaluator<'a> {
    /// Evaluate key `root` and every key it needs.
    fn run(&mut self, root: usize) {
        let merged = self.merged;
        // An explicit stack instead of recursion: a key that needs others goes back under them.
        let mut todo = vec![root];
        while let Some(&k) = todo.last() {
            match self.state[k] {
                State::Done(_) => {
                    todo.pop();
                    continue;
                }
                State::Busy(at) => debug_assert_eq!(
                    at + 1,
                    self.chain.len(),
                    "a busy key resumes on top of the chain"
                ),
                State::Todo => {}
            }
            match self.pass(k) {
                Ok(result) => {
                    todo.pop();
                    if matches!(self.state[k], State::Busy(_)) {
                        self.chain.pop();
                    }
                    let key = merged.definitions()[k].key.clone();
                    self.state[k] =
                        State::Done(result.map(|(value, secret)| Var { key, value, secret }));
                }
                Err(needs) => {
                    if matches!(self.state[k], State::Todo) {
                        self.state[k] = State::Busy(self.chain.len());
                        self.chain.push(k);
                    }
                    todo.extend(needs);
                }
            }
        }
    }

    /// The variables, and the failures with those that explain the others first.
    fn finish(self) -> Evaluated {
        let merged = self.merged;
        let mut out = Evaluated::default();
        let mut dependents = Vec::new();
        let defs = merged.definitions();
        // Collected in place (a `Var` is no bigger than a `State`): the states' buffer becomes the
        // list of variables, so the two never exist side by side.
        out.vars = (self.state.into_iter().enumerate())
            .filter_map(|(i, state)| match state {
                State::Done(Ok(var)) => Some(var),
                State::Done(Err(f)) if self.dependent[i] => {
                    dependents.push((defs[i].key.to_string(), f));
                    None
                }
                State::Done(Err(f)) => {
                    out.failures.push((defs[i].key.to_string(), f));
                    None
                }
                // Not reachable from the roots.
                State::Todo => None,
                State::Busy(_) => unreachable!("every started key is finished"),
            })
            .collect();
        out.vars.shrink_to_fit();
        // The failures that explain the others come first, so a capped report shows them.
        out.failures.extend(dependents);
        out.warnings = self.warnings;
        out
    }
}

impl<'a> Evaluator<'a> {
    /// Try key `k`: its result, or the keys it still needs.
    fn pass(&mut self, k: usize) -> Result<Result<(String, bool), Failure>, Vec<usize>> {
        let merged: &'a Merged = self.merged;
        let def = &merged.definitions()[k];
        let mut p = Pass::default();
        let result = match &def.value {
            Value::Reference(r) => self.reference(r).map(|(s, secret)| {
                p.out = s;
                p.secret = secret;
            }),
            Value::Template(t) => match self.template(t, k, &def.location, &mut p) {
                Ok(()) if !p.needs.is_empty() => return Err(p.needs),
                Ok(()) => Ok(()),
                Err((f, dependent)) => {
                    self.dependent[k] = dependent;
                    Err(f)
                }
            },
        };
        self.warnings.append(&mut p.warnings);
        if let Err(f) = result {
            return Ok(Err(f));
        }
        if !p.unresolved.is_empty() {
            return Ok(Err(Failure::Unresolved(p.unresolved)));
        }
        if self.total + p.out.len() > MAX_TOTAL_BYTES {
            return Ok(Err(Failure::Invalid(format!(
                "{}: the value of {} would bring all values over {} MiB; check for variables that repeat large values",
                def.location,
                def.key,
                MAX_TOTAL_BYTES >> 20
            ))));
        }
        self.total += p.out.len();
        // Growth by doubling leaves up to half unused; 100k values are kept until output.
        p.out.shrink_to_fit();
        Ok(Ok((p.out, p.secret)))
    }

    fn reference(&self, r: &Reference) -> Result<(String, bool), Failure> {
        match self.mode {
            RefMode::Literal => Ok((r.to_string(), true)),
            RefMode::Masked if r.is_one_password() => Ok(("op://***".into(), true)),
            RefMode::Masked => Ok(("ref://***".into(), true)),
            RefMode::Resolved(map) => match map.get(r) {
                Some(v) => Ok((v.expose_secret().to_string(), true)),
                None => Err(Failure::Unresolved(vec![r.clone()])),
            },
        }
    }

    /// Append `t`, the value (or a default inside the value) of key `k` defined at `at`, to
    /// `p`. Messages name the key and the position, never a variable name that is not a
    /// key: for `Tr0ub4dor$K7x` the "name" is the rest of a password. Defaults nest at most
    /// [`crate::template::MAX_NESTING`] deep, which bounds this recursion.
    fn template(
        &mut self,
        t: &'a Template,
        k: usize,
        at: &Location,
        p: &mut Pass,
    ) -> Result<(), Stop> {
        let key = &self.merged.definitions()[k].key;
        for seg in t.segments() {
            match seg {
                Segment::Lit(s) => push(p, s, false, key, at)?,
                Segment::Ref(r, _) => match self.reference(r) {
                    Ok((s, secret)) => push(p, &s, secret, key, at)?,
                    Err(Failure::Unresolved(rs)) => add_unresolved(p, &rs),
                    Err(f) => return Err((f, false)),
                },
                Segment::Var(v) => self.variable(v, k, at, p)?,
            }
        }
        Ok(())
    }

    /// Append the value of the variable `v` (in the value of key `k`), or its default, to `p`.
    fn variable(
        &mut self,
        v: &'a VarUse,
        k: usize,
        at: &Location,
        p: &mut Pass,
    ) -> Result<(), Stop> {
        let here = || Location {
            path: at.path.clone(),
            pos: v.pos,
        };
        // `PATH=${PATH}:./bin`: a key naming itself means the inherited value.
        let looked = match self.merged.index_of(&v.name).filter(|&j| j != k) {
            None => crate::config::exported(&v.name).ok().map(|s| (s, false)),
            Some(j) => match &self.state[j] {
                State::Done(Ok(var)) => Some((var.value.clone(), var.secret)),
                State::Done(Err(Failure::Unresolved(rs))) => {
                    add_unresolved(p, rs);
                    return Ok(());
                }
                State::Done(Err(_)) => {
                    let m = format!(
                        "{}: uses {}, which could not be evaluated (see above)",
                        here(),
                        &*v.name
                    );
                    return Err((Failure::Invalid(m), true));
                }
                &State::Busy(from) => return Err((self.cycle(from, k, &here()), false)),
                State::Todo => {
                    p.needs.push(j);
                    return Ok(());
                }
            },
        };
        self.expand(v, looked, k, at, p)
    }

    /// Append the variable's value `looked` (`None`: not set) as `v`'s operator says: the
    /// value, a default, or an error.
    fn expand(
        &mut self,
        v: &'a VarUse,
        looked: Option<(String, bool)>,
        k: usize,
        at: &Location,
        p: &mut Pass,
    ) -> Result<(), Stop> {
        let key = &self.merged.definitions()[k].key;
        let here = || Location {
            path: at.path.clone(),
            pos: v.pos,
        };
        match (&v.op, looked) {
            (VarOp::Plain, Some((s, secret))) => push(p, &s, secret, key, at)?,
            (VarOp::Plain, None) => {
                if self.strict {
                    return Err((
                        Failure::Invalid(format!(
                            "{}: the variable at this `$` is not set (--strict); {LITERAL_DOLLAR}",
                            here()
                        )),
                        false,
                    ));
                }
                p.warnings.push(format!(
                    "{}: {key}: the variable at this `$` is not set, so it expands to an empty string; {LITERAL_DOLLAR}",
                    here()
                ));
            }
            (VarOp::DefaultIfEmpty(d), Some(x)) if x.0.is_empty() => self.template(d, k, at, p)?,
            (VarOp::DefaultIfEmpty(d), None) | (VarOp::DefaultIfUnset(d), None) => {
                self.template(d, k, at, p)?
            }
            // The `:?message` text is file text too, so it is not repeated.
            (VarOp::ErrorIfEmpty(_), x) if x.as_ref().is_none_or(|x| x.0.is_empty()) => {
                let m = format!(
                    "{}: the variable that `${{…:?…}}` requires is not set or empty",
                    here()
                );
                return Err((Failure::Invalid(m), false));
            }
            (_, Some((s, secret))) => push(p, &s, secret, key, at)?,
            (VarOp::ErrorIfEmpty(_), None) => unreachable!("handled by the guard above"),
        }
        Ok(())
    }

    /// Key `k` uses the busy key `chain[from]`: the cycle is `chain[from..]`, then `k`.
    /// It is reported once, by `k`; the other members fail as keys using a failed key.
    fn cycle(&self, from: usize, k: usize, here: &Location) -> Failure {
        let defs = self.merged.definitions();
        let k_busy = self.chain.last() == Some(&k);
        let members = self.chain[from..].iter().chain((!k_busy).then_some(&k));
        let n = self.chain.len() - from + usize::from(!k_busy);
        let mut names: Vec<&str> = members.take(CYCLE_NAMES).map(|&i| &*defs[i].key).collect();
        let first = &*defs[self.chain[from]].key;
        if n > CYCLE_NAMES {
            let more = format!("… and {} more", n - CYCLE_NAMES);
            names.push(&more);
            names.push(first);
            return Failure::Invalid(format!(
                "{here}: interpolation cycle of {n} variables: {}",
                names.join(" -> ")
            ));
        }
        names.push(first);
        Failure::Invalid(format!(
            "{here}: interpolation cycle: {}",
            names.join(" -> ")
        ))
    }
}

/// Append `s` to the value being built, within [`MAX_VALUE_BYTES`].
fn push(p: &mut Pass, s: &str, secret: bool, key: &str, at: &Location) -> Result<(), Stop> {
    if p.out.len() + s.len() > MAX_VALUE_BYTES {
        let m = format!(
            "{at}: the value of {key} would exceed {} MiB; check for a variable used more than once along a chain (`A=${{B}}${{B}}` doubles B)",
            MAX_VALUE_BYTES >> 20
        );
        return Err((Failure::Invalid(m), false));
    }
    p.out.push_str(s);
    p.secret |= secret;
    Ok(())
}

fn add_unresolved(p: &mut Pass, refs: &[Reference]) {
    for r in refs {
        if p.unresolved.len() >= MAX_UNRESOLVED {
            return;
        }
        if !p.unresolved.contains(r) {
            p.unresolved.push(r.clone());
        }
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
        let v: Vec<_> = e.vars.iter().map(|v| (&*v.key, v.value.as_str())).collect();
        assert_eq!(
            v,
            [
                ("A", "b-x"),
                ("B", "b"),
                ("C", "d"),
                ("D", "b"),
                ("E", "$B"),
                ("F", "${B}"),
                ("G", ""),
                ("EMPTY", "")
            ]
        );
    }

    #[test]
    fn self_reference_is_the_inherited_value() {
        // Set for the test process by cargo and nextest: no set_var in the threaded harness.
        let inherited = std::env::var("CARGO_PKG_NAME").unwrap();
        let e = eval("CARGO_PKG_NAME=${CARGO_PKG_NAME}:./bin\n");
        assert_eq!(e.vars[0].value, format!("{inherited}:./bin"));
    }

    #[test]
    fn cycles_and_required() {
        let e = eval("A=${B}\nB=${A}\nC=${NOPE_UNSET_2:?set C first}\n");
        let got: Vec<(&str, String)> = e
            .failures
            .iter()
            .map(|(k, f)| (k.as_str(), f.to_string()))
            .collect();
        assert_eq!(
            got,
            [
                (
                    "B",
                    "/p/.env:2:3: interpolation cycle: A -> B -> A".to_string()
                ),
                (
                    "C",
                    "/p/.env:3:3: the variable that `${…:?…}` requires is not set or empty"
                        .to_string()
                ),
                // Reported after the failures that explain it, without repeating them.
                (
                    "A",
                    "/p/.env:1:3: uses B, which could not be evaluated (see above)".to_string()
                ),
            ]
        );
    }

    /// `C_i=${C_(i+1)}`: each key needs the next one; no native recursion, no stack overflow.
    #[test]
    fn deep_chains_forward_and_reverse() {
        let n = 100_000;
        let mut forward: String = (0..n)
            .map(|i| format!("C_{i}=${{C_{}}}\n", i + 1))
            .collect();
        forward.push_str(&format!("C_{n}=end\n"));
        let e = eval(&forward);
        assert!(e.failures.is_empty());
        assert_eq!(e.vars.len(), n + 1);
        assert!(e.vars.iter().all(|v| v.value == "end"));
        let mut reverse = String::from("C_0=start\n");
        reverse.extend((1..=n).map(|i| format!("C_{i}=${{C_{}}}\n", i - 1)));
        let e = eval(&reverse);
        assert!(e.failures.is_empty());
        assert!(e.vars.iter().all(|v| v.value == "start"));
    }

    /// A 10k-key cycle is one short message naming a few members, plus one short line per member.
    #[test]
    fn big_cycle_is_reported_once_and_capped() {
        let n = 10_000;
        let text: String = (0..n)
            .map(|i| format!("K_{i}=${{K_{}}}\n", (i + 1) % n))
            .collect();
        let e = eval(&text);
        assert_eq!(e.failures.len(), n);
        let (key, first) = (&e.failures[0].0, e.failures[0].1.to_string());
        assert_eq!(key, "K_9999");
        assert_eq!(
            first,
            format!("/p/.env:{n}:8: interpolation cycle of {n} variables: K_0 -> K_1 -> K_2 -> K_3 -> K_4 -> K_5 -> K_6 -> K_7 -> K_8 -> K_9 -> … and 9990 more -> K_0")
        );
        let cycles = e
            .failures
            .iter()
            .filter(|(_, f)| f.to_string().contains("cycle"))
            .count();
        assert_eq!(cycles, 1);
        let bytes: usize = e.failures.iter().map(|(_, f)| f.to_string().len()).sum();
        assert!(bytes < 100 * n, "{bytes} bytes of messages");
    }

    /// 40 lines of `A_i=${A_(i-1)}${A_(i-1)}` would need 2^40 bytes: the key that crosses the
    /// cap fails, naming itself; the keys after it fail as users of it.
    #[test]
    fn doubling_is_capped_per_value_and_names_the_key() {
        let mut text = String::from("A_0=SECRETx\n");
        text.extend((1..40).map(|i| format!("A_{i}=${{A_{}}}${{A_{}}}\n", i - 1, i - 1)));
        let e = eval(&text);
        let (key, msg) = (&e.failures[0].0, e.failures[0].1.to_string());
        assert_eq!(key, "A_18", "7 bytes × 2^18 is the first value over 1 MiB");
        assert!(
            msg.starts_with("/p/.env:19:1: the value of A_18 would exceed 1 MiB"),
            "{msg}"
        );
        assert!(!msg.contains("SECRET"));
        assert_eq!(e.failures.len(), 40 - 18);
        assert!(e.vars.iter().all(|v| v.value.len() <= MAX_VALUE_BYTES));
        // Many keys repeating a value just under the cap hit the total cap instead.
        let mut text = format!("BIG={}\n", "x".repeat(MAX_VALUE_BYTES - 1));
        text.extend((0..80).map(|i| format!("COPY_{i}=${{BIG}}\n")));
        let e = eval(&text);
        assert_eq!(e.vars.len(), 64, "64 MiB of values, then the total cap");
        assert!(
            e.failures[0]
                .1
                .to_string()
                .contains("the value of COPY_63 would bring all values over 64 MiB"),
            "{:?}",
            e.failures[0]
        );
    }

    /// `X=${A}${B}` with A and B both unresolved references reports both.
    #[test]
    fn every_unresolved_reference_through_variables() {
        let m = merged("A=ref://secrets/a\nB=ref://secrets/b\nX=${A}${B}\nY=${X}${A}\n");
        let e = evaluate(&m, RefMode::Resolved(&HashMap::new()), false);
        let refs = |k: &str| match &e.failures.iter().find(|(key, _)| key == k).unwrap().1 {
            Failure::Unresolved(r) => r.iter().map(|r| r.to_string()).collect::<Vec<_>>(),
            f => panic!("{f:?}"),
        };
        assert_eq!(refs("X"), ["ref://secrets/a", "ref://secrets/b"]);
        assert_eq!(
            refs("Y"),
            ["ref://secrets/a", "ref://secrets/b"],
            "deduplicated"
        );
    }

    /// Defaults are evaluated only when needed, so a cycle through an unused default is none.
    #[test]
    fn unused_default_is_not_a_cycle() {
        let e = eval("A=${B:-${A2}}\nB=set\nA2=${A}\nD=${E:-${F}}\nE=\nF=${G}\nG=g\n");
        assert!(e.failures.is_empty(), "{:?}", e.failures);
        assert_eq!(e.get("A").unwrap().value, "set");
        assert_eq!(e.get("A2").unwrap().value, "set");
        assert_eq!(e.get("D").unwrap().value, "g");
    }

    /// `Tr0ub4dor$K7x…` is a password, not a variable: the warning names the key and the
    /// column, says how to keep `$`, and quotes nothing of the value.
    #[test]
    fn unset_variable_names_the_key_not_the_value() {
        let text = "DB_PASSWORD=Tr0ub4dor$K7xQpSECRET\nB=\"${NOPE_SECRET}\"\n";
        let e = eval(text);
        assert_eq!(e.get("DB_PASSWORD").unwrap().value, "Tr0ub4dor");
        assert_eq!(e.warnings.len(), 2, "{:?}", e.warnings);
        assert!(
            e.warnings[0]
                .starts_with("/p/.env:1:22: DB_PASSWORD: the variable at this `$` is not set"),
            "{}",
            e.warnings[0]
        );
        assert!(
            e.warnings[1].starts_with("/p/.env:2:4: B: "),
            "{}",
            e.warnings[1]
        );
        for w in &e.warnings {
            assert!(w.contains(LITERAL_DOLLAR) && !w.contains("SECRET"), "{w}");
        }
        let strict = evaluate(&merged(text), RefMode::Literal, true);
        assert!(strict.warnings.is_empty());
        match &strict.failures[..] {
            [(k, Failure::Invalid(m)), _] => {
                assert_eq!(k, "DB_PASSWORD");
                assert!(
                    m.starts_with("/p/.env:1:22: the variable at this `$` is not set (--strict)"),
                    "{m}"
                );
                assert!(!m.contains("SECRET"), "{m}");
            }
            f => panic!("{f:?}"),
        }
    }

    #[test]
    fn references_through_vars() {
        let m = merged("DATABASE_URL=ref://secrets/db\nDB_DISPLAY=${DATABASE_URL}\nFULL=x${ref://secrets/u}y\n");
        let mut map = HashMap::new();
        map.insert(
            Reference::parse("ref://secrets/db").unwrap(),
            SecretString::from("pg://s$x"),
        );
        let e = evaluate(&m, RefMode::Resolved(&map), false);
        assert_eq!(e.get("DB_DISPLAY").unwrap().value, "pg://s$x");
        assert!(e.get("DB_DISPLAY").unwrap().secret);
        assert_eq!(
            e.failures,
            vec![(
                "FULL".to_string(),
                Failure::Unresolved(vec![Reference::parse("ref://secrets/u").unwrap()])
            )]
        );
        assert!(!format!("{:?}", e.vars).contains("pg://"));
        let plain = eval("PASSWORD=hunter2\n");
        assert!(!format!("{plain:?}").contains("hunter2"));
    }
}
