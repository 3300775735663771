//! `envref onboard`'s plan: every secret the project references that no backend has, the
//! variables that use it, and the backend and key it will be stored under.

use std::collections::{BTreeMap, BTreeSet};

use crate::backend::Backend;
use crate::project::Project;
use crate::reference::Reference;
use crate::resolve::{lookup, plan};
use crate::validate::{absent, optional_references, Schema};

/// One missing secret and where it will go.
pub struct MissingSecret {
    /// The reference no backend has.
    pub reference: Reference,
    /// The variables whose values use the reference.
    pub vars: Vec<String>,
    /// The index in `backends` of the backend to store it in; `None` when the reference
    /// names a backend that is not configured.
    pub backend: Option<usize>,
    /// The key in the project's namespace (profile scope when a profile is in effect).
    pub key: String,
    /// The schema's descriptions of its variables (`KEY: description`).
    pub description: Option<String>,
    /// Its variables are declared `"required": false`: without it they get their default.
    pub optional: bool,
}

impl MissingSecret {
    /// `VARS  reference  -> key in backend NAME`, for listings.
    pub fn describe(&self, backends: &[Box<dyn Backend>]) -> String {
        let place = match self.backend {
            Some(i) => format!("{} in backend {}", self.key, backends[i].name()),
            None => format!("no backend named {} is configured", self.reference.target),
        };
        let mut line = format!("{}  {}  -> {place}", self.vars.join(", "), self.reference);
        if self.optional {
            line.push_str("  (optional)");
        }
        if let Some(d) = &self.description {
            line.push_str(&format!("  # {d}"));
        }
        line
    }

    /// What the prompt calls it: the description when the schema has one, else the variables;
    /// `optional` when it may stay empty.
    pub fn label(&self) -> String {
        let name = self
            .description
            .clone()
            .unwrap_or_else(|| self.vars.join(", "));
        if self.optional {
            format!("{name} (optional)")
        } else {
            name
        }
    }
}

/// What `envref onboard` will ask for: the project's references and which are missing.
pub struct OnboardPlan {
    /// Every reference the project uses.
    pub refs: Vec<Reference>,
    /// The references no backend has, each with where it will be stored.
    pub missing: Vec<MissingSecret>,
    /// The lookup's warnings (backends that failed, …).
    pub warnings: Vec<String>,
    /// References declared optional: not resolving them is not a failure.
    optional: BTreeSet<Reference>,
}

impl OnboardPlan {
    /// Look every reference up; chain references (`ref://secrets/…`) that nobody has go to
    /// `store_in`, else the first configured backend; others to the backend they name.
    pub fn new(project: &Project, backends: &[Box<dyn Backend>], store_in: Option<&str>) -> Self {
        let refs = plan(project);
        let ns = project.namespace();
        let mut looked = lookup(&refs, backends, &ns);
        let schema = Schema::of_project(project).unwrap_or_else(|e| {
            looked
                .warnings
                .push(format!("{e}; descriptions are not shown"));
            None
        });
        let optional: BTreeSet<Reference> = schema
            .as_ref()
            .map(|s| optional_references(project, s).into_keys().collect())
            .unwrap_or_default();
        let mut users: BTreeMap<&Reference, Vec<String>> = BTreeMap::new();
        for def in project.merged.definitions() {
            for r in def.value.references() {
                users.entry(r).or_default().push(def.key.to_string());
            }
        }
        let first = project.config.backends.first().map(|b| b.name.as_str());
        let chain_target = store_in.or(first);
        // A secret's own name lives outside the namespace onboard writes to: say so, ask nothing.
        for r in looked.failures.keys().filter(|r| r.is_raw()) {
            let fix = r.outside_namespace_fix().unwrap_or_default();
            looked
                .warnings
                .push(format!("{r} is missing; onboard does not store it: {fix}"));
        }
        let missing = looked
            .failures
            .keys()
            .filter(|r| !r.is_raw())
            .map(|r| {
                let target = if r.is_chain() {
                    chain_target
                } else {
                    Some(r.target.as_str())
                };
                let vars = users.get(r).cloned().unwrap_or_default();
                MissingSecret {
                    reference: r.clone(),
                    backend: target.and_then(|t| backends.iter().position(|b| b.name() == t)),
                    key: ns.key(&r.key),
                    description: schema.as_ref().and_then(|s| s.describe(&vars)),
                    optional: optional.contains(r),
                    vars,
                }
            })
            .collect();
        OnboardPlan {
            refs,
            missing,
            warnings: looked.warnings,
            optional,
        }
    }

    /// The references that still do not resolve (after secrets were stored), except optional
    /// ones that no backend has (they resolve to their default).
    pub fn unresolved(&self, project: &Project, backends: &[Box<dyn Backend>]) -> Vec<Reference> {
        let again = lookup(&self.refs, backends, &project.namespace());
        let missing_optional = |r: &Reference| self.optional.contains(r) && absent(&again, r);
        let left: Vec<Reference> = again.failures.keys().cloned().collect();
        left.into_iter().filter(|r| !missing_optional(r)).collect()
    }

    /// Missing secrets that are not optional.
    pub fn required_missing(&self) -> impl Iterator<Item = &MissingSecret> {
        self.missing.iter().filter(|m| !m.optional)
    }
}

#[cfg(test)]
mod tests {
    use secrecy::SecretString;

    use super::OnboardPlan;
    use crate::backend::Backend;
    use crate::project::Project;
    use crate::test_backend::Memory;

    fn project(env: &str, profile: Option<&str>) -> (tempfile::TempDir, Project) {
        let dir = tempfile::tempdir().unwrap();
        let config = "project: app\nbackends:\n  - name: one\n    type: vault\n  - name: two\n    type: vault\nprofiles:\n  dev: {}\n";
        std::fs::write(dir.path().join(".envref.yaml"), config).unwrap();
        std::fs::write(dir.path().join(".env"), env).unwrap();
        let p = Project::open(dir.path(), profile).unwrap();
        (dir, p)
    }

    #[test]
    fn lists_what_no_backend_has_with_its_users_and_destination() {
        let env =
            "A=ref://secrets/k\nB=x-${A}\nC=ref://two/t\nD=ref://secrets/have\nE=ref://nope/n\n";
        let (_dir, p) = project(env, Some("dev"));
        let backends: Vec<Box<dyn Backend>> = vec![
            Box::new(Memory::named("one").with("app/have", "v")),
            Box::new(Memory::named("two")),
        ];
        let plan = OnboardPlan::new(&p, &backends, None);
        assert_eq!(plan.refs.len(), 4);
        let got: Vec<String> = plan.missing.iter().map(|m| m.describe(&backends)).collect();
        assert_eq!(
            got,
            [
                "E  ref://nope/n  -> no backend named nope is configured",
                "A  ref://secrets/k  -> app/dev/k in backend one",
                "C  ref://two/t  -> app/dev/t in backend two",
            ]
        );
        // --backend sends chain references elsewhere.
        let plan = OnboardPlan::new(&p, &backends, Some("two"));
        let k = plan
            .missing
            .iter()
            .find(|m| m.reference.key == "k")
            .unwrap();
        assert_eq!(k.backend, Some(1));
    }

    #[test]
    fn a_missing_raw_name_is_not_asked_for_but_stays_unresolved() {
        let (_dir, p) = project("A=ref://one//legacy/TOKEN\n", None);
        let backends: Vec<Box<dyn Backend>> = vec![Box::new(Memory::named("one"))];
        let plan = OnboardPlan::new(&p, &backends, None);
        assert!(plan.missing.is_empty());
        assert!(plan.warnings[0]
            .contains("create legacy/TOKEN in backend one with that store's own tool"));
        assert_eq!(plan.unresolved(&p, &backends).len(), 1);
    }

    #[test]
    fn unresolved_sees_what_was_stored_since() {
        let (_dir, p) = project("A=ref://secrets/k\n", None);
        let backends: Vec<Box<dyn Backend>> = vec![Box::new(Memory::named("one"))];
        let plan = OnboardPlan::new(&p, &backends, None);
        assert_eq!(plan.missing[0].key, "app/k");
        assert_eq!(plan.unresolved(&p, &backends).len(), 1);
        backends[0].set("app/k", &SecretString::from("v")).unwrap();
        assert!(plan.unresolved(&p, &backends).is_empty());
    }
}
