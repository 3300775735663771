//! Resolution: plan the distinct references, ask the chain for them, then evaluate.
//!
//! With a profile, every backend is asked for `<project>/<profile>/<key>` before any backend
//! is asked for `<project>/<key>`; the first hit wins. Each backend is asked at most once per
//! namespaced key per run, with all the keys it is asked for in one `get_many` call (so a
//! backend that batches, batches). A backend error moves on to the next backend with one
//! warning per backend and message; an unavailable backend is not asked again this run.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use secrecy::SecretString;

use crate::backend::{backend_hint, get_each, Backend, BackendError, ErrorKind, Lookup, Namespace};
use crate::dotenv::Location;
use crate::evaluate::{evaluate, Failure, RefMode, Var};
use crate::project::Project;
use crate::reference::Reference;

/// What the chain answered for a set of references.
#[derive(Default)]
pub struct Lookups {
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

/// Ask the chain for every reference in `refs` (duplicates are asked once).
pub fn lookup(refs: &[Reference], backends: &[Box<dyn Backend>], ns: &Namespace) -> Lookups {
    let mut out = Lookups::default();
    let mut pending: BTreeSet<Reference> = refs.iter().cloned().collect();
    for r in pending.clone() {
        if !r.is_chain() && !backends.iter().any(|b| b.name() == r.target) {
            let names: Vec<&str> = backends.iter().map(|b| b.name()).collect();
            out.failures.entry(r.clone()).or_default().push(format!(
                "no backend named {} is configured (configured: {})",
                r.target,
                names.join(", ")
            ));
            pending.remove(&r);
        }
    }
    let scopes = ns.lookup_keys("").len();
    let mut dead: HashSet<usize> = HashSet::new();
    let mut warned: HashSet<(usize, String)> = HashSet::new();
    for scope in 0..scopes {
        for (bi, backend) in backends.iter().enumerate() {
            if pending.is_empty() {
                break;
            }
            let eligible: Vec<Reference> = pending.iter().filter(|r| r.is_chain() || r.target == backend.name()).cloned().collect();
            if eligible.is_empty() {
                continue;
            }
            let key_of = |r: &Reference| ns.lookup_keys(&r.key).swap_remove(scope);
            if dead.contains(&bi) {
                for r in &eligible {
                    out.failures.entry(r.clone()).or_default().push(format!("{}: skipped (unavailable this run)", backend.name()));
                }
                continue;
            }
            let keys: Vec<String> = eligible.iter().map(key_of).collect::<BTreeSet<_>>().into_iter().collect();
            let answers: HashMap<String, Lookup> = match get_each(backend.as_ref(), &keys) {
                Ok(got) => keys.iter().cloned().zip(got).collect(),
                Err(e) => keys.iter().map(|k| (k.clone(), Err(e.clone()))).collect(),
            };
            for r in eligible {
                let key = key_of(&r);
                let Some(answer) = answers.get(&key) else { continue };
                match answer {
                    Ok(Some(value)) => {
                        out.answered.insert(backend.name().to_string());
                        out.found.insert(r.clone(), (backend.name().to_string(), key));
                        out.secrets.insert(r.clone(), value.clone());
                        pending.remove(&r);
                    }
                    Ok(None) => {
                        out.answered.insert(backend.name().to_string());
                        out.not_found.insert(r.clone());
                        out.failures.entry(r).or_default().push(format!("{}: not found as {key}", backend.name()))
                    }
                    Err(e) => {
                        out.errors.entry(backend.name().to_string()).or_insert_with(|| e.clone());
                        if e.kind == ErrorKind::Unavailable {
                            dead.insert(bi);
                        }
                        if warned.insert((bi, e.message.clone())) {
                            // The error is reported with the failure itself; warn only when
                            // another backend or scope is still to be asked for this reference.
                            let more_backends = r.is_chain() && bi + 1 < backends.len();
                            if more_backends || scope + 1 < scopes {
                                let next = if more_backends { "the next backend" } else { "the project scope" };
                                out.warnings.push(format!("{}; trying {next}", e.message));
                            }
                            let hint = e.hint.clone().unwrap_or_else(|| backend_hint(backend.name(), backend.kind()));
                            if !out.hints.contains(&hint) {
                                out.hints.push(hint);
                            }
                        }
                        let reasons = out.failures.entry(r).or_default();
                        if !reasons.contains(&e.message) {
                            reasons.push(e.message.clone());
                        }
                    }
                }
            }
        }
    }
    for r in out.secrets.keys() {
        out.failures.remove(r);
    }
    out
}

/// A key that could not be given a value.
#[derive(Debug, Clone)]
pub struct KeyFailure {
    pub key: String,
    pub location: Location,
    pub message: String,
    /// The references it needed that did not resolve.
    pub references: Vec<Reference>,
}

#[derive(Debug, Default)]
pub struct Resolved {
    pub vars: Vec<Var>,
    pub failures: Vec<KeyFailure>,
    pub warnings: Vec<String>,
    /// Fixes suggested by backends that failed.
    pub hints: Vec<String>,
    /// Unresolved references that some backend answered "not found" for.
    pub not_found: Vec<Reference>,
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
        let what = if n == 1 { "1 variable".to_string() } else { format!("{n} variables") };
        let e = crate::Error::new(format!("{what} could not be resolved:\n{}", crate::dotenv::report_capped(&self.failures)));
        // Storing a secret is the fix only for what a backend said it does not have; a backend
        // that is down, signed out or crashed gets its own fix.
        let mut hints = self.hints.clone();
        if let Some(r) = self.failures.iter().flat_map(|f| f.references.iter()).find(|r| self.not_found.contains(r)) {
            hints.push(format!("store a missing secret with `envref secret set {}` (add --backend <name> to pick the backend)", r.key));
        }
        Some(if hints.is_empty() { e } else { e.with_hint(hints.join("\n      ")) })
    }
}

/// Every reference the project's variables use, deduplicated and sorted.
pub fn plan(project: &Project) -> Vec<Reference> {
    let set: BTreeSet<Reference> = project.merged.definitions().iter().flat_map(|d| d.value.references().into_iter().cloned()).collect();
    set.into_iter().collect()
}

/// The keys `keys` need, themselves included: every variable their values use, transitively.
pub fn reachable(project: &Project, keys: &[&str]) -> BTreeSet<String> {
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let mut todo: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
    while let Some(k) = todo.pop() {
        let Some(d) = project.merged.get(&k) else { continue };
        if !seen.insert(k) {
            continue;
        }
        if let crate::dotenv::Value::Template(t) = &d.value {
            todo.extend(t.variables().into_iter().map(|v| v.name.to_string()).filter(|n| !seen.contains(n)));
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
    let refs: BTreeSet<Reference> =
        needed.iter().filter_map(|k| project.merged.get(k)).flat_map(|d| d.value.references().into_iter().cloned()).collect();
    let mut r = resolve_refs(project, refs.into_iter().collect(), Some(&needed), backends, strict)?;
    r.vars.retain(|v| needed.contains(&*v.key));
    r.failures.retain(|f| needed.contains(&f.key));
    Ok(r)
}

/// Resolve the project's environment. `backends` is built only when a reference needs one.
pub fn resolve_project(
    project: &Project,
    backends: impl FnOnce() -> crate::Result<Vec<Box<dyn Backend>>>,
    strict: bool,
) -> crate::Result<Resolved> {
    resolve_refs(project, plan(project), None, backends, strict)
}

/// Look up `refs` and evaluate. With `only`, the files' warnings are those naming one of its keys.
fn resolve_refs(
    project: &Project,
    refs: Vec<Reference>,
    only: Option<&BTreeSet<String>>,
    backends: impl FnOnce() -> crate::Result<Vec<Box<dyn Backend>>>,
    strict: bool,
) -> crate::Result<Resolved> {
    let mut profile_warning = None;
    let lookups = match &project.profile {
        // A profile not known from the files is checked against the backends' scopes.
        Some(p) if crate::profile::require(&project.config, p).is_err() => {
            let backends = backends()?;
            profile_warning = crate::profile::check_selected(&project.config, p, &backends)?;
            if refs.is_empty() {
                Lookups::default()
            } else {
                lookup(&refs, &backends, &project.namespace())
            }
        }
        _ if refs.is_empty() => Lookups::default(),
        _ => lookup(&refs, &backends()?, &project.namespace()),
    };
    let evaluated = evaluate(&project.merged, RefMode::Resolved(&lookups.secrets), strict);
    // File warnings read `<location>: <KEY>: …` or `…: duplicate key <KEY> (…`.
    let relevant =
        |w: &String| only.is_none_or(|keys| keys.iter().any(|k| w.contains(&format!(": {k}: ")) || w.contains(&format!("key {k} "))));
    let mut warnings: Vec<String> = project.merged.warnings().iter().filter(|w| relevant(w)).cloned().collect();
    warnings.extend(profile_warning);
    // Never pass a value that looks like a reference through as text without a word.
    for d in project.merged.definitions().iter().filter(|d| only.is_none_or(|keys| keys.contains(&*d.key))) {
        if let Some(why) = crate::audit::unresolved_reason(&d.value) {
            warnings.push(format!("{}: {}: looks like a reference but is passed through as text: {why}", d.location, d.key));
        }
    }
    warnings.extend(lookups.warnings);
    let hints = lookups.hints;
    let not_found = lookups.not_found.iter().cloned().collect();
    warnings.extend(evaluated.warnings.into_iter().filter(|w| relevant(w)));
    let failures = evaluated
        .failures
        .into_iter()
        .map(|(key, f)| {
            let location = project.merged.get(&key).expect("evaluated keys exist").location.clone();
            match f {
                Failure::Invalid(message) => KeyFailure { key, location, message, references: vec![] },
                Failure::Unresolved(refs) => {
                    let message = refs
                        .iter()
                        .map(|r| {
                            let why = lookups.failures.get(r).map(|v| v.join("; ")).unwrap_or_else(|| "not resolved".into());
                            format!("{r}: {why}")
                        })
                        .collect::<Vec<_>>()
                        .join("\n    ");
                    KeyFailure { key, location, message, references: refs }
                }
            }
        })
        .collect();
    Ok(Resolved { vars: evaluated.vars, failures, warnings, hints, not_found })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An in-process backend: `values` answer, `error` fails every lookup, `short` answers
    /// one key fewer than asked (a broken batch).
    struct Fake {
        name: &'static str,
        values: BTreeMap<String, String>,
        error: Option<BackendError>,
        short: bool,
        asked: std::sync::Mutex<Vec<String>>,
    }

    fn fake(name: &'static str, values: &[(&str, &str)]) -> Fake {
        let values = values.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Fake { name, values, error: None, short: false, asked: Default::default() }
    }

    impl Backend for Fake {
        fn name(&self) -> &str {
            self.name
        }
        fn kind(&self) -> &'static str {
            "plugin"
        }
        fn get(&self, key: &str) -> Lookup {
            self.asked.lock().unwrap().push(key.to_string());
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
        fn set(&self, _: &str, _: &SecretString) -> Result<(), BackendError> {
            unimplemented!()
        }
        fn delete(&self, _: &str) -> Result<bool, BackendError> {
            unimplemented!()
        }
        fn list(&self, _: &str) -> Result<Vec<String>, BackendError> {
            unimplemented!()
        }
    }

    fn refs(list: &[&str]) -> Vec<Reference> {
        list.iter().map(|r| Reference::parse(r).unwrap()).collect()
    }

    #[test]
    fn a_short_batch_is_a_backend_error_not_a_panic() {
        let broken = Fake { short: true, ..fake("broken", &[("app/a", "1"), ("app/b", "2")]) };
        let good = fake("good", &[("app/a", "ga"), ("app/b", "gb")]);
        let backends: Vec<Box<dyn Backend>> = vec![Box::new(broken), Box::new(good)];
        let l = lookup(&refs(&["ref://secrets/a", "ref://secrets/b"]), &backends, &Namespace::new("app", None));
        // Every key of the broken batch goes on to the next backend.
        assert_eq!(l.secrets.len(), 2);
        assert!(l.errors["broken"].message.contains("asked for 2 key(s), answered 1"), "{:?}", l.errors);
        assert!(l.warnings.iter().any(|w| w.contains("answered 1; trying the next backend")), "{:?}", l.warnings);
    }

    #[test]
    fn a_targeted_reference_is_not_sent_to_the_next_backend_and_reported_once() {
        let down = Fake { error: Some(BackendError::new(ErrorKind::Failed, "one: it crashed")), ..fake("one", &[]) };
        let backends: Vec<Box<dyn Backend>> = vec![Box::new(down), Box::new(fake("two", &[("app/k", "v")]))];
        let l = lookup(&refs(&["ref://one/k"]), &backends, &Namespace::new("app", None));
        assert!(l.warnings.is_empty(), "{:?}", l.warnings);
        let r = &refs(&["ref://one/k"])[0];
        assert_eq!(l.failures[r], vec!["one: it crashed".to_string()]);
        // With a profile both scopes are asked: the reason is still given once.
        let down = Fake { error: Some(BackendError::new(ErrorKind::Failed, "one: it crashed")), ..fake("one", &[]) };
        let backends: Vec<Box<dyn Backend>> = vec![Box::new(down), Box::new(fake("two", &[]))];
        let l = lookup(&refs(&["ref://one/k"]), &backends, &Namespace::new("app", Some("staging".into())));
        assert_eq!(l.failures[r], vec!["one: it crashed".to_string()]);
        assert!(l.warnings.iter().all(|w| !w.contains("next backend")), "{:?}", l.warnings);
    }

    #[test]
    fn hints_match_the_failure() {
        let key_failure = |r: &Reference| KeyFailure {
            key: "K".into(),
            location: Location { path: std::path::Path::new("/p/.env").into(), pos: Default::default() },
            message: String::new(),
            references: vec![r.clone()],
        };
        let r = refs(&["ref://secrets/k"]).remove(0);
        // A crashed backend: the fix is checking it, never storing the secret.
        let down = Fake { error: Some(BackendError::new(ErrorKind::Failed, "p: plugin failed: Traceback")), ..fake("p", &[]) };
        let backends: Vec<Box<dyn Backend>> = vec![Box::new(down)];
        let l = lookup(std::slice::from_ref(&r), &backends, &Namespace::new("app", None));
        let res = Resolved {
            failures: vec![key_failure(&r)],
            hints: l.hints,
            not_found: l.not_found.into_iter().collect(),
            ..Default::default()
        };
        let hint = res.error().unwrap().hint.unwrap();
        assert!(hint.contains("check the plugin of backend p") && !hint.contains("secret set"), "{hint}");
        // A backend that answered "not found": storing it is the fix.
        let backends: Vec<Box<dyn Backend>> = vec![Box::new(fake("p", &[]))];
        let l = lookup(std::slice::from_ref(&r), &backends, &Namespace::new("app", None));
        let res = Resolved {
            failures: vec![key_failure(&r)],
            hints: l.hints,
            not_found: l.not_found.into_iter().collect(),
            ..Default::default()
        };
        assert!(res.error().unwrap().hint.unwrap().contains("envref secret set k"));
    }
}
