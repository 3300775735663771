//! `sync`: a project's secrets, encrypted with age to the team's public keys, in a file that
//! can be committed (default `.envref.secrets.age`). The spec's "keychain per developer, sync
//! via git" workflow: one person pushes from their backend, the others pull into theirs.
//!
//! The plaintext inside the age file is JSON:
//! `{"version": 1, "project": "my-app", "secrets": {"api_key": "…", "staging/api_key": "…"}}`,
//! keys relative to `<project>/` (so profile-scoped keys travel too). Pull also reads the Go
//! envref's format, a bare `{"key": "value"}` object.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use secrecy::{ExposeSecret, SecretString};

use crate::backend::vault::{armor_to, decrypt_with, parse_recipient};
use crate::backend::Backend;
use crate::config::TeamMember;
use crate::layers::write_atomic;
use crate::reference::check_secret_key;
use crate::{Error, Result};

/// The file `sync push` writes and `sync pull` reads, relative to the project root.
pub const DEFAULT_FILE: &str = ".envref.secrets.age";
/// Where `sync pull` finds the identity file when `--identity` is not given.
pub const IDENTITY_ENV: &str = "AGE_IDENTITY";
const FORMAT_VERSION: u64 = 1;

/// A project's secrets, keys relative to `<project>/`.
pub struct Bundle {
    /// `None` for a file in the Go envref's format, which does not record it.
    pub project: Option<String>,
    pub secrets: BTreeMap<String, SecretString>,
}

impl std::fmt::Debug for Bundle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bundle").field("project", &self.project).field("keys", &self.secrets.keys().collect::<Vec<_>>()).finish()
    }
}

impl Bundle {
    /// Every key under `<project>/` in `backend`, with its value. Keys listed but gone by the
    /// time they are read are left out (named in the returned warnings).
    pub fn collect(backend: &dyn Backend, project: &str) -> Result<(Bundle, Vec<String>)> {
        let prefix = format!("{project}/");
        let keys = backend.list(&prefix)?;
        let mut secrets = BTreeMap::new();
        let mut warnings = Vec::new();
        for (key, answer) in keys.iter().zip(backend.get_many(&keys)) {
            match answer? {
                Some(v) => {
                    secrets.insert(key[prefix.len()..].to_string(), v);
                }
                None => warnings.push(format!("{}: {key} was listed but is gone; left out", backend.name())),
            }
        }
        Ok((Bundle { project: Some(project.to_string()), secrets }, warnings))
    }

    fn to_json(&self) -> SecretString {
        let secrets: serde_json::Map<String, serde_json::Value> =
            self.secrets.iter().map(|(k, v)| (k.clone(), serde_json::Value::String(v.expose_secret().to_string()))).collect();
        let doc = serde_json::json!({"version": FORMAT_VERSION, "project": self.project, "secrets": secrets});
        SecretString::from(serde_json::to_string_pretty(&doc).expect("json"))
    }

    fn from_json(bytes: &[u8]) -> Result<Bundle> {
        let bad = |why: &str| Error::new(format!("the decrypted sync file is not an envref secrets file: {why}"));
        let doc: serde_json::Value = serde_json::from_slice(bytes).map_err(|_| bad("not JSON"))?;
        let obj = doc.as_object().ok_or_else(|| bad("not a JSON object"))?;
        let (project, map) = match obj.get("secrets") {
            Some(serde_json::Value::Object(m)) if obj.contains_key("version") => {
                let version = obj.get("version").and_then(serde_json::Value::as_u64).ok_or_else(|| bad("`version` is not a number"))?;
                if version != FORMAT_VERSION {
                    return Err(bad(&format!("format version {version}; this envref reads version {FORMAT_VERSION}"))
                        .with_hint("upgrade envref on this machine"));
                }
                (obj.get("project").and_then(|p| p.as_str()).map(str::to_string), m)
            }
            _ => (None, obj), // The Go envref's bare {"key": "value"} object.
        };
        let mut secrets = BTreeMap::new();
        for (k, v) in map {
            check_secret_key(k).map_err(|m| bad(&format!("key {k:?}: {m}")))?;
            let v = v.as_str().ok_or_else(|| bad(&format!("the value of {k} is not a string")))?;
            secrets.insert(k.clone(), SecretString::from(v.to_string()));
        }
        Ok(Bundle { project, secrets })
    }

    /// ASCII-armored age ciphertext to every recipient.
    pub fn seal(&self, recipients: &[age::x25519::Recipient]) -> Result<String> {
        if recipients.is_empty() {
            return Err(Error::new("no recipients"));
        }
        Ok(armor_to(recipients, self.to_json().expose_secret().as_bytes())?)
    }

    /// Decrypt a sync file with an identity file's identities.
    pub fn open(data: &[u8], identities: &[age::x25519::Identity]) -> Result<Bundle> {
        let plain = decrypt_with(identities, data).map_err(|e| match e {
            age::DecryptError::NoMatchingKeys => {
                let keys: Vec<String> = identities.iter().map(|i| i.to_public().to_string()).collect();
                Error::new(format!("the sync file is not encrypted to this identity ({})", keys.join(", "))).with_hint(
                    "ask a teammate who can read it to add your public key (`envref team add <you> <age1…>`) and run `envref sync push --to-team`",
                )
            }
            other => Error::new(format!("the sync file cannot be decrypted: {other}")).with_hint("is it a file `envref sync push` wrote?"),
        })?;
        let plain = SecretString::from(String::from_utf8(plain).map_err(|_| Error::new("the decrypted sync file is not UTF-8"))?);
        Bundle::from_json(plain.expose_secret().as_bytes())
    }

    /// What storing into `backend` under `<project>/` would do, key by key, comparing values:
    /// a key holding the same value is unchanged, never "changed". Keys holding another value
    /// are changed with `force`, kept otherwise.
    pub fn plan(&self, backend: &dyn Backend, project: &str, force: bool) -> Result<Plan> {
        if let Some(p) = self.project.as_deref().filter(|p| *p != project) {
            return Err(Error::new(format!("the sync file holds the secrets of project {p}, not {project}"))
                .with_hint("pull it in that project, or check `project:` in .envref.yaml"));
        }
        let keys: Vec<String> = self.secrets.keys().map(|k| format!("{project}/{k}")).collect();
        let mut plan = Plan::default();
        for ((rel, value), answer) in self.secrets.iter().zip(backend.get_many(&keys)) {
            let list = match answer? {
                None => &mut plan.add,
                Some(old) if old.expose_secret() == value.expose_secret() => &mut plan.unchanged,
                Some(_) if force => &mut plan.change,
                Some(_) => &mut plan.keep,
            };
            list.push(rel.clone());
        }
        Ok(plan)
    }

    /// Write what `plan` adds and changes into `backend` under `<project>/`.
    pub fn store(&self, backend: &dyn Backend, project: &str, plan: &Plan) -> Result<()> {
        let writes: Vec<&String> = plan.add.iter().chain(&plan.change).collect();
        for (done, rel) in writes.iter().enumerate() {
            let value = &self.secrets[rel.as_str()];
            backend.set(&format!("{project}/{rel}"), value).map_err(|e| {
                let e: Error = e.into();
                e.context(format!("stopped after {done} of {} secrets", writes.len()))
            })?;
        }
        Ok(())
    }
}

/// What a pull would do with each key of the sync file (names only, relative to `<project>/`).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Not in the backend yet.
    pub add: Vec<String>,
    /// In the backend with another value, overwritten (`--force`).
    pub change: Vec<String>,
    /// In the backend with another value, left as it is (no `--force`).
    pub keep: Vec<String>,
    /// In the backend with the same value.
    pub unchanged: Vec<String>,
}

impl Plan {
    /// Whether storing would write anything.
    pub fn writes(&self) -> bool {
        !self.add.is_empty() || !self.change.is_empty()
    }
}

/// The team's public keys as remembered for a project the last time this user synced it,
/// against the `team:` of its `.envref.yaml` now. Anyone who can commit can edit `team:`, and
/// `sync push --to-team` encrypts to whatever it lists, so a change is worth a loud warning.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct TeamChange {
    /// Nothing was remembered for this project: the keys are trusted on first use.
    pub first_use: bool,
    /// `(name, public key)` in `team:` now but not remembered.
    pub added: Vec<(String, String)>,
    /// `(name, public key)` remembered but no longer in `team:`.
    pub removed: Vec<(String, String)>,
}

impl TeamChange {
    pub fn changed(&self) -> bool {
        !self.first_use && (!self.added.is_empty() || !self.removed.is_empty())
    }
}

/// Where the remembered teams live: one JSON file in the user's state directory, keyed by
/// project root (a clone elsewhere is a first use).
pub fn teams_file() -> Result<PathBuf> {
    Ok(crate::state::dir()?.join("sync-teams.json"))
}

fn root_key(root: &Path) -> String {
    std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf()).to_string_lossy().into_owned()
}

fn read_teams(file: &Path) -> Result<serde_json::Map<String, serde_json::Value>> {
    match std::fs::read(file) {
        Ok(bytes) => match serde_json::from_slice::<serde_json::Value>(&bytes) {
            Ok(serde_json::Value::Object(m)) => Ok(m),
            _ => Err(Error::new(format!("{}: not the JSON object envref writes", file.display()))
                .with_hint("move the file away; envref then remembers the teams again on next use")),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Default::default()),
        Err(e) => Err(Error::io(file, e)),
    }
}

/// Compare `team` with what was remembered for the project at `root`.
pub fn team_change(root: &Path, team: &[TeamMember]) -> Result<TeamChange> {
    let all = read_teams(&teams_file()?)?;
    let remembered: Vec<(String, String)> = all
        .get(&root_key(root))
        .and_then(|entry| entry.get("team")?.as_object())
        .map(|m| m.iter().filter_map(|(k, v)| Some((v.as_str()?.to_string(), k.clone()))).collect())
        .unwrap_or_default();
    // Nothing remembered, or a project that had no team: whatever is there now is a first use.
    if remembered.is_empty() {
        return Ok(TeamChange { first_use: true, ..Default::default() });
    }
    let now: Vec<(String, String)> = team.iter().map(|m| (m.name.clone(), m.public_key.trim().to_string())).collect();
    let has = |list: &[(String, String)], key: &str| list.iter().any(|(_, k)| k == key);
    Ok(TeamChange {
        first_use: false,
        added: now.iter().filter(|(_, k)| !has(&remembered, k)).cloned().collect(),
        removed: remembered.iter().filter(|(_, k)| !has(&now, k)).cloned().collect(),
    })
}

/// Remember `team` as the project's team (file 0600 in a 0700 directory).
pub fn remember_team(root: &Path, project: &str, team: &[TeamMember]) -> Result<()> {
    let file = crate::state::ensure_dir()?.join("sync-teams.json");
    let mut all = read_teams(&file)?;
    // Keyed by public key: a key is what a file is encrypted to; the name is for messages.
    let keys: serde_json::Map<String, serde_json::Value> =
        team.iter().map(|m| (m.public_key.trim().to_string(), serde_json::Value::String(m.name.clone()))).collect();
    all.insert(root_key(root), serde_json::json!({"project": project, "team": keys}));
    write_atomic(&file, serde_json::to_string_pretty(&all).expect("json").as_bytes(), Some(0o600))
}

/// Public keys from a recipients file: one `age1…` per line, `#` comments and blank lines
/// skipped (the format of age's `-R`).
pub fn read_recipients(text: &str) -> Result<Vec<age::x25519::Recipient>> {
    text.lines()
        .map(str::trim)
        .enumerate()
        .filter(|(_, l)| !l.is_empty() && !l.starts_with('#'))
        .map(|(i, l)| parse_recipient(l).map_err(|e| e.context(format!("line {}", i + 1))))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_and_open() {
        let alice = age::x25519::Identity::generate();
        let bob = age::x25519::Identity::generate();
        let mut secrets = BTreeMap::new();
        secrets.insert("api_key".to_string(), SecretString::from("sk-1"));
        secrets.insert("staging/api_key".to_string(), SecretString::from("sk-\"2\"\n"));
        let b = Bundle { project: Some("app".into()), secrets };
        let armored = b.seal(&[alice.to_public(), bob.to_public()]).unwrap();
        assert!(armored.starts_with("-----BEGIN AGE ENCRYPTED FILE-----") && !armored.contains("sk-1"));
        for id in [&alice, &bob] {
            let got = Bundle::open(armored.as_bytes(), std::slice::from_ref(id)).unwrap();
            assert_eq!(got.project.as_deref(), Some("app"));
            assert_eq!(got.secrets["staging/api_key"].expose_secret(), "sk-\"2\"\n");
        }
        let e = Bundle::open(armored.as_bytes(), &[age::x25519::Identity::generate()]).unwrap_err();
        assert!(e.message.contains("not encrypted to this identity"), "{}", e.message);
        assert!(!format!("{b:?}").contains("sk-1"));
    }

    /// A backend in memory that counts writes.
    #[derive(Default)]
    struct Memory(std::sync::Mutex<BTreeMap<String, String>>, std::sync::atomic::AtomicUsize);

    impl Backend for Memory {
        fn name(&self) -> &str {
            "memory"
        }
        fn kind(&self) -> &'static str {
            "memory"
        }
        fn get(&self, key: &str) -> crate::backend::Lookup {
            Ok(self.0.lock().unwrap().get(key).map(|v| SecretString::from(v.clone())))
        }
        fn set(&self, key: &str, value: &SecretString) -> Result<(), crate::backend::BackendError> {
            self.1.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            self.0.lock().unwrap().insert(key.into(), value.expose_secret().into());
            Ok(())
        }
        fn delete(&self, _: &str) -> Result<bool, crate::backend::BackendError> {
            unimplemented!()
        }
        fn list(&self, _: &str) -> Result<Vec<String>, crate::backend::BackendError> {
            unimplemented!()
        }
    }

    #[test]
    fn plan_compares_values_and_store_writes_only_what_it_lists() {
        let backend = Memory::default();
        for (k, v) in [("app/same", "1"), ("app/other", "old")] {
            backend.0.lock().unwrap().insert(k.into(), v.into());
        }
        let secrets = [("same", "1"), ("other", "new"), ("fresh", "f")].map(|(k, v)| (k.to_string(), SecretString::from(v)));
        let b = Bundle { project: Some("app".into()), secrets: secrets.into_iter().collect() };
        let plan = b.plan(&backend, "app", false).unwrap();
        assert_eq!(
            (plan.add, plan.change, plan.keep, plan.unchanged),
            (vec!["fresh".into()], vec![], vec!["other".into()], vec!["same".into()])
        );
        let plan = b.plan(&backend, "app", true).unwrap();
        assert_eq!((&plan.add, &plan.change), (&vec!["fresh".to_string()], &vec!["other".to_string()]));
        b.store(&backend, "app", &plan).unwrap();
        assert_eq!(backend.1.load(std::sync::atomic::Ordering::SeqCst), 2, "the unchanged key was rewritten");
        assert_eq!(backend.0.lock().unwrap()["app/other"], "new");
        assert!(!b.plan(&backend, "app", true).unwrap().writes());
        assert!(b.plan(&backend, "other-app", false).unwrap_err().message.contains("holds the secrets of project app"));
    }

    #[test]
    fn go_format_and_bad_keys() {
        let b = Bundle::from_json(br#"{"api_key": "v"}"#).unwrap();
        assert_eq!((b.project, b.secrets.len()), (None, 1));
        assert!(Bundle::from_json(br#"{"../x": "v"}"#).is_err());
        assert!(Bundle::from_json(br#"{"version": 2, "secrets": {}}"#).unwrap_err().message.contains("version 2"));
        assert!(read_recipients("# team\n\nage1nope\n").unwrap_err().message.starts_with("line 3"));
    }
}
