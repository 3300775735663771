//! Profiles: which exist (registered under `profiles:` or as `.env.<name>` files), the
//! environment of one (references left as written), and the difference between two.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::backend::{relative_keys, Backend, Namespace};
use crate::config::{check_profile_name, Config};
use crate::evaluate::{evaluate, Evaluated, RefMode};
use crate::layers::Merged;
use crate::{Error, Result};

/// One profile of the project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileInfo {
    /// The profile's name.
    pub name: String,
    /// Its env file.
    pub file: PathBuf,
    /// Listed under `profiles:`.
    pub registered: bool,
    /// Whether that file exists.
    pub file_exists: bool,
}

/// Every profile: registered ones and `.env.<name>` files in the project root (names that
/// are valid profile names, so `.env.local` and `.env.example.old` are not profiles).
pub fn list(config: &Config) -> Result<Vec<ProfileInfo>> {
    let mut found: BTreeMap<String, ProfileInfo> = BTreeMap::new();
    for name in config.profiles.keys() {
        let file = config.profile_file(name);
        found.insert(
            name.clone(),
            ProfileInfo {
                name: name.clone(),
                file_exists: file.is_file(),
                file,
                registered: true,
            },
        );
    }
    // A directory that cannot be read is an error, not "no profiles".
    let entries = std::fs::read_dir(&config.root).map_err(|e| Error::io(&config.root, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(&config.root, e))?;
        let fname = entry.file_name().to_string_lossy().into_owned();
        let Some(name) = fname.strip_prefix(".env.") else {
            continue;
        };
        if found.contains_key(name) || !is_profile_file_name(name) || !entry.path().is_file() {
            continue;
        }
        // A registered profile with its own env_file may not be the owner of .env.<name>.
        if config.root.join(&config.env_file) == entry.path()
            || config.root.join(&config.local_file) == entry.path()
        {
            continue;
        }
        found.insert(
            name.to_string(),
            ProfileInfo {
                name: name.to_string(),
                file: entry.path(),
                registered: false,
                file_exists: true,
            },
        );
    }
    Ok(found.into_values().collect())
}

/// Whether `.env.<name>` counts as a profile's file when the profile is not registered:
/// a valid profile name, and not `example` (`.env.example` is the template of the keys).
fn is_profile_file_name(name: &str) -> bool {
    check_profile_name(name).is_ok() && name != "example"
}

/// A new profile's env file (`envref profile create` without `--from`).
pub fn file_template(config: &Config, name: &str) -> String {
    format!(
        "# Environment of the {name} profile: read after {base}, before {local}.\n\
         # Values here override {base}; secrets stay ref://secrets/<key> references.\n",
        base = config.env_file,
        local = config.local_file
    )
}

/// The profile `name`, if it is registered or its env file exists; else an error that lists
/// the profiles there are.
pub fn require(config: &Config, name: &str) -> Result<ProfileInfo> {
    check_profile_name(name).map_err(|m| Error::usage(format!("profile {name}: {m}")))?;
    let all = list(config)?;
    if let Some(p) = all.iter().find(|p| p.name == name) {
        return Ok(p.clone());
    }
    let file = config.profile_file(name);
    if is_profile_file_name(name) && file.is_file() {
        return Ok(ProfileInfo {
            name: name.into(),
            file,
            registered: false,
            file_exists: true,
        });
    }
    let names: Vec<&str> = all.iter().map(|p| p.name.as_str()).collect();
    let mut e = Error::not_found(format!(
        "profile {name} not found: it is not under `profiles:` and {} does not exist",
        file.display()
    ));
    e = match crate::suggest::closest(name, names.iter().copied()) {
        Some(s) => e.with_hint(format!(
            "did you mean {s}? (or create it: `envref profile create {name}`)"
        )),
        None if names.is_empty() => {
            e.with_hint(format!("create it with `envref profile create {name}`"))
        }
        None => e.with_hint(format!(
            "profiles: {}; create a new one with `envref profile create {name}`",
            names.join(", ")
        )),
    };
    Err(e)
}

/// A selected profile that is neither registered nor has its env file is known only by the
/// secrets scoped to it. `Err` (with "did you mean") when every backend answers that it holds
/// none; a warning when some backend could not answer; `Ok(None)` when the profile is known.
pub fn check_selected(
    config: &Config,
    name: &str,
    backends: &[Box<dyn Backend>],
) -> Result<Option<String>> {
    let unknown = match require(config, name) {
        Err(e @ Error::NotFound { .. }) => e,
        Err(e) => return Err(e),
        Ok(_) => return Ok(None),
    };
    let prefix = Namespace::new(&config.project, Some(name.to_string())).prefix();
    let mut unsure = Vec::new();
    for b in backends {
        match b.list(&prefix) {
            Ok(keys) if !relative_keys(&keys, &prefix).is_empty() => return Ok(None),
            Ok(_) => {}
            Err(_) => unsure.push(b.name().to_string()),
        }
    }
    let message = format!(
        "{}, and no backend holds secrets under {prefix}",
        unknown.message()
    );
    let hint = unknown.hint().map(str::to_string);
    if unsure.is_empty() {
        let e = Error::not_found(message);
        return Err(match hint {
            Some(h) => e.with_hint(h),
            None => e,
        });
    }
    let hint = hint.map(|h| format!("; {h}")).unwrap_or_default();
    Ok(Some(format!(
        "{message} (backends {} could not say){hint}",
        unsure.join(", ")
    )))
}

/// The merged layers of `profile`, evaluated with references left as `ref://…` text.
pub fn evaluate_literal(config: &Config, profile: &str) -> Result<(Merged, Evaluated)> {
    let merged = Merged::load(&config.layer_paths(Some(profile)))?;
    let ev = evaluate(&merged, RefMode::Literal, false);
    Ok((merged, ev))
}

/// How one key differs between profiles A and B.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiffKind {
    /// Defined only in A.
    OnlyA,
    /// Defined only in B.
    OnlyB,
    /// Defined in both, with different values.
    Changed,
}

impl DiffKind {
    /// The name used in JSON output (`only_a`, `only_b`, `changed`).
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            DiffKind::OnlyA => "only_a",
            DiffKind::OnlyB => "only_b",
            DiffKind::Changed => "changed",
        }
    }
}

/// One key that differs between two profiles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiffEntry {
    /// The variable.
    pub key: String,
    /// How it differs.
    pub kind: DiffKind,
    /// Its value in A, if defined there.
    pub a: Option<String>,
    /// Its value in B, if defined there.
    pub b: Option<String>,
}

/// The keys whose values differ between two evaluated environments, sorted by key.
pub fn diff(a: &[crate::evaluate::Var], b: &[crate::evaluate::Var]) -> Vec<DiffEntry> {
    let am: BTreeMap<&str, &str> = a.iter().map(|v| (&*v.key, v.value.as_str())).collect();
    let bm: BTreeMap<&str, &str> = b.iter().map(|v| (&*v.key, v.value.as_str())).collect();
    let mut keys: Vec<&str> = am.keys().chain(bm.keys()).copied().collect();
    keys.sort_unstable();
    keys.dedup();
    keys.into_iter()
        .filter_map(|k| {
            let (va, vb) = (
                am.get(k).map(|s| s.to_string()),
                bm.get(k).map(|s| s.to_string()),
            );
            let kind = match (&va, &vb) {
                (Some(x), Some(y)) if x == y => return None,
                (Some(_), Some(_)) => DiffKind::Changed,
                (Some(_), None) => DiffKind::OnlyA,
                (None, _) => DiffKind::OnlyB,
            };
            Some(DiffEntry {
                key: k.to_string(),
                kind,
                a: va,
                b: vb,
            })
        })
        .collect()
}

/// `- K=A` (only in a), `+ K=B` (only in b), and for a changed key `~ K=A` then `~ K=B`.
pub fn render_diff_plain(entries: &[DiffEntry]) -> String {
    let mut out = String::new();
    for e in entries {
        let line = |mark: char, v: &Option<String>| {
            format!("{mark} {}={}\n", e.key, v.as_deref().unwrap_or_default())
        };
        match e.kind {
            DiffKind::OnlyA => out.push_str(&line('-', &e.a)),
            DiffKind::OnlyB => out.push_str(&line('+', &e.b)),
            DiffKind::Changed => {
                out.push_str(&line('~', &e.a));
                out.push_str(&line('~', &e.b));
            }
        }
    }
    out
}

/// A JSON array of `{"key", "kind", "value_a"?, "value_b"?}` (absent sides omitted).
pub fn render_diff_json(entries: &[DiffEntry]) -> String {
    let list: Vec<serde_json::Value> = entries
        .iter()
        .map(|e| {
            let mut m = serde_json::Map::new();
            m.insert("key".into(), e.key.clone().into());
            m.insert("kind".into(), e.kind.as_str().into());
            if let Some(a) = &e.a {
                m.insert("value_a".into(), a.clone().into());
            }
            if let Some(b) = &e.b {
                m.insert("value_b".into(), b.clone().into());
            }
            serde_json::Value::Object(m)
        })
        .collect();
    let mut s = serde_json::to_string_pretty(&list).expect("json");
    s.push('\n');
    s
}

/// `3 differences: 1 only in dev, 1 only in prod, 1 changed` (zero parts omitted).
pub fn summary(entries: &[DiffEntry], a: &str, b: &str) -> String {
    let count = |k: DiffKind| entries.iter().filter(|e| e.kind == k).count();
    let parts: Vec<String> = [
        (count(DiffKind::OnlyA), format!("only in {a}")),
        (count(DiffKind::OnlyB), format!("only in {b}")),
        (count(DiffKind::Changed), "changed".into()),
    ]
    .into_iter()
    .filter(|(n, _)| *n > 0)
    .map(|(n, what)| format!("{n} {what}"))
    .collect();
    let n = entries.len();
    format!(
        "{n} difference{}: {}",
        if n == 1 { "" } else { "s" },
        parts.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evaluate::Var;

    fn v(k: &str, val: &str) -> Var {
        Var {
            key: k.into(),
            value: val.into(),
            secret: false,
        }
    }

    #[test]
    fn an_unreadable_root_is_an_error_not_no_profiles() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("app");
        std::fs::create_dir(&root).unwrap();
        std::fs::write(root.join(".env.dev"), "A=1\n").unwrap();
        let config = Config::load_text(&root.join(".envref.yaml"), "project: app\n").unwrap();
        let names: Vec<String> = list(&config).unwrap().into_iter().map(|p| p.name).collect();
        assert_eq!(names, ["dev"]);
        // Root may read any directory, so take the directory away instead of its permissions.
        std::fs::remove_dir_all(&root).unwrap();
        let e = list(&config).unwrap_err();
        assert!(
            matches!(&e, Error::Io { path: Some(p), source, .. }
                if *p == root && source.kind() == std::io::ErrorKind::NotFound),
            "{e:?}"
        );
        assert!(matches!(require(&config, "dev"), Err(Error::Io { .. })));
    }

    #[test]
    fn diff_markers() {
        let a = [
            v("A", "1"),
            v("SAME", "s"),
            v("ONLY_A", "x"),
            v("REF", "ref://secrets/k"),
        ];
        let b = [
            v("A", "2"),
            v("SAME", "s"),
            v("ONLY_B", ""),
            v("REF", "ref://secrets/k"),
        ];
        let d = diff(&a, &b);
        assert_eq!(
            render_diff_plain(&d),
            "~ A=1\n~ A=2\n- ONLY_A=x\n+ ONLY_B=\n"
        );
        assert_eq!(
            summary(&d, "dev", "prod"),
            "3 differences: 1 only in dev, 1 only in prod, 1 changed"
        );
        let json: serde_json::Value = serde_json::from_str(&render_diff_json(&d)).unwrap();
        assert_eq!(
            json[2],
            serde_json::json!({"key": "ONLY_B", "kind": "only_b", "value_b": ""})
        );
        assert!(diff(&a, &a).is_empty());
    }
}
