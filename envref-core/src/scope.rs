//! One backend and the namespace a project's keys live in: what `envref secret …` reads and
//! writes. Reads fall back from the profile scope to the project scope, as resolution does.

use secrecy::SecretString;

use crate::backend::{relative_keys, Backend, Namespace};
use crate::reference::history_key;
use crate::{generate, Error, Result};

/// A backend and the namespace `envref secret …` works in.
pub struct SecretScope {
    /// The backend read and written.
    pub backend: Box<dyn Backend>,
    /// The project (and profile) whose keys are meant.
    pub ns: Namespace,
}

impl SecretScope {
    /// The scope of `ns` in `backend`.
    pub fn new(backend: Box<dyn Backend>, ns: Namespace) -> Self {
        SecretScope { backend, ns }
    }

    /// `<stored key> in backend <name>`, for messages.
    pub fn describe(&self, key: &str) -> String {
        format!("{} in backend {}", self.ns.key(key), self.backend.name())
    }

    /// Whether `key` exists in this namespace's own scope (no fallback); reads no value.
    pub fn exists(&self, key: &str) -> Result<bool> {
        Ok(self.backend.exists(&self.ns.key(key))?)
    }

    /// Profile scope, then project scope; an error naming every key tried when neither has it.
    pub fn read(&self, key: &str) -> Result<SecretString> {
        let keys = self.ns.lookup_keys(key);
        for k in &keys {
            if let Some(v) = self.backend.get(k)? {
                return Ok(v);
            }
        }
        let name = self.backend.name();
        Err(Error::not_found(format!(
            "{name}: secret not found: {key} (looked up {})",
            keys.join(", ")
        ))
        .with_hint(format!(
            "store it with `envref secret set {key} --backend {name}`"
        )))
    }

    /// Store `key` in this namespace's own scope.
    pub fn write(&self, key: &str, value: &SecretString) -> Result<()> {
        Ok(self.backend.set(&self.ns.key(key), value)?)
    }

    /// The names stored in this namespace's own scope, without its prefix.
    pub fn list(&self) -> Result<Vec<String>> {
        let prefix = self.ns.prefix();
        Ok(relative_keys(&self.backend.list(&prefix)?, &prefix))
    }

    /// Delete `key` from this namespace's own scope; an error when it is not there.
    pub fn delete(&self, key: &str) -> Result<()> {
        let stored = self.ns.key(key);
        if self.backend.delete(&stored)? {
            return Ok(());
        }
        Err(Error::not_found(format!(
            "{}: secret not found: {stored}",
            self.backend.name()
        ))
        .with_hint("`envref secret list` shows what is stored"))
    }

    /// `key` as stored by another project (and profile) in the same backend.
    pub fn read_other(
        &self,
        project: &str,
        profile: Option<String>,
        key: &str,
    ) -> Result<SecretString> {
        let source_key = Namespace::new(project, profile).key(key);
        self.backend.get(&source_key)?.ok_or_else(|| {
            Error::not_found(format!("{}: secret not found: {source_key}", self.backend.name())).with_hint(
                format!(
                    "check the project name; `envref secret list` in project {project} shows its secrets"
                ),
            )
        })
    }

    /// Whether rotating `key` with `keep` old values would delete archived values already
    /// stored (a lower `keep` than last time).
    pub fn rotation_drops_history(&self, key: &str, keep: u32) -> Result<bool> {
        let stored = self.ns.key(key);
        Ok(
            self.backend.exists(&stored)?
                && self.backend.exists(&history_key(&stored, keep + 1))?,
        )
    }

    /// Replace `key` with `new`, archiving `keep` old values ([`generate::rotate`]); an error
    /// when `key` does not exist, as rotating must not create a secret.
    pub fn rotate(&self, key: &str, keep: u32, new: &SecretString) -> Result<()> {
        let stored = self.ns.key(key);
        if generate::rotate(self.backend.as_ref(), &stored, keep, new)? {
            return Ok(());
        }
        Err(Error::not_found(format!(
            "{}: secret not found: {stored}; there is nothing to rotate",
            self.backend.name()
        ))
        .with_hint(format!(
            "create it first with `envref secret set {key}` or `envref secret generate {key}`; `envref secret list` shows what is stored"
        )))
    }
}

#[cfg(test)]
mod tests {
    use secrecy::{ExposeSecret, SecretString};

    use super::SecretScope;
    use crate::backend::Namespace;
    use crate::test_backend::Memory;
    use crate::Error;

    fn scope(profile: Option<&str>, m: Memory) -> SecretScope {
        SecretScope::new(
            Box::new(m),
            Namespace::new("app", profile.map(str::to_string)),
        )
    }

    #[test]
    fn read_tries_the_profile_scope_then_the_project_scope() {
        let both = Memory::default()
            .with("app/k", "project")
            .with("app/dev/k", "profile");
        let s = scope(Some("dev"), both);
        assert_eq!(s.read("k").unwrap().expose_secret(), "profile");
        let s = scope(Some("dev"), Memory::default().with("app/k", "project"));
        assert_eq!(s.read("k").unwrap().expose_secret(), "project");
        // Without a profile, a profile-scoped value is not seen.
        let s = scope(None, Memory::default().with("app/dev/k", "profile"));
        let e = s.read("k").unwrap_err();
        assert!(matches!(e, Error::NotFound { .. }), "{e:?}");
        assert!(
            e.to_string().contains("looked up app/k"),
            "{}",
            e.to_string()
        );
        let e = scope(Some("dev"), Memory::default()).read("k").unwrap_err();
        assert!(
            e.to_string().contains("looked up app/dev/k, app/k"),
            "{}",
            e.to_string()
        );
        assert!(e
            .hint()
            .unwrap()
            .contains("envref secret set k --backend memory"));
    }

    #[test]
    fn writes_lists_and_deletes_in_its_own_scope_only() {
        let s = scope(
            Some("dev"),
            Memory::default()
                .with("app/shared", "x")
                .with("other/k", "y"),
        );
        s.write("k", &SecretString::from("v")).unwrap();
        assert!(s.exists("k").unwrap());
        assert!(
            !s.exists("shared").unwrap(),
            "exists must not fall back to the project scope"
        );
        assert_eq!(s.list().unwrap(), ["k"]);
        s.delete("k").unwrap();
        let e = s.delete("k").unwrap_err();
        assert!(matches!(e, Error::NotFound { .. }), "{e:?}");
        assert!(
            e.to_string().contains("secret not found: app/dev/k"),
            "{}",
            e.to_string()
        );
        assert!(s.list().unwrap().is_empty());
    }

    #[test]
    fn read_other_reads_another_projects_key() {
        let s = scope(None, Memory::default().with("lib/prod/k", "v"));
        let v = s.read_other("lib", Some("prod".into()), "k").unwrap();
        assert_eq!(v.expose_secret(), "v");
        let e = s.read_other("lib", None, "k").unwrap_err();
        assert!(matches!(e, Error::NotFound { .. }), "{e:?}");
        assert!(
            e.to_string().contains("secret not found: lib/k"),
            "{}",
            e.to_string()
        );
    }

    #[test]
    fn rotate_refuses_to_create_and_reports_history_it_would_drop() {
        let s = scope(None, Memory::default());
        let e = s.rotate("k", 2, &SecretString::from("new")).unwrap_err();
        assert!(matches!(e, Error::NotFound { .. }), "{e:?}");
        assert!(
            e.to_string().contains("nothing to rotate"),
            "{}",
            e.to_string()
        );
        assert!(s.list().unwrap().is_empty(), "rotate created a secret");
        let s = scope(
            None,
            Memory::default()
                .with("app/k", "v")
                .with("app/k.__history.1", "old"),
        );
        assert!(s.rotation_drops_history("k", 0).unwrap());
        assert!(!s.rotation_drops_history("k", 1).unwrap());
        s.rotate("k", 1, &SecretString::from("new")).unwrap();
        assert_eq!(s.read("k").unwrap().expose_secret(), "new");
    }
}
