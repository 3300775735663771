//! Resolution: plan the distinct references, ask the chain for them, then evaluate.
//!
//! With a profile, every backend is asked for `<project>/<profile>/<key>` before any backend
//! is asked for `<project>/<key>`; the first hit wins. Each backend is asked at most once per
//! namespaced key per run, with all the keys it is asked for in one `get_many` call (so a
//! backend that batches, batches). A backend error moves on to the next backend with one
//! warning per backend and message; an unavailable backend is not asked again this run.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use secrecy::SecretString;

use crate::backend::{
    backend_hint, get_each, get_each_raw, Backend, BackendError, ErrorKind, Lookup, Namespace,
};
use crate::dotenv::Location;
use crate::evaluate::{evaluate, Failure, RefMode, Var};
use crate::project::Project;
use crate::reference::Reference;

/// What the chain answered for a set of references.
#[derive(Default)]
pub(crate) struct Lookups {
    pub secrets: HashMap<Reference, SecretString>,
    /// For each reference that did not resolve, what each backend said.
    pub failures: BTreeMap<Reference, Vec<String>>,
    pub warnings: Vec<String>,
    /// The fixes backends suggested for their errors, deduplicated.
    pub hints: Vec<String>,
    /// For each resolved reference: the backend that had it and the namespaced key it was under.
    pub found: BTreeMap<Reference, (String, String)>,
    /// Backends that answered at least one lookup (found or not) without an error.
    pub answered: BTreeSet<String>,
    /// The first error each backend gave, by backend name.
    pub errors: BTreeMap<String, BackendError>,
    /// References some backend answered "not found" for (so storing them is a fix).
    pub not_found: BTreeSet<Reference>,
}

/// Ask the chain for every reference in `refs` (duplicates are asked once). `op://`
/// references go to the first backend of type `1password`, or to an implicit one (`op` on
/// PATH, default options) when none is configured.
pub(crate) fn lookup(refs: &[Reference], backends: &[Box<dyn Backend>], ns: &Namespace) -> Lookups {
    let mut all: Vec<&dyn Backend> = backends.iter().map(|b| b.as_ref()).collect();
    let configured = all.len();
    let one_password = crate::backend::BackendKind::OnePassword.name();
    let mut op_backend = all.iter().position(|b| b.kind() == one_password);
    let implicit = (op_backend.is_none() && refs.iter().any(Reference::is_one_password))
        .then(crate::backend::implicit_one_password);
    if let Some(b) = &implicit {
        op_backend = Some(all.len());
        all.push(b.as_ref());
    }
    let mut chain = Chain {
        backends: all,
        configured,
        op_backend,
        ns,
        scopes: ns.lookup_keys("").len(),
        out: Lookups::default(),
        pending: refs.iter().cloned().collect(),
        dead: HashSet::new(),
        warned: HashSet::new(),
    };
    chain.reject_unknown_targets();
    for scope in 0..chain.scopes {
        for bi in 0..chain.backends.len() {
            if chain.pending.is_empty() {
                break;
            }
            chain.ask(scope, bi);
        }
    }
    let mut out = chain.out;
    for r in out.secrets.keys() {
        out.failures.remove(r);
    }
    out
}

/// One walk of the chain: what is still pending, which backends are down, which errors were
/// already warned about.
struct Chain<'a> {
    /// The configured backends, then the implicit `1password` one if `op://` needs it.
    backends: Vec<&'a dyn Backend>,
    /// How many of `backends` are configured (the chain of `ref://secrets/…`).
    configured: usize,
    /// The backend that reads `op://` references.
    op_backend: Option<usize>,
    ns: &'a Namespace,
    scopes: usize,
    out: Lookups,
    pending: BTreeSet<Reference>,
    /// Backends that were unavailable: not asked again this run.
    dead: HashSet<usize>,
    /// (backend, message) pairs already warned about.
    warned: HashSet<(usize, String)>,
}

impl Chain<'_> {
    /// `ref://<name>/…` naming no configured backend fails at once.
    fn reject_unknown_targets(&mut self) {
        let names: Vec<&str> = self.backends[..self.configured]
            .iter()
            .map(|b| b.name())
            .collect();
        for r in self.pending.clone() {
            if !r.is_chain() && !r.is_one_password() && !names.contains(&r.target.as_str()) {
                self.fail(
                    &r,
                    format!(
                        "no backend named {} is configured (configured: {})",
                        r.target,
                        names.join(", ")
                    ),
                );
                self.pending.remove(&r);
            }
        }
    }

    fn fail(&mut self, r: &Reference, reason: String) {
        let reasons = self.out.failures.entry(r.clone()).or_default();
        if !reasons.contains(&reason) {
            reasons.push(reason);
        }
    }

    /// Ask backend `bi` for the pending references it may answer, in scope `scope`, with
    /// one `get_many` call (and one `get_raw` call for references by a secret's own name,
    /// which have no scopes: they are asked in the first).
    fn ask(&mut self, scope: usize, bi: usize) {
        let backend = self.backends[bi];
        let eligible: Vec<Reference> = self
            .pending
            .iter()
            .filter(|r| self.may_answer(r, bi))
            .filter(|r| !r.is_raw() || scope == 0)
            .cloned()
            .collect();
        if eligible.is_empty() {
            return;
        }
        if self.dead.contains(&bi) {
            for r in &eligible {
                self.fail(
                    r,
                    format!("{}: skipped (unavailable this run)", backend.name()),
                );
            }
            return;
        }
        let (raw, namespaced): (Vec<Reference>, Vec<Reference>) =
            eligible.into_iter().partition(Reference::is_raw);
        let ns = self.ns;
        self.ask_keys(scope, bi, namespaced, |r| {
            ns.lookup_keys(&r.key).swap_remove(scope)
        });
        self.ask_keys(scope, bi, raw, |r| r.key.clone());
    }

    /// Whether backend `bi` is one to ask for `r`: any configured one for the chain, the
    /// `1password` one for `op://`, else the one `r` names.
    fn may_answer(&self, r: &Reference, bi: usize) -> bool {
        if r.is_one_password() {
            Some(bi) == self.op_backend
        } else if r.is_chain() {
            bi < self.configured
        } else {
            bi < self.configured && r.target == self.backends[bi].name()
        }
    }

    /// One call to backend `bi` for the distinct keys of `refs` (`key_of` gives each one's).
    fn ask_keys(
        &mut self,
        scope: usize,
        bi: usize,
        refs: Vec<Reference>,
        key_of: impl Fn(&Reference) -> String,
    ) {
        let Some(first) = refs.first() else { return };
        let raw = first.is_raw();
        let backend = self.backends[bi];
        let keys: Vec<String> = refs
            .iter()
            .map(&key_of)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let got = if raw {
            get_each_raw(backend, &keys)
        } else {
            get_each(backend, &keys)
        };
        let answers: HashMap<String, Lookup> = match got {
            Ok(got) => keys.iter().cloned().zip(got).collect(),
            Err(e) => keys.iter().map(|k| (k.clone(), Err(e.clone()))).collect(),
        };
        for r in refs {
            let key = key_of(&r);
            // Several references may share a key (`ref://secrets/k`, `ref://vault/k`).
            if let Some(answer) = answers.get(&key).cloned() {
                self.record(scope, bi, r, key, answer);
            }
        }
    }

    fn record(&mut self, scope: usize, bi: usize, r: Reference, key: String, answer: Lookup) {
        let name = self.backends[bi].name().to_string();
        match answer {
            Ok(Some(value)) => {
                self.out.answered.insert(name.clone());
                self.out.secrets.insert(r.clone(), value);
                self.out.found.insert(r.clone(), (name, key));
                self.pending.remove(&r);
            }
            Ok(None) => {
                self.out.answered.insert(name.clone());
                self.out.not_found.insert(r.clone());
                self.fail(&r, format!("{name}: not found as {key}"));
            }
            Err(e) => {
                self.backend_failed(scope, bi, &r, &e);
                self.fail(&r, e.message.clone());
            }
        }
    }

    /// Note a backend's error once: its first error, whether it is down, one warning per
    /// backend and message when something is left to ask, and its hint.
    fn backend_failed(&mut self, scope: usize, bi: usize, r: &Reference, e: &BackendError) {
        let backend = self.backends[bi];
        self.out
            .errors
            .entry(backend.name().to_string())
            .or_insert_with(|| e.clone());
        if e.kind == ErrorKind::Unavailable {
            self.dead.insert(bi);
        }
        if !self.warned.insert((bi, e.message.clone())) {
            return;
        }
        // The error is reported with the failure itself; warn only when another backend or
        // scope is still to be asked for this reference.
        let more_backends = r.is_chain() && bi + 1 < self.configured;
        if more_backends || (!r.is_raw() && scope + 1 < self.scopes) {
            let next = if more_backends {
                "the next backend"
            } else {
                "the project scope"
            };
            self.out
                .warnings
                .push(format!("{}; trying {next}", e.message));
        }
        let hint = e
            .hint
            .clone()
            .unwrap_or_else(|| backend_hint(backend.name(), backend.kind()));
        if !self.out.hints.contains(&hint) {
            self.out.hints.push(hint);
        }
    }
}

/// A key that could not be given a value.
#[derive(Debug, Clone)]
pub struct KeyFailure {
    /// The variable.
    pub key: String,
    /// Where it is defined.
    pub location: Location,
    /// Why it has no value.
    pub message: String,
    /// The references it needed that did not resolve.
    pub references: Vec<Reference>,
}

/// A resolved environment: the variables that have values, and why the others do not.
#[derive(Debug, Default)]
pub struct Resolved {
    /// Variables that resolved, in layer order.
    pub vars: Vec<Var>,
    /// Variables that did not, in layer order.
    pub failures: Vec<KeyFailure>,
    /// Non-fatal problems: duplicate keys, values that look like references but are not,
    /// backends skipped in the chain, unset names.
    pub warnings: Vec<String>,
    /// Fixes suggested by backends that failed.
    pub hints: Vec<String>,
    /// Unresolved references that some backend answered "not found" for.
    pub not_found: Vec<Reference>,
    /// What each reference resolved to, sorted: masking conceals these too, since a variable
    /// may hold a secret inside a longer value (`postgres://u:${ref://…}@h`).
    pub reference_values: Vec<(Reference, SecretString)>,
}

impl std::fmt::Display for KeyFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}: {}", self.location, self.key, self.message)
    }
}

impl Resolved {
    /// Every failure as one error, with the backends' hints or how to store what is missing.
    /// `None` when everything resolved.
    pub fn error(&self) -> Option<crate::Error> {
        if self.failures.is_empty() {
            return None;
        }
        let n = self.failures.len();
        let what = if n == 1 {
            "1 variable".to_string()
        } else {
            format!("{n} variables")
        };
        let e = crate::Error::unresolved(format!(
            "{what} could not be resolved:\n{}",
            crate::dotenv::report_capped(&self.failures)
        ));
        // Storing a secret is the fix only for what a backend said it does not have; a backend
        // that is down, signed out or crashed gets its own fix.
        let mut hints = self.hints.clone();
        if let Some(r) = self
            .failures
            .iter()
            .flat_map(|f| f.references.iter())
            .find(|r| self.not_found.contains(r))
        {
            hints.push(r.outside_namespace_fix().unwrap_or_else(|| format!("store a missing secret with `envref secret set {}` (add --backend <name> to pick the backend)", r.key)));
        }
        Some(if hints.is_empty() {
            e
        } else {
            e.with_hint(hints.join("\n      "))
        })
    }
}

/// Every reference the project's variables use, deduplicated and sorted.
pub fn plan(project: &Project) -> Vec<Reference> {
    let set: BTreeSet<Reference> = project
        .merged
        .definitions()
        .iter()
        .flat_map(|d| d.value.references().into_iter().cloned())
        .collect();
    set.into_iter().collect()
}

/// The keys `keys` need, themselves included: every variable their values use, transitively.
pub(crate) fn reachable(project: &Project, keys: &[&str]) -> BTreeSet<String> {
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let mut todo: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
    while let Some(k) = todo.pop() {
        let Some(d) = project.merged.get(&k) else {
            continue;
        };
        if !seen.insert(k) {
            continue;
        }
        if let crate::dotenv::Value::Template(t) = &d.value {
            todo.extend(
                t.variables()
                    .into_iter()
                    .map(|v| v.name.to_string())
                    .filter(|n| !seen.contains(n)),
            );
        }
    }
    seen
}

/// Resolve only `keys` (and what they use): no other reference is looked up, and only their
/// failures and warnings are reported. The other variables are not in the result.
pub fn resolve_keys(
    project: &Project,
    keys: &[&str],
    backends: impl FnOnce() -> crate::Result<Vec<Box<dyn Backend>>>,
    strict: bool,
) -> crate::Result<Resolved> {
    let needed = reachable(project, keys);
    let refs: BTreeSet<Reference> = needed
        .iter()
        .filter_map(|k| project.merged.get(k))
        .flat_map(|d| d.value.references().into_iter().cloned())
        .collect();
    resolve_refs(
        project,
        refs.into_iter().collect(),
        Some(&needed),
        backends,
        strict,
    )
}

/// Resolve the project's environment. `backends` is built only when a reference needs one.
pub fn resolve_project(
    project: &Project,
    backends: impl FnOnce() -> crate::Result<Vec<Box<dyn Backend>>>,
    strict: bool,
) -> crate::Result<Resolved> {
    resolve_refs(project, plan(project), None, backends, strict)
}

/// Look up `refs` and evaluate. With `only`, just those keys are evaluated, and the files'
/// warnings are those naming one of them.
fn resolve_refs(
    project: &Project,
    refs: Vec<Reference>,
    only: Option<&BTreeSet<String>>,
    backends: impl FnOnce() -> crate::Result<Vec<Box<dyn Backend>>>,
    strict: bool,
) -> crate::Result<Resolved> {
    let (mut lookups, profile_warning) = look_up(project, &refs, backends)?;
    // Optional references (schema `"required": false`) that no backend has get their default.
    let filled = crate::validate::fill_optional(project, &mut lookups);
    let mode = RefMode::Resolved(&lookups.secrets);
    let evaluated = match only {
        Some(keys) => crate::evaluate::evaluate_keys(
            &project.merged,
            &keys.iter().map(String::as_str).collect::<Vec<_>>(),
            mode,
            strict,
        ),
        None => evaluate(&project.merged, mode, strict),
    };
    let mut warnings = file_warnings(project, only);
    warnings.extend(profile_warning);
    warnings.extend(filled);
    warnings.extend(lookups.warnings.iter().cloned());
    warnings.extend(evaluated.warnings);
    let failures = evaluated
        .failures
        .into_iter()
        .map(|(key, f)| key_failure(project, &lookups, key, f))
        .collect();
    let mut reference_values: Vec<(Reference, SecretString)> =
        lookups.secrets.into_iter().collect();
    reference_values.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(Resolved {
        vars: evaluated.vars,
        failures,
        warnings,
        hints: lookups.hints,
        not_found: lookups.not_found.into_iter().collect(),
        reference_values,
    })
}

/// Ask the chain for `refs`, building the backends only when needed. A profile not known from
/// the files is checked against the backends' scopes (the warning, if any, is returned).
fn look_up(
    project: &Project,
    refs: &[Reference],
    backends: impl FnOnce() -> crate::Result<Vec<Box<dyn Backend>>>,
) -> crate::Result<(Lookups, Option<String>)> {
    match &project.profile {
        Some(p) if crate::profile::require(&project.config, p).is_err() => {
            let backends = backends()?;
            let warning = crate::profile::check_selected(&project.config, p, &backends)?;
            let lookups = if refs.is_empty() {
                Lookups::default()
            } else {
                lookup(refs, &backends, &project.namespace())
            };
            Ok((lookups, warning))
        }
        _ if refs.is_empty() => Ok((Lookups::default(), None)),
        _ => Ok((lookup(refs, &backends()?, &project.namespace()), None)),
    }
}

/// The files' warnings (duplicate keys) and values that look like references but are passed
/// through as text; with `only`, those about these keys.
fn file_warnings(project: &Project, only: Option<&BTreeSet<String>>) -> Vec<String> {
    // File warnings (duplicate keys) read `…: duplicate key <KEY> (…`.
    let relevant = |w: &&String| {
        only.is_none_or(|keys| {
            keys.iter()
                .any(|k| w.contains(&format!("duplicate key {k} ")))
        })
    };
    let mut warnings: Vec<String> = project
        .merged
        .warnings()
        .iter()
        .filter(relevant)
        .cloned()
        .collect();
    // Never pass a value that looks like a reference through as text without a word.
    for d in project
        .merged
        .definitions()
        .iter()
        .filter(|d| only.is_none_or(|keys| keys.contains(&*d.key)))
    {
        if let Some(why) = crate::audit::unresolved_reason(&d.value) {
            warnings.push(format!(
                "{}: {}: looks like a reference but is passed through as text: {why}",
                d.location, d.key
            ));
        }
    }
    warnings
}

/// Why `key` has no value: its own error, or each reference it needed and what the chain said.
fn key_failure(project: &Project, lookups: &Lookups, key: String, failure: Failure) -> KeyFailure {
    let location = project
        .merged
        .get(&key)
        .expect("evaluated keys exist")
        .location
        .clone();
    match failure {
        Failure::Invalid(message) => KeyFailure {
            key,
            location,
            message,
            references: vec![],
        },
        Failure::Unresolved(refs) => {
            let message = refs
                .iter()
                .map(|r| {
                    let why = lookups
                        .failures
                        .get(r)
                        .map(|v| v.join("; "))
                        .unwrap_or_else(|| "not resolved".into());
                    format!("{r}: {why}")
                })
                .collect::<Vec<_>>()
                .join("\n    ");
            KeyFailure {
                key,
                location,
                message,
                references: refs,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `get` of a chain, in order, as `<backend>:<key>` (shared by its fakes).
    type Log = std::sync::Arc<std::sync::Mutex<Vec<String>>>;

    /// An in-process backend: `values` answer, `error` fails every lookup, `short` answers
    /// one key fewer than asked (a broken batch); every key asked is written to `asked`.
    struct Fake {
        name: &'static str,
        kind: &'static str,
        values: BTreeMap<String, String>,
        error: Option<BackendError>,
        short: bool,
        asked: Log,
    }

    fn failing(name: &'static str, kind: ErrorKind, message: &str) -> Fake {
        Fake {
            error: Some(BackendError::new(kind, message)),
            ..fake(name, &[])
        }
    }

    /// The fakes as a chain, with one log of what each was asked.
    fn chain(fakes: Vec<Fake>) -> (Vec<Box<dyn Backend>>, Log) {
        let log = Log::default();
        let backends = fakes
            .into_iter()
            .map(|f| {
                Box::new(Fake {
                    asked: log.clone(),
                    ..f
                }) as Box<dyn Backend>
            })
            .collect();
        (backends, log)
    }

    fn asked(log: &Log) -> Vec<String> {
        log.lock().unwrap().clone()
    }

    fn value(l: &Lookups, r: &str) -> String {
        use secrecy::ExposeSecret;
        l.secrets[&refs(&[r])[0]].expose_secret().to_string()
    }

    fn fake(name: &'static str, values: &[(&str, &str)]) -> Fake {
        let values = values
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Fake {
            name,
            kind: "plugin",
            values,
            error: None,
            short: false,
            asked: Default::default(),
        }
    }

    impl Backend for Fake {
        fn name(&self) -> &str {
            self.name
        }
        fn kind(&self) -> &'static str {
            self.kind
        }
        fn get(&self, key: &str) -> Lookup {
            self.asked
                .lock()
                .unwrap()
                .push(format!("{}:{key}", self.name));
            match &self.error {
                Some(e) => Err(e.clone()),
                None => Ok(self.values.get(key).map(|v| SecretString::from(v.clone()))),
            }
        }
        fn get_many(&self, keys: &[String]) -> Vec<Lookup> {
            let mut all: Vec<Lookup> = keys.iter().map(|k| self.get(k)).collect();
            if self.short {
                all.pop();
            }
            all
        }
        fn get_raw(&self, names: &[String]) -> Vec<Lookup> {
            let raw: Vec<String> = names.iter().map(|n| format!("raw:{n}")).collect();
            self.get_many(&raw)
        }
        fn set(&self, _: &str, _: &SecretString) -> Result<(), BackendError> {
            unreachable!("not used by these tests")
        }
        fn delete(&self, _: &str) -> Result<bool, BackendError> {
            unreachable!("not used by these tests")
        }
        fn list(&self, _: &str) -> Result<Vec<String>, BackendError> {
            unreachable!("not used by these tests")
        }
    }

    fn refs(list: &[&str]) -> Vec<Reference> {
        list.iter().map(|r| Reference::parse(r).unwrap()).collect()
    }

    #[test]
    fn raw_names_go_verbatim_to_their_backend_once_whatever_the_profile() {
        let (backends, log) = chain(vec![
            fake(
                "a",
                &[("app/x", "ax"), ("raw:legacy/TOKEN", "wrong backend")],
            ),
            fake("b", &[("raw:legacy/TOKEN", "tok")]),
        ]);
        let wanted = refs(&["ref://b//legacy/TOKEN", "ref://secrets/x", "ref://b//gone"]);
        let l = lookup(
            &wanted,
            &backends,
            &Namespace::new("app", Some("dev".into())),
        );
        assert_eq!(value(&l, "ref://b//legacy/TOKEN"), "tok");
        assert_eq!(value(&l, "ref://secrets/x"), "ax");
        assert_eq!(
            asked(&log),
            [
                "a:app/dev/x",
                "b:app/dev/x",
                "b:raw:gone",
                "b:raw:legacy/TOKEN",
                "a:app/x"
            ]
        );
        let gone = &l.failures[&refs(&["ref://b//gone"])[0]];
        assert_eq!(gone, &["b: not found as gone"]);
    }

    #[test]
    fn op_references_go_once_to_the_first_1password_backend_only() {
        let op = |name| Fake {
            kind: "1password",
            ..fake(name, &[("raw:V/item/sec/f", "first"), ("app/x", "ox")])
        };
        let (backends, log) = chain(vec![
            fake("a", &[("raw:V/item/sec/f", "wrong backend")]),
            op("op1"),
            op("op2"),
        ]);
        let wanted = refs(&["op://V/item/sec/f", "ref://secrets/x", "op://V/item/sec/f"]);
        let l = lookup(
            &wanted,
            &backends,
            &Namespace::new("app", Some("dev".into())),
        );
        assert_eq!(value(&l, "op://V/item/sec/f"), "first");
        assert_eq!(value(&l, "ref://secrets/x"), "ox");
        assert_eq!(
            asked(&log),
            [
                "a:app/dev/x",
                "op1:app/dev/x",
                "op1:raw:V/item/sec/f",
                "op2:app/dev/x",
                "a:app/x",
                "op1:app/x"
            ]
        );
        assert_eq!(l.found[&refs(&["op://V/item/sec/f"])[0]].0, "op1");
    }

    #[test]
    fn a_short_batch_is_a_backend_error_not_a_panic() {
        let broken = Fake {
            short: true,
            ..fake("broken", &[("app/a", "1"), ("app/b", "2")])
        };
        let good = fake("good", &[("app/a", "ga"), ("app/b", "gb")]);
        let backends: Vec<Box<dyn Backend>> = vec![Box::new(broken), Box::new(good)];
        let l = lookup(
            &refs(&["ref://secrets/a", "ref://secrets/b"]),
            &backends,
            &Namespace::new("app", None),
        );
        // Every key of the broken batch goes on to the next backend.
        assert_eq!(l.secrets.len(), 2);
        assert!(
            l.errors["broken"]
                .message
                .contains("asked for 2 key(s), answered 1"),
            "{:?}",
            l.errors
        );
        assert!(
            l.warnings
                .iter()
                .any(|w| w.contains("answered 1; trying the next backend")),
            "{:?}",
            l.warnings
        );
    }

    #[test]
    fn a_targeted_reference_is_not_sent_to_the_next_backend_and_reported_once() {
        let down = Fake {
            error: Some(BackendError::new(ErrorKind::Failed, "one: it crashed")),
            ..fake("one", &[])
        };
        let backends: Vec<Box<dyn Backend>> =
            vec![Box::new(down), Box::new(fake("two", &[("app/k", "v")]))];
        let l = lookup(
            &refs(&["ref://one/k"]),
            &backends,
            &Namespace::new("app", None),
        );
        assert!(l.warnings.is_empty(), "{:?}", l.warnings);
        let r = &refs(&["ref://one/k"])[0];
        assert_eq!(l.failures[r], vec!["one: it crashed".to_string()]);
        // With a profile both scopes are asked: the reason is still given once.
        let down = Fake {
            error: Some(BackendError::new(ErrorKind::Failed, "one: it crashed")),
            ..fake("one", &[])
        };
        let backends: Vec<Box<dyn Backend>> = vec![Box::new(down), Box::new(fake("two", &[]))];
        let l = lookup(
            &refs(&["ref://one/k"]),
            &backends,
            &Namespace::new("app", Some("staging".into())),
        );
        assert_eq!(l.failures[r], vec!["one: it crashed".to_string()]);
        assert!(
            l.warnings.iter().all(|w| !w.contains("next backend")),
            "{:?}",
            l.warnings
        );
    }

    #[test]
    fn hints_match_the_failure() {
        let r = refs(&["ref://secrets/k"]).remove(0);
        // The error of a variable that needed `r`, after asking `backend` for it.
        let error_after = |backend: Fake| {
            let backends: Vec<Box<dyn Backend>> = vec![Box::new(backend)];
            let l = lookup(
                std::slice::from_ref(&r),
                &backends,
                &Namespace::new("app", None),
            );
            let failure = KeyFailure {
                key: "K".into(),
                location: Location {
                    path: std::path::Path::new("/p/.env").into(),
                    pos: Default::default(),
                },
                message: String::new(),
                references: vec![r.clone()],
            };
            let res = Resolved {
                failures: vec![failure],
                hints: l.hints,
                not_found: l.not_found.into_iter().collect(),
                ..Default::default()
            };
            res.error().unwrap()
        };
        // A crashed backend: the fix is checking it, never storing the secret.
        let down = Fake {
            error: Some(BackendError::new(
                ErrorKind::Failed,
                "p: plugin failed: Traceback",
            )),
            ..fake("p", &[])
        };
        let e = error_after(down);
        assert!(matches!(e, crate::Error::Unresolved { .. }), "{e:?}");
        let hint = e.hint().unwrap();
        assert!(
            hint.contains("check the plugin of backend p") && !hint.contains("secret set"),
            "{hint}"
        );
        // A backend that answered "not found": storing it is the fix.
        assert!(error_after(fake("p", &[]))
            .hint()
            .unwrap()
            .contains("envref secret set k"));
    }

    #[test]
    fn the_first_backend_that_has_a_key_wins_and_later_ones_are_not_asked_for_it() {
        let (backends, log) = chain(vec![
            fake("one", &[("app/a", "one-a")]),
            fake("two", &[("app/a", "two-a"), ("app/b", "two-b")]),
            fake("three", &[("app/b", "three-b"), ("app/c", "three-c")]),
        ]);
        let l = lookup(
            &refs(&["ref://secrets/a", "ref://secrets/b", "ref://secrets/c"]),
            &backends,
            &Namespace::new("app", None),
        );
        assert_eq!(
            [
                value(&l, "ref://secrets/a"),
                value(&l, "ref://secrets/b"),
                value(&l, "ref://secrets/c")
            ],
            ["one-a", "two-b", "three-c"]
        );
        assert_eq!(
            l.found[&refs(&["ref://secrets/b"])[0]],
            ("two".to_string(), "app/b".to_string())
        );
        assert_eq!(
            asked(&log),
            [
                "one:app/a",
                "one:app/b",
                "one:app/c",
                "two:app/b",
                "two:app/c",
                "three:app/c"
            ]
        );
        assert!(
            l.failures.is_empty() && l.warnings.is_empty(),
            "{:?} {:?}",
            l.failures,
            l.warnings
        );
    }

    #[test]
    fn each_backend_is_asked_once_per_key_however_often_it_is_referenced() {
        let (backends, log) = chain(vec![fake("one", &[]), fake("two", &[("app/a", "v")])]);
        // `ref://one/a` and the chain's `a` are the same key for `one`.
        let l = lookup(
            &refs(&[
                "ref://secrets/a",
                "ref://secrets/a",
                "ref://one/a",
                "ref://secrets/b",
                "ref://secrets/a",
            ]),
            &backends,
            &Namespace::new("app", None),
        );
        assert_eq!(
            asked(&log),
            ["one:app/a", "one:app/b", "two:app/a", "two:app/b"]
        );
        assert_eq!(value(&l, "ref://secrets/a"), "v");
        assert_eq!(
            l.failures[&refs(&["ref://one/a"])[0]],
            ["one: not found as app/a"]
        );
        assert_eq!(
            l.failures[&refs(&["ref://secrets/b"])[0]],
            ["one: not found as app/b", "two: not found as app/b"]
        );
    }

    #[test]
    fn every_backend_is_asked_in_the_profile_scope_before_any_in_the_project_scope() {
        let (backends, log) = chain(vec![
            fake("one", &[("app/k", "one-project"), ("app/m", "one-m")]),
            fake("two", &[("app/staging/k", "two-profile")]),
        ]);
        let l = lookup(
            &refs(&["ref://secrets/k", "ref://secrets/m"]),
            &backends,
            &Namespace::new("app", Some("staging".into())),
        );
        assert_eq!(value(&l, "ref://secrets/k"), "two-profile");
        assert_eq!(value(&l, "ref://secrets/m"), "one-m");
        assert_eq!(
            l.found[&refs(&["ref://secrets/k"])[0]],
            ("two".to_string(), "app/staging/k".to_string())
        );
        assert_eq!(
            asked(&log),
            [
                "one:app/staging/k",
                "one:app/staging/m",
                "two:app/staging/k",
                "two:app/staging/m",
                "one:app/m"
            ]
        );
    }

    #[test]
    fn an_unavailable_backend_is_skipped_for_the_rest_of_the_run_with_one_warning() {
        let (backends, log) = chain(vec![
            failing("down", ErrorKind::Unavailable, "down: no such service"),
            fake("good", &[("app/a", "good-a")]),
        ]);
        let l = lookup(
            &refs(&["ref://secrets/a", "ref://secrets/b"]),
            &backends,
            &Namespace::new("app", Some("staging".into())),
        );
        assert_eq!(value(&l, "ref://secrets/a"), "good-a");
        // Asked in the profile scope only, once per key: never again after it said it is down.
        assert_eq!(
            asked(&log),
            [
                "down:app/staging/a",
                "down:app/staging/b",
                "good:app/staging/a",
                "good:app/staging/b",
                "good:app/a",
                "good:app/b"
            ]
        );
        assert_eq!(
            l.warnings,
            ["down: no such service; trying the next backend"]
        );
        assert_eq!(l.errors["down"].kind, ErrorKind::Unavailable);
        assert_eq!(
            l.failures[&refs(&["ref://secrets/b"])[0]],
            [
                "down: no such service",
                "good: not found as app/staging/b",
                "down: skipped (unavailable this run)",
                "good: not found as app/b"
            ]
        );
    }

    #[test]
    fn a_failing_backend_warns_once_per_backend_and_message_and_the_chain_moves_on() {
        let (backends, log) = chain(vec![
            failing("bad1", ErrorKind::Failed, "bad1: it crashed"),
            failing("bad2", ErrorKind::Denied, "bad2: locked"),
            fake("good", &[("app/a", "good-a"), ("app/b", "good-b")]),
        ]);
        let l = lookup(
            &refs(&["ref://secrets/a", "ref://secrets/b"]),
            &backends,
            &Namespace::new("app", Some("staging".into())),
        );
        assert_eq!(
            [value(&l, "ref://secrets/a"), value(&l, "ref://secrets/b")],
            ["good-a", "good-b"]
        );
        // Not dead: a failure is asked again in the project scope, but warned about once.
        let bad1: Vec<String> = asked(&log)
            .into_iter()
            .filter(|a| a.starts_with("bad1:"))
            .collect();
        assert_eq!(
            bad1,
            [
                "bad1:app/staging/a",
                "bad1:app/staging/b",
                "bad1:app/a",
                "bad1:app/b"
            ]
        );
        assert_eq!(
            l.warnings,
            [
                "bad1: it crashed; trying the next backend",
                "bad2: locked; trying the next backend"
            ]
        );
        assert_eq!(
            l.hints.len(),
            2,
            "one hint per failing backend: {:?}",
            l.hints
        );
        assert!(l.failures.is_empty(), "{:?}", l.failures);
    }

    #[test]
    fn a_targeted_reference_asks_only_its_backend() {
        let values = [("app/k", "project"), ("app/staging/k", "profile")];
        let (backends, log) = chain(vec![
            fake("one", &values),
            fake("two", &[("app/k", "two-k")]),
            fake("three", &values),
        ]);
        let l = lookup(
            &refs(&["ref://two/k"]),
            &backends,
            &Namespace::new("app", Some("staging".into())),
        );
        assert_eq!(value(&l, "ref://two/k"), "two-k");
        assert_eq!(asked(&log), ["two:app/staging/k", "two:app/k"]);
        // A backend that is not configured: nobody is asked, and the failure names the chain.
        let (backends, log) = chain(vec![fake("one", &values)]);
        let l = lookup(
            &refs(&["ref://nowhere/k"]),
            &backends,
            &Namespace::new("app", None),
        );
        assert!(asked(&log).is_empty(), "{:?}", asked(&log));
        assert_eq!(
            l.failures[&refs(&["ref://nowhere/k"])[0]],
            ["no backend named nowhere is configured (configured: one)"]
        );
    }
}
