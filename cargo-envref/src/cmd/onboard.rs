//! `envref onboard`: ask for every secret the project references that no backend has (a
//! hidden prompt each), store it, and finish with the project resolving.

use std::collections::BTreeMap;

use clap::Args;
use envref_core::backend::Backend;
use envref_core::reference::Reference;
use envref_core::resolve::{lookup, plan};
use envref_core::{Error, Result};
use secrecy::SecretString;

use super::{build_backends, open_project, print_warnings, write_stdout};
use crate::{ui, Global};

#[derive(Args, Debug)]
pub struct OnboardArgs {
    /// Profile (default: $ENVREF_PROFILE, else active_profile); secrets are stored in its scope
    #[arg(short = 'P', long)]
    pub profile: Option<String>,
    /// Store ref://secrets/… values in this backend (default: the first in .envref.yaml)
    #[arg(short, long)]
    pub backend: Option<String>,
    /// Only list what would be asked for
    #[arg(long)]
    pub dry_run: bool,
}

/// One missing secret: the reference, the variables that use it, and where it will go.
struct Missing {
    reference: Reference,
    vars: Vec<String>,
    backend: Option<usize>,
    key: String,
}

pub fn run(g: &Global, a: OnboardArgs) -> Result<i32> {
    let project = open_project(g, a.profile.as_deref())?;
    print_warnings(project.merged.warnings());
    let config = &project.config;
    if let Some(b) = &a.backend {
        config.require_backend(b)?;
    }
    let refs = plan(&project);
    let ns = project.namespace();
    let backends = if refs.is_empty() {
        Vec::new()
    } else {
        build_backends(config)?
    };
    let looked = lookup(&refs, &backends, &ns);
    print_warnings(&looked.warnings);

    let mut users: BTreeMap<&Reference, Vec<String>> = BTreeMap::new();
    for def in project.merged.definitions() {
        for r in def.value.references() {
            users.entry(r).or_default().push(def.key.to_string());
        }
    }
    let default_backend = a
        .backend
        .as_deref()
        .or(config.backends.first().map(|b| b.name.as_str()));
    let missing: Vec<Missing> = looked
        .failures
        .keys()
        .map(|r| {
            let target = if r.is_chain() {
                default_backend
            } else {
                Some(r.target.as_str())
            };
            Missing {
                reference: r.clone(),
                vars: users.get(r).cloned().unwrap_or_default(),
                backend: target.and_then(|t| backends.iter().position(|b| b.name() == t)),
                key: ns.key(&r.key),
            }
        })
        .collect();
    let scope = match &project.profile {
        Some(p) => format!("project {}, profile {p}", config.project),
        None => format!("project {}", config.project),
    };
    if missing.is_empty() {
        write_stdout(&ok_line(&scope, refs.len()))?;
        return Ok(0);
    }
    let describe = |m: &Missing| {
        let place = match m.backend {
            Some(i) => format!("{} in backend {}", m.key, backends[i].name()),
            None => format!("no backend named {} is configured", m.reference.target),
        };
        format!("{}  {}  -> {place}", m.vars.join(", "), m.reference)
    };
    if a.dry_run {
        let out: String = missing
            .iter()
            .map(|m| format!("{}\n", describe(m)))
            .collect();
        write_stdout(&out)?;
        ui::info(&format!(
            "{} secret{} missing ({scope}); `envref onboard` in a terminal asks for each",
            missing.len(),
            plural(missing.len())
        ));
        return Ok(0);
    }
    if !ui::interactive() {
        for m in &missing {
            ui::info(&format!("  missing: {}", describe(m)));
        }
        return Err(Error::new(format!("{} secret{} missing, and there is no terminal to ask on", missing.len(), plural(missing.len())))
            .with_hint("run `envref onboard` in a terminal, or store each with `envref secret set <key> --stdin`"));
    }
    ui::info(&format!(
        "{scope}: {} secret{} missing; enter each (input is hidden, empty skips)",
        missing.len(),
        plural(missing.len())
    ));
    let (mut stored, mut skipped) = (0usize, 0usize);
    for (i, m) in missing.iter().enumerate() {
        let Some(bi) = m.backend else {
            ui::warn(&format!(
                "skipping {}: no backend named {} is configured",
                m.reference, m.reference.target
            ));
            skipped += 1;
            continue;
        };
        let backend: &dyn Backend = backends[bi].as_ref();
        let prompt = format!(
            "[{}/{}] {} ({} -> {} in {}): ",
            i + 1,
            missing.len(),
            m.vars.join(", "),
            m.reference,
            m.key,
            backend.name()
        );
        let value = rpassword::prompt_password(prompt)
            .map_err(|e| Error::new(format!("cannot read the value: {e}")))?;
        if value.is_empty() {
            ui::info("  skipped");
            skipped += 1;
            continue;
        }
        match backend.set(&m.key, &SecretString::from(value)) {
            Ok(()) => {
                ui::info(&format!("  stored {} in {}", m.key, backend.name()));
                stored += 1;
            }
            Err(e) => {
                ui::error(&e.into());
                skipped += 1;
            }
        }
    }
    ui::info(&format!("stored {stored}, skipped {skipped}"));
    let again = lookup(&refs, &backends, &ns);
    if again.failures.is_empty() {
        write_stdout(&ok_line(&scope, refs.len()))?;
        return Ok(0);
    }
    let list: Vec<String> = again.failures.keys().map(|r| r.to_string()).collect();
    Err(Error::new(format!(
        "{} of {} references still do not resolve: {}",
        list.len(),
        refs.len(),
        list.join(", ")
    ))
    .with_hint("run `envref onboard` again to enter them"))
}

/// The closing line, like `status`'s: every reference resolves.
fn ok_line(scope: &str, n: usize) -> String {
    format!("OK: {scope}: {n}/{n} reference{} resolve\n", plural(n))
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}
