//! Resolution: plan the distinct references, ask the chain for them, then evaluate.
//!
//! With a profile, every backend is asked for `<project>/<profile>/<key>` before any backend
//! is asked for `<project>/<key>`; the first hit wins. Each backend is asked at most once per
//! namespaced key per run, with all the keys it is asked for in one `get_many` call (so a
//! backend that batches, batches). A backend error moves on to the next backend with one
//! warning per backend and message; an unavailable backend is not asked again this run.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use secrecy::SecretString;

use crate::backend::{Backend, BackendError, ErrorKind, Namespace};
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
            let answers: HashMap<String, _> = keys.iter().cloned().zip(backend.get_many(&keys)).collect();
            for r in eligible {
                let key = key_of(&r);
                match &answers[&key] {
                    Ok(Some(value)) => {
                        out.answered.insert(backend.name().to_string());
                        out.found.insert(r.clone(), (backend.name().to_string(), key));
                        out.secrets.insert(r.clone(), value.clone());
                        pending.remove(&r);
                    }
                    Ok(None) => {
                        out.answered.insert(backend.name().to_string());
                        out.failures.entry(r).or_default().push(format!("{}: not found as {key}", backend.name()))
                    }
                    Err(e) => {
                        out.errors.entry(backend.name().to_string()).or_insert_with(|| e.clone());
                        if e.kind == ErrorKind::Unavailable {
                            dead.insert(bi);
                        }
                        if warned.insert((bi, e.message.clone())) {
                            // The last backend's error is reported with the failure itself.
                            if bi + 1 < backends.len() || scope + 1 < scopes {
                                out.warnings.push(format!("{}; trying the next backend", e.message));
                            }
                            if let Some(h) = &e.hint {
                                if !out.hints.contains(h) {
                                    out.hints.push(h.clone());
                                }
                            }
                        }
                        out.failures.entry(r).or_default().push(e.message.clone());
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
}

impl std::fmt::Display for KeyFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}: {}", self.location, self.key, self.message)
    }
}

impl Resolved {
    pub fn is_complete(&self) -> bool {
        self.failures.is_empty()
    }

    /// Every failure as one error, with the backends' hints or how to store what is missing.
    /// `None` when everything resolved.
    pub fn error(&self) -> Option<crate::Error> {
        if self.failures.is_empty() {
            return None;
        }
        let n = self.failures.len();
        let what = if n == 1 { "1 variable".to_string() } else { format!("{n} variables") };
        let e = crate::Error::new(format!("{what} could not be resolved:\n{}", crate::dotenv::report_capped(&self.failures)));
        let first_missing = self.failures.iter().flat_map(|f| f.references.iter()).next();
        Some(if !self.hints.is_empty() {
            e.with_hint(self.hints.join("\n      "))
        } else if let Some(r) = first_missing {
            e.with_hint(format!("store a missing secret with `envref secret set {}` (add --backend <name> to pick the backend)", r.key))
        } else {
            e
        })
    }
}

/// Every reference the project's variables use, deduplicated and sorted.
pub fn plan(project: &Project) -> Vec<Reference> {
    let set: BTreeSet<Reference> = project.merged.definitions().iter().flat_map(|d| d.value.references().into_iter().cloned()).collect();
    set.into_iter().collect()
}

/// Resolve the project's environment. `backends` is built only when a reference needs one.
pub fn resolve_project(
    project: &Project,
    backends: impl FnOnce() -> crate::Result<Vec<Box<dyn Backend>>>,
    strict: bool,
) -> crate::Result<Resolved> {
    let refs = plan(project);
    let lookups = if refs.is_empty() { Lookups::default() } else { lookup(&refs, &backends()?, &project.namespace()) };
    let evaluated = evaluate(&project.merged, RefMode::Resolved(&lookups.secrets), strict);
    let mut warnings = project.merged.warnings().to_vec();
    warnings.extend(lookups.warnings);
    let hints = lookups.hints;
    warnings.extend(evaluated.warnings);
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
    Ok(Resolved { vars: evaluated.vars, failures, warnings, hints })
}
