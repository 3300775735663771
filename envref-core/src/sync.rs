//! `sync`: a project's secrets, encrypted with age to the team's public keys, in a file that
//! can be committed (default `.envref.secrets.age`). The spec's "keychain per developer, sync
//! via git" workflow: one person pushes from their backend, the others pull into theirs.
//!
//! The plaintext inside the age file is JSON:
//! `{"version": 1, "project": "my-app", "secrets": {"api_key": "…", "staging/api_key": "…"}}`,
//! keys relative to `<project>/` (so profile-scoped keys travel too). Pull also reads the Go
//! envref's format, a bare `{"key": "value"}` object.
//!
//! age does not sign, so a pusher who passes their age identity adds sender authentication:
//! `"sender": "age1…"` and `"auth": {"<recipient age1…>": "<tag>"}`, one tag per recipient,
//! HMAC-SHA256 of the file's content under a key from the X25519 Diffie-Hellman of the sender's
//! and that recipient's static keys (HKDF-SHA256, both public keys as salt), as in NaCl's box.
//! Only the sender and that recipient can compute a tag, so another teammate or anyone with
//! commit access cannot make a file that verifies as the sender's for you.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use secrecy::{ExposeSecret, SecretString};

use crate::backend::base64::{base64_decode, base64_encode};
use crate::backend::Backend;
use crate::config::TeamMember;
use crate::crypto::{armor_to, decrypt_with, parse_recipient};
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
    /// The secrets, by key relative to the project.
    pub secrets: BTreeMap<String, SecretString>,
    /// Who wrote the file, as they claim it, with a tag per recipient; `None` when unsigned.
    pub auth: Option<SenderAuth>,
}

/// The sender's public key and, for each recipient's public key, a base64 tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SenderAuth {
    /// The sender's age public key, as they claim it (check it with `verified_sender`).
    pub sender: String,
    tags: BTreeMap<String, String>,
}

impl std::fmt::Debug for Bundle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bundle")
            .field("project", &self.project)
            .field("keys", &self.secrets.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Bundle {
    /// Every key under `<project>/` in `backend`, with its value. Keys listed but gone by the
    /// time they are read are left out (named in the returned warnings).
    pub fn collect(backend: &dyn Backend, project: &str) -> Result<(Bundle, Vec<String>)> {
        let prefix = format!("{project}/");
        let names = crate::backend::relative_keys(&backend.list(&prefix)?, &prefix);
        let keys: Vec<String> = names.iter().map(|n| format!("{prefix}{n}")).collect();
        let mut secrets = BTreeMap::new();
        let mut warnings = Vec::new();
        for ((name, key), answer) in names
            .iter()
            .zip(&keys)
            .zip(crate::backend::get_each(backend, &keys)?)
        {
            match answer? {
                Some(v) => {
                    secrets.insert(name.clone(), v);
                }
                None => warnings.push(format!(
                    "{}: {key} was listed but is gone; left out",
                    backend.name()
                )),
            }
        }
        Ok((
            Bundle {
                project: Some(project.to_string()),
                secrets,
                auth: None,
            },
            warnings,
        ))
    }

    fn to_json(&self, auth: Option<&SenderAuth>) -> SecretString {
        let secrets: serde_json::Map<String, serde_json::Value> = self
            .secrets
            .iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    serde_json::Value::String(v.expose_secret().to_string()),
                )
            })
            .collect();
        let mut doc = serde_json::json!({"version": FORMAT_VERSION, "project": self.project, "secrets": secrets});
        if let Some(a) = auth {
            doc["sender"] = a.sender.clone().into();
            doc["auth"] = a
                .tags
                .iter()
                .map(|(k, v)| (k.clone(), serde_json::Value::from(v.clone())))
                .collect();
        }
        SecretString::from(serde_json::to_string_pretty(&doc).expect("json"))
    }

    fn from_json(bytes: &[u8]) -> Result<Bundle> {
        let bad = |why: &str| {
            Error::parse(format!(
                "the decrypted sync file is not an envref secrets file: {why}"
            ))
        };
        let doc: serde_json::Value = serde_json::from_slice(bytes).map_err(|_| bad("not JSON"))?;
        let obj = doc.as_object().ok_or_else(|| bad("not a JSON object"))?;
        let (project, map, auth) = match obj.get("secrets") {
            Some(serde_json::Value::Object(m)) if obj.contains_key("version") => {
                let version = obj
                    .get("version")
                    .and_then(serde_json::Value::as_u64)
                    .ok_or_else(|| bad("`version` is not a number"))?;
                if version != FORMAT_VERSION {
                    return Err(bad(&format!(
                        "format version {version}; this envref reads version {FORMAT_VERSION}"
                    ))
                    .with_hint("upgrade envref on this machine"));
                }
                let auth = sender_auth(obj).map_err(bad)?;
                (
                    obj.get("project")
                        .and_then(|p| p.as_str())
                        .map(str::to_string),
                    m,
                    auth,
                )
            }
            _ => (None, obj, None), // The Go envref's bare {"key": "value"} object.
        };
        let mut secrets = BTreeMap::new();
        for (k, v) in map {
            check_secret_key(k).map_err(|m| bad(&format!("key {k:?}: {m}")))?;
            let v = v
                .as_str()
                .ok_or_else(|| bad(&format!("the value of {k} is not a string")))?;
            secrets.insert(k.clone(), SecretString::from(v.to_string()));
        }
        Ok(Bundle {
            project,
            secrets,
            auth,
        })
    }

    /// ASCII-armored age ciphertext to every recipient, authenticated as `signer`'s when given.
    pub fn seal(
        &self,
        recipients: &[age::x25519::Recipient],
        signer: Option<&age::x25519::Identity>,
    ) -> Result<String> {
        if recipients.is_empty() {
            return Err(Error::usage("no recipients"));
        }
        let auth = match signer {
            None => None,
            Some(id) => {
                let digest = self.digest();
                let sender = id.to_public().to_string();
                let tags = recipients
                    .iter()
                    .map(|r| {
                        let tag = auth::sign(id, &r.to_string(), &digest).ok_or_else(|| {
                            Error::crypto(format!(
                                "cannot authenticate to recipient {r}: not a usable X25519 key"
                            ))
                        })?;
                        Ok((r.to_string(), base64_encode(&tag)))
                    })
                    .collect::<Result<_>>()?;
                Some(SenderAuth { sender, tags })
            }
        };
        armor_to(
            recipients,
            self.to_json(auth.as_ref()).expose_secret().as_bytes(),
        )
    }

    /// The content a sender authenticates: project and every key and value, length-prefixed.
    fn digest(&self) -> Vec<u8> {
        use sha2::Digest;
        let mut h = sha2::Sha256::new();
        h.update(b"envref sync content v1\0");
        let mut field = |b: &[u8]| {
            h.update((b.len() as u64).to_be_bytes());
            h.update(b);
        };
        field(self.project.as_deref().unwrap_or_default().as_bytes());
        for (k, v) in &self.secrets {
            field(k.as_bytes());
            field(v.expose_secret().as_bytes());
        }
        h.finalize().to_vec()
    }

    /// The sender's public key when the file is authenticated for one of `identities`;
    /// `None` when it is unsigned. A tag that does not verify is an error: the file was
    /// changed, or someone else wrote it in the sender's name.
    pub fn verified_sender(&self, identities: &[age::x25519::Identity]) -> Result<Option<String>> {
        let Some(a) = &self.auth else { return Ok(None) };
        let forged = || {
            Error::crypto(format!("the sync file claims to come from {}, but its authentication does not verify", a.sender))
                .with_hint("it was changed after it was pushed, or someone else wrote it; nothing was stored. Ask the sender to push again")
        };
        let digest = self.digest();
        for id in identities {
            let me = id.to_public().to_string();
            if let Some(tag) = a.tags.get(&me) {
                let tag = base64_decode(tag).ok_or_else(forged)?;
                return match auth::verify(id, &a.sender, &digest, &tag) {
                    true => Ok(Some(a.sender.clone())),
                    false => Err(forged()),
                };
            }
        }
        Err(Error::crypto(format!(
            "the sync file claims to come from {}, but carries no authentication for your key",
            a.sender
        ))
        .with_hint(
            "ask the sender to push again with your key among the recipients; nothing was stored",
        ))
    }

    /// Decrypt a sync file with an identity file's identities.
    pub fn open(data: &[u8], identities: &[age::x25519::Identity]) -> Result<Bundle> {
        let plain = decrypt_with(identities, data).map_err(|e| match e {
            age::DecryptError::NoMatchingKeys => {
                let keys: Vec<String> = identities.iter().map(|i| i.to_public().to_string()).collect();
                Error::crypto(format!("the sync file is not encrypted to this identity ({})", keys.join(", "))).with_hint(
                    "ask a teammate who can read it to add your public key (`envref team add <you> <age1…>`) and run `envref sync push --to-team`",
                )
            }
            other => Error::crypto(format!("the sync file cannot be decrypted: {other}"))
                .with_hint("is it a file `envref sync push` wrote?")
                .with_source(other),
        })?;
        let plain = SecretString::from(
            String::from_utf8(plain)
                .map_err(|_| Error::parse("the decrypted sync file is not UTF-8"))?,
        );
        Bundle::from_json(plain.expose_secret().as_bytes())
    }

    /// What storing into `backend` under `<project>/` would do, key by key, comparing values:
    /// a key holding the same value is unchanged, never "changed". Keys holding another value
    /// are changed with `force`, kept otherwise.
    pub fn plan(&self, backend: &dyn Backend, project: &str, force: bool) -> Result<Plan> {
        if let Some(p) = self.project.as_deref().filter(|p| *p != project) {
            return Err(Error::usage(format!(
                "the sync file holds the secrets of project {p}, not {project}"
            ))
            .with_hint("pull it in that project, or check `project:` in .envref.yaml"));
        }
        let keys: Vec<String> = self
            .secrets
            .keys()
            .map(|k| format!("{project}/{k}"))
            .collect();
        let mut plan = Plan::default();
        for ((rel, value), answer) in self
            .secrets
            .iter()
            .zip(crate::backend::get_each(backend, &keys)?)
        {
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
            backend
                .set(&format!("{project}/{rel}"), value)
                .map_err(|e| {
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
    /// Whether the team differs from what was remembered (never on first use).
    pub fn changed(&self) -> bool {
        !self.first_use && (!self.added.is_empty() || !self.removed.is_empty())
    }

    /// The member of `team` whose key `sender` is, unless that key is new since the last sync
    /// (then whoever added it may be the one who wrote the file).
    pub fn trusted<'a>(&self, team: &'a [TeamMember], sender: &str) -> Option<&'a TeamMember> {
        team.iter()
            .find(|m| m.public_key.trim() == sender && !self.added.iter().any(|(_, k)| k == sender))
    }
}

/// Where the remembered teams live: one JSON file in the user's state directory, keyed by
/// project root (a clone elsewhere is a first use).
pub fn teams_file() -> Result<PathBuf> {
    Ok(crate::state::dir()?.join(TEAMS_FILE))
}

const TEAMS_FILE: &str = "sync-teams.json";

fn root_key(root: &Path) -> String {
    std::fs::canonicalize(root)
        .unwrap_or_else(|_| root.to_path_buf())
        .to_string_lossy()
        .into_owned()
}

fn read_teams(file: &Path) -> Result<serde_json::Map<String, serde_json::Value>> {
    match std::fs::read(file) {
        Ok(bytes) => match serde_json::from_slice::<serde_json::Value>(&bytes) {
            Ok(serde_json::Value::Object(m)) => Ok(m),
            _ => Err(Error::parse(format!(
                "{}: not the JSON object envref writes",
                file.display()
            ))
            .with_hint("move the file away; envref then remembers the teams again on next use")),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Default::default()),
        Err(e) => Err(Error::io(file, e)),
    }
}

/// Compare `team` with what was remembered for the project at `root`.
pub fn team_change(root: &Path, team: &[TeamMember]) -> Result<TeamChange> {
    let all = read_teams(&teams_file()?)?;
    let Some(entry) = all.get(&root_key(root)) else {
        return Ok(TeamChange {
            first_use: true,
            ..Default::default()
        });
    };
    // Remembered as {public key: name}; an empty team is remembered too, so that a team
    // emptied and then refilled is still a change.
    let remembered: Vec<(String, String)> = entry
        .get("team")
        .and_then(|t| t.as_object())
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((v.as_str()?.to_string(), k.clone())))
                .collect()
        })
        .unwrap_or_default();
    let now: Vec<(String, String)> = team
        .iter()
        .map(|m| (m.name.clone(), m.public_key.trim().to_string()))
        .collect();
    let has = |list: &[(String, String)], key: &str| list.iter().any(|(_, k)| k == key);
    Ok(TeamChange {
        first_use: false,
        added: now
            .iter()
            .filter(|(_, k)| !has(&remembered, k))
            .cloned()
            .collect(),
        removed: remembered
            .iter()
            .filter(|(_, k)| !has(&now, k))
            .cloned()
            .collect(),
    })
}

/// Remember `team` as the project's team (file 0600 in a 0700 directory).
pub fn remember_team(root: &Path, project: &str, team: &[TeamMember]) -> Result<()> {
    let file = crate::state::ensure_dir()?.join(TEAMS_FILE);
    let mut all = read_teams(&file)?;
    // Keyed by public key: a key is what a file is encrypted to; the name is for messages.
    let keys: serde_json::Map<String, serde_json::Value> = team
        .iter()
        .map(|m| {
            (
                m.public_key.trim().to_string(),
                serde_json::Value::String(m.name.clone()),
            )
        })
        .collect();
    all.insert(
        root_key(root),
        serde_json::json!({"project": project, "team": keys}),
    );
    write_atomic(
        &file,
        serde_json::to_string_pretty(&all).expect("json").as_bytes(),
        Some(0o600),
    )
}

/// Static-static X25519 sender authentication (see the module docs).
mod auth {
    use bech32::FromBase32;
    use hmac::{Hmac, Mac};
    use secrecy::ExposeSecret;
    use sha2::Sha256;
    use x25519_dalek::{PublicKey, StaticSecret};

    /// The 32 bytes of a bech32 age key with human-readable part `hrp`.
    fn key_bytes(text: &str, hrp: &str) -> Option<[u8; 32]> {
        let (h, data, _) = bech32::decode(text).ok()?;
        if !h.eq_ignore_ascii_case(hrp) {
            return None;
        }
        let mut bytes = Vec::<u8>::from_base32(&data).ok()?;
        let key = <[u8; 32]>::try_from(bytes.as_slice()).ok();
        bytes.fill(0);
        key
    }

    /// The sender's tag of `content` for `recipient`.
    pub(super) fn sign(
        sender: &age::x25519::Identity,
        recipient: &str,
        content: &[u8],
    ) -> Option<Vec<u8>> {
        let me = sender.to_public().to_string();
        Some(
            mac(sender, recipient, &me, recipient, content)?
                .finalize()
                .into_bytes()
                .to_vec(),
        )
    }

    /// Whether `tag` is `sender`'s tag of `content` for `recipient` (compared in constant time).
    pub(super) fn verify(
        recipient: &age::x25519::Identity,
        sender: &str,
        content: &[u8],
        tag: &[u8],
    ) -> bool {
        let me = recipient.to_public().to_string();
        mac(recipient, sender, sender, &me, content).is_some_and(|m| m.verify_slice(tag).is_ok())
    }

    /// The MAC keyed for (`sender`, `recipient`), with `content` fed in. `mine` is the caller's
    /// identity and `peer` the other side's public key; both sides derive the same key.
    fn mac(
        mine: &age::x25519::Identity,
        peer: &str,
        sender: &str,
        recipient: &str,
        content: &[u8],
    ) -> Option<Hmac<Sha256>> {
        let secret = StaticSecret::from(key_bytes(
            mine.to_string().expose_secret(),
            "age-secret-key-",
        )?);
        let shared = secret.diffie_hellman(&PublicKey::from(key_bytes(peer, "age")?));
        if !shared.was_contributory() {
            return None; // A low-order public key: the "shared" secret would be public.
        }
        let mut salt = [0u8; 64];
        salt[..32].copy_from_slice(&key_bytes(sender, "age")?);
        salt[32..].copy_from_slice(&key_bytes(recipient, "age")?);
        let mut key = [0u8; 32];
        hkdf::Hkdf::<Sha256>::new(Some(&salt), shared.as_bytes())
            .expand(b"envref sync sender authentication v1", &mut key)
            .ok()?;
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&key).ok()?;
        key.fill(0);
        mac.update(content);
        Some(mac)
    }
}

/// The optional `sender` and `auth` of a sync file's JSON object; the error says why not.
fn sender_auth(
    obj: &serde_json::Map<String, serde_json::Value>,
) -> std::result::Result<Option<SenderAuth>, &'static str> {
    match (obj.get("sender"), obj.get("auth")) {
        (None, None) => Ok(None),
        (Some(serde_json::Value::String(sender)), Some(serde_json::Value::Object(tags))) => {
            let tags = tags
                .iter()
                .map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect::<Option<_>>()
                .ok_or("an `auth` tag is not a string")?;
            Ok(Some(SenderAuth {
                sender: sender.clone(),
                tags,
            }))
        }
        _ => Err("`sender` and `auth` must come together"),
    }
}

/// The identities of an age identity file (`age-keygen`'s format); errors never quote it.
pub fn read_identity_file(path: &Path) -> Result<Vec<age::x25519::Identity>> {
    crate::crypto::read_identity_file(path)?
        .x25519_only()
        .map_err(|e| e.context(path.display()))
}

/// Public keys from a recipients file: one `age1…` per line, `#` comments and blank lines
/// skipped (the format of age's `-R`).
pub(crate) fn read_recipients(text: &str) -> Result<Vec<age::x25519::Recipient>> {
    text.lines()
        .map(str::trim)
        .enumerate()
        .filter(|(_, l)| !l.is_empty() && !l.starts_with('#'))
        .map(|(i, l)| parse_recipient(l).map_err(|e| e.context(format!("line {}", i + 1))))
        .collect()
}

/// A push's recipient, with who it is: a team member's name, `--to`, or the file it came from.
pub struct NamedRecipient {
    /// Who the recipient is, for messages.
    pub who: String,
    /// Their age public key.
    pub key: age::x25519::Recipient,
}

/// Every recipient of a push, in order and without duplicates: the team when `team` is
/// `Some` (`--to-team`; an empty team is an error), the `keys` given (`--to`), and the keys in
/// each of `files` (`--to-file`; `(path, name shown for it)`, a file without keys is an error).
pub fn assemble_recipients(
    team: Option<&[TeamMember]>,
    keys: &[String],
    files: &[(PathBuf, String)],
) -> Result<Vec<NamedRecipient>> {
    let mut all = Vec::new();
    if let Some(team) = team {
        if team.is_empty() {
            return Err(Error::config("--to-team: no team members in .envref.yaml")
                .with_hint("add them with `envref team add <name> <age1…>`, or pass --to age1…"));
        }
        for m in team {
            let key = parse_recipient(&m.public_key)
                .map_err(|e| e.context(format!("team member {}", m.name)))?;
            all.push(NamedRecipient {
                who: m.name.clone(),
                key,
            });
        }
    }
    for key in keys {
        let parsed = parse_recipient(key).map_err(|e| e.context(format!("--to {key}")))?;
        all.push(NamedRecipient {
            who: "--to".into(),
            key: parsed,
        });
    }
    for (path, shown) in files {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let found = read_recipients(&text).map_err(|e| e.context(path.display()))?;
        if found.is_empty() {
            return Err(Error::parse(format!(
                "{}: no public keys in the file",
                path.display()
            )));
        }
        all.extend(found.into_iter().map(|key| NamedRecipient {
            who: shown.clone(),
            key,
        }));
    }
    let mut seen = std::collections::HashSet::new();
    all.retain(|r| seen.insert(r.key.to_string()));
    Ok(all)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recipients_come_from_team_keys_and_files_without_duplicates() {
        let (a, b, c) = (
            age::x25519::Identity::generate().to_public().to_string(),
            age::x25519::Identity::generate().to_public().to_string(),
            age::x25519::Identity::generate().to_public().to_string(),
        );
        let team = [TeamMember {
            name: "ann".into(),
            public_key: a.clone(),
        }];
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("keys.txt");
        std::fs::write(&file, format!("# keys\n{b}\n\n{c}\n")).unwrap();
        let files = [(file.clone(), "keys.txt".to_string())];
        let got = assemble_recipients(Some(&team), &[a.clone(), b.clone()], &files).unwrap();
        let got: Vec<(String, String)> = got
            .into_iter()
            .map(|r| (r.who, r.key.to_string()))
            .collect();
        let want = [("ann", &a), ("--to", &b), ("keys.txt", &c)];
        assert_eq!(got, want.map(|(w, k)| (w.to_string(), k.to_string())));
        // Without --to-team, the team is not a recipient.
        assert_eq!(
            assemble_recipients(None, std::slice::from_ref(&b), &[])
                .unwrap()
                .len(),
            1
        );
    }

    #[test]
    fn recipients_errors_say_where() {
        let e = assemble_recipients(Some(&[]), &[], &[]).err().unwrap();
        assert!(matches!(e, Error::Config { .. }), "{e:?}");
        assert!(
            e.to_string().contains("no team members"),
            "{}",
            e.to_string()
        );
        let bad = [TeamMember {
            name: "bob".into(),
            public_key: "age1nope".into(),
        }];
        let e = assemble_recipients(Some(&bad), &[], &[]).err().unwrap();
        assert!(matches!(e, Error::Usage { .. }), "{e:?}");
        assert!(
            e.to_string().starts_with("team member bob"),
            "{}",
            e.to_string()
        );
        let e = assemble_recipients(None, &["nope".into()], &[])
            .err()
            .unwrap();
        assert!(matches!(e, Error::Usage { .. }), "{e:?}");
        assert!(e.to_string().starts_with("--to nope"), "{}", e.to_string());
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.txt");
        std::fs::write(&empty, "# nobody\n").unwrap();
        let e = assemble_recipients(None, &[], &[(empty, "empty.txt".into())])
            .err()
            .unwrap();
        assert!(matches!(e, Error::Parse { .. }), "{e:?}");
        assert!(
            e.to_string().contains("no public keys in the file"),
            "{}",
            e.to_string()
        );
    }

    #[test]
    fn seal_and_open() {
        let alice = age::x25519::Identity::generate();
        let bob = age::x25519::Identity::generate();
        let mut secrets = BTreeMap::new();
        secrets.insert("api_key".to_string(), SecretString::from("sk-1"));
        secrets.insert(
            "staging/api_key".to_string(),
            SecretString::from("sk-\"2\"\n"),
        );
        let b = Bundle {
            project: Some("app".into()),
            secrets,
            auth: None,
        };
        let armored = b.seal(&[alice.to_public(), bob.to_public()], None).unwrap();
        assert!(
            armored.starts_with("-----BEGIN AGE ENCRYPTED FILE-----") && !armored.contains("sk-1")
        );
        for id in [&alice, &bob] {
            let got = Bundle::open(armored.as_bytes(), std::slice::from_ref(id)).unwrap();
            assert_eq!(got.project.as_deref(), Some("app"));
            assert_eq!(got.secrets["staging/api_key"].expose_secret(), "sk-\"2\"\n");
        }
        let e = Bundle::open(armored.as_bytes(), &[age::x25519::Identity::generate()]).unwrap_err();
        assert!(matches!(e, Error::Crypto { .. }), "{e:?}");
        assert!(
            e.to_string().contains("not encrypted to this identity"),
            "{e}"
        );
        assert!(!format!("{b:?}").contains("sk-1"));
    }

    #[test]
    fn plan_compares_values_and_store_writes_only_what_it_lists() {
        let backend = crate::test_backend::Memory::default();
        for (k, v) in [("app/same", "1"), ("app/other", "old")] {
            backend.map.lock().unwrap().insert(k.into(), v.into());
        }
        let secrets = [("same", "1"), ("other", "new"), ("fresh", "f")]
            .map(|(k, v)| (k.to_string(), SecretString::from(v)));
        let b = Bundle {
            project: Some("app".into()),
            secrets: secrets.into_iter().collect(),
            auth: None,
        };
        let plan = b.plan(&backend, "app", false).unwrap();
        assert_eq!(
            (plan.add, plan.change, plan.keep, plan.unchanged),
            (
                vec!["fresh".into()],
                vec![],
                vec!["other".into()],
                vec!["same".into()]
            )
        );
        let plan = b.plan(&backend, "app", true).unwrap();
        assert_eq!(
            (&plan.add, &plan.change),
            (&vec!["fresh".to_string()], &vec!["other".to_string()])
        );
        b.store(&backend, "app", &plan).unwrap();
        assert_eq!(backend.writes(), 2, "the unchanged key was rewritten");
        assert_eq!(backend.map.lock().unwrap()["app/other"], "new");
        assert!(!b.plan(&backend, "app", true).unwrap().writes());
        let e = b.plan(&backend, "other-app", false).unwrap_err();
        assert!(matches!(e, Error::Usage { .. }), "{e:?}");
        assert!(e.to_string().contains("holds the secrets of project app"));
    }

    /// Alice, Bob and Carol, a bundle, and the bundle sealed to Bob and Carol signed by Alice.
    struct Team {
        alice: age::x25519::Identity,
        bob: age::x25519::Identity,
        carol: age::x25519::Identity,
        b: Bundle,
        to: [age::x25519::Recipient; 2],
        signed: String,
    }

    impl Team {
        fn new() -> Team {
            let [alice, bob, carol] = [(); 3].map(|()| age::x25519::Identity::generate());
            let secrets = [("db_url", "postgres://real")]
                .map(|(k, v)| (k.to_string(), SecretString::from(v)));
            let b = Bundle {
                project: Some("app".into()),
                secrets: secrets.into_iter().collect(),
                auth: None,
            };
            let to = [bob.to_public(), carol.to_public()];
            let signed = b.seal(&to, Some(&alice)).unwrap();
            Team {
                alice,
                bob,
                carol,
                b,
                to,
                signed,
            }
        }
    }

    #[test]
    fn sender_authentication() {
        let Team {
            alice,
            bob,
            carol,
            b,
            to,
            signed,
        } = Team::new();
        let alice_pk = alice.to_public().to_string();
        for id in [&bob, &carol] {
            let got = Bundle::open(signed.as_bytes(), std::slice::from_ref(id)).unwrap();
            assert_eq!(
                got.verified_sender(std::slice::from_ref(id)).unwrap(),
                Some(alice_pk.clone())
            );
        }
        // Unsigned: no sender, no error.
        let plain = Bundle::open(
            b.seal(&to, None).unwrap().as_bytes(),
            std::slice::from_ref(&bob),
        )
        .unwrap();
        assert_eq!(
            plain.verified_sender(std::slice::from_ref(&bob)).unwrap(),
            None
        );
    }

    #[test]
    fn tampered_forged_or_foreign_authentication_does_not_verify() {
        let Team {
            alice,
            bob,
            carol,
            b,
            to,
            signed,
        } = Team::new();
        let alice_pk = alice.to_public().to_string();
        // A value changed after signing does not verify.
        let mut got = Bundle::open(signed.as_bytes(), std::slice::from_ref(&bob)).unwrap();
        got.secrets
            .insert("db_url".into(), SecretString::from("postgres://evil"));
        let e = got.verified_sender(std::slice::from_ref(&bob)).unwrap_err();
        assert!(matches!(e, Error::Crypto { .. }), "{e:?}");
        assert!(
            e.to_string().contains("does not verify") && !e.to_string().contains("evil"),
            "{}",
            e.to_string()
        );
        // Carol, a recipient herself, signs as Carol and claims to be Alice: Bob rejects it.
        let mut forged = Bundle::open(
            b.seal(&to, Some(&carol)).unwrap().as_bytes(),
            std::slice::from_ref(&bob),
        )
        .unwrap();
        forged.auth.as_mut().unwrap().sender.clone_from(&alice_pk);
        assert!(forged
            .verified_sender(std::slice::from_ref(&bob))
            .unwrap_err()
            .to_string()
            .contains("does not verify"));
        // A tag for someone else only.
        let mut only_carol = Bundle::open(signed.as_bytes(), std::slice::from_ref(&bob)).unwrap();
        only_carol
            .auth
            .as_mut()
            .unwrap()
            .tags
            .remove(&bob.to_public().to_string());
        assert!(only_carol
            .verified_sender(std::slice::from_ref(&bob))
            .unwrap_err()
            .to_string()
            .contains("no authentication for your key"));
    }

    #[test]
    fn sender_and_auth_come_together_as_strings() {
        let json = |extra: &str| format!(r#"{{"version": 1, "secrets": {{"k": "v"}}{extra}}}"#);
        let err = |extra: &str| {
            Bundle::from_json(json(extra).as_bytes())
                .err()
                .unwrap()
                .to_string()
        };
        assert!(err(r#", "sender": "age1x""#).contains("must come together"));
        assert!(err(r#", "sender": "age1x", "auth": {"age1y": 1}"#).contains("tag is not a string"));
        let b =
            Bundle::from_json(json(r#", "sender": "age1x", "auth": {"age1y": "t"}"#).as_bytes());
        assert_eq!(b.unwrap().auth.unwrap().tags["age1y"], "t");
        assert!(Bundle::from_json(json("").as_bytes())
            .unwrap()
            .auth
            .is_none());
    }

    #[test]
    fn go_format_and_bad_keys() {
        let b = Bundle::from_json(br#"{"api_key": "v"}"#).unwrap();
        assert_eq!((b.project, b.secrets.len()), (None, 1));
        assert!(Bundle::from_json(br#"{"../x": "v"}"#).is_err());
        assert!(Bundle::from_json(br#"{"version": 2, "secrets": {}}"#)
            .unwrap_err()
            .to_string()
            .contains("version 2"));
        assert!(read_recipients("# team\n\nage1nope\n")
            .unwrap_err()
            .to_string()
            .starts_with("line 3"));
    }
}
