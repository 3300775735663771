//! `envref import`: move plaintext values from a `.env` into a backend and rewrite each of
//! those lines as a reference, all or nothing.
//!
//! A run plans first (which definitions move, under which secret key, what the backend holds
//! already) and changes nothing until the plan is whole. Then, holding the file's edit lock,
//! it stores the secrets and replaces the file atomically; if anything fails, what this run
//! stored is deleted and any value it replaced (`force`) is put back, so the store and the
//! file are both as they were. Only the moved values' bytes change in the file.

use std::path::{Path, PathBuf};

use secrecy::{ExposeSecret, SecretString};

use crate::atomic::EditLock;
use crate::audit::{self, Evidence};
use crate::dotenv::{Document, Value};
use crate::reference::{check_secret_value, check_writable_key, Reference};
use crate::scope::SecretScope;
use crate::{Error, Result};

/// Which definitions to move.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// These keys, by name (each must be defined in the file).
    Keys(Vec<String>),
    /// Every key whose value `envref audit` flags as a plaintext secret.
    Detect,
}

/// What the backend holds already under a move's stored key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Existing {
    /// Nothing: the value is stored.
    Absent,
    /// The same value: nothing is stored, only the line is rewritten.
    Same,
    /// Another value: replaced only with `force`, and put back if the import fails.
    Different,
}

/// One definition that moves into the backend.
#[derive(Debug)]
pub struct Move {
    /// The variable.
    pub key: String,
    /// The line its definition starts on.
    pub line: u32,
    /// The secret's key in the project's namespace (the variable's name, lower-cased).
    pub secret_key: String,
    /// The full key stored in the backend (`<project>[/<profile>]/<secret_key>`).
    pub stored_key: String,
    /// The reference that replaces the value in the file.
    pub reference: String,
    /// The value masked as `audit` masks it; never the value.
    pub preview: String,
    /// What the backend holds under `stored_key` before the import.
    pub existing: Existing,
    value: SecretString,
    /// The value `force` replaces, kept to put it back on failure.
    old: Option<SecretString>,
}

/// A selected definition left as it is, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skip {
    /// The variable.
    pub key: String,
    /// The line its definition starts on.
    pub line: u32,
    /// Why it is not moved.
    pub reason: &'static str,
}

/// What an import does (dry run) or did.
#[derive(Debug)]
pub struct Plan {
    /// The env file.
    pub file: PathBuf,
    /// The backend's configured name.
    pub backend: String,
    /// The definitions moved, in file order.
    pub moves: Vec<Move>,
    /// The selected definitions left alone.
    pub skipped: Vec<Skip>,
}

/// An import's inputs, besides the backend scope.
#[derive(Debug, Clone)]
pub struct Import<'a> {
    /// The env file to rewrite.
    pub file: &'a Path,
    /// Which definitions to move.
    pub selection: &'a Selection,
    /// The `<target>` of the references written: `secrets` (the chain) or a backend's name.
    pub target: &'a str,
    /// Replace a different value already stored under a secret key.
    pub force: bool,
}

const ALREADY_REFERENCE: &str = "already a reference";
const INTERPOLATED: &str =
    "uses ${…} interpolation, which a stored value would not do; store its parts instead";
const EMPTY: &str = "empty value";

/// The keys of `doc` whose literal value `audit` flags as a plaintext secret, in file order,
/// each once (values that only look like unresolved references are not secrets to move).
pub fn detect(doc: &Document) -> Vec<String> {
    let mut keys: Vec<String> = Vec::new();
    for finding in audit::scan(doc) {
        if !matches!(finding.evidence, Evidence::Unresolved(_)) && !keys.contains(&finding.key) {
            keys.push(finding.key);
        }
    }
    keys
}

/// The secret key a variable is stored under: its name in lower case (`API_KEY` → `api_key`,
/// the README's convention).
fn secret_key_for(key: &str) -> String {
    key.to_ascii_lowercase()
}

/// Plan without changing anything: what [`run`] would do, with the same checks.
pub fn dry_run(imp: &Import, scope: &SecretScope) -> Result<Plan> {
    let doc = load(imp.file)?;
    let plan = plan(&doc, imp, scope)?;
    check_conflicts(&plan, scope, imp.force)?;
    rewritten(&doc, &plan)?;
    Ok(plan)
}

/// Move the selected values into the backend and rewrite the file, all or nothing.
pub fn run(imp: &Import, scope: &SecretScope) -> Result<Plan> {
    // Checked before locking: taking the lock would create a missing file.
    load(imp.file)?;
    let _lock = EditLock::acquire(imp.file)?;
    let doc = load(imp.file)?;
    let plan = plan(&doc, imp, scope)?;
    check_conflicts(&plan, scope, imp.force)?;
    let new_doc = rewritten(&doc, &plan)?;
    let interrupts = Interrupts::catch()?;
    let undo = store_all(&plan, scope, &interrupts)?;
    if let Err(e) = interrupts.check().and_then(|()| new_doc.save()) {
        return Err(roll_back(scope, undo, e));
    }
    Ok(plan)
}

/// SIGINT, SIGTERM and SIGHUP while a run stores and writes are noted instead of ending envref
/// half-way; the run then stops before its next step and undoes what it stored.
struct Interrupts {
    flag: std::sync::Arc<std::sync::atomic::AtomicBool>,
    #[cfg(unix)]
    ids: Vec<signal_hook::SigId>,
    /// The runner's handler (plugins, keychain helpers) would exit at once; while this guard
    /// lives it leaves the signals alone, as it does for the relay.
    #[cfg(unix)]
    _runner: crate::runner::SignalsHandled,
}

impl Interrupts {
    fn catch() -> Result<Interrupts> {
        let flag = std::sync::Arc::default();
        #[cfg(unix)]
        {
            // Registered before the runner lets go: no signal falls between the two.
            let mut ids = Vec::new();
            for signal in crate::runner::INTERRUPTS {
                let id = signal_hook::flag::register(signal, std::sync::Arc::clone(&flag))
                    .map_err(|e| Error::io_while("cannot catch interrupts", e))?;
                ids.push(id);
            }
            let _runner = crate::runner::SignalsHandled::start();
            Ok(Interrupts { flag, ids, _runner })
        }
        #[cfg(not(unix))]
        Ok(Interrupts { flag })
    }

    /// An error once a signal arrived.
    fn check(&self) -> Result<()> {
        if self.flag.load(std::sync::atomic::Ordering::SeqCst) {
            let interrupted = std::io::Error::from(std::io::ErrorKind::Interrupted);
            return Err(Error::io_while("a signal arrived", interrupted));
        }
        Ok(())
    }
}

#[cfg(unix)]
impl Drop for Interrupts {
    fn drop(&mut self) {
        for id in self.ids.drain(..) {
            signal_hook::low_level::unregister(id);
        }
    }
}

fn load(path: &Path) -> Result<Document> {
    Document::load(path).map_err(|e| e.context("envref import"))
}

/// The moves and skips for `imp.selection` in `doc`, and what the backend holds for each.
fn plan(doc: &Document, imp: &Import, scope: &SecretScope) -> Result<Plan> {
    let keys = match imp.selection {
        Selection::Keys(keys) => keys.clone(),
        Selection::Detect => detect(doc),
    };
    let mut plan = Plan {
        file: doc.path().to_path_buf(),
        backend: scope.backend.name().to_string(),
        moves: Vec::new(),
        skipped: Vec::new(),
    };
    for key in &keys {
        let (line, value) = single_definition(doc, key)?;
        match movable(value) {
            Ok(text) => plan.moves.push(planned_move(key, line, text, imp, scope)?),
            Err(reason) => plan.skipped.push(Skip {
                key: key.clone(),
                line,
                reason,
            }),
        }
    }
    plan.moves.sort_by_key(|m| m.line);
    check_distinct(&plan, doc.path())?;
    Ok(plan)
}

/// The line and value of `key`'s one definition: an earlier definition of it would keep its
/// plaintext in the file, so a key defined twice is an error.
fn single_definition<'d>(doc: &'d Document, key: &str) -> Result<(u32, &'d Value)> {
    let path = doc.path().display();
    let lines: Vec<u32> = doc
        .all_entries()
        .iter()
        .filter(|e| e.key == *key)
        .map(|e| e.pos.line)
        .collect();
    match lines.as_slice() {
        [] => Err(Error::usage(format!("{path}: {key} is not defined"))
            .with_hint("name keys as they appear in the file (case matters)")),
        [_] => Ok((lines[0], &doc.get(key).expect("defined").value)),
        _ => Err(Error::usage(format!(
            "{path}:{}: {key} is defined {} times (lines {}); an import would leave the earlier values in the file",
            lines[lines.len() - 1],
            lines.len(),
            lines.iter().map(u32::to_string).collect::<Vec<_>>().join(", ")
        ))
        .with_hint("delete all but one definition, then import again")),
    }
}

/// The value's text if it can move as it is, else why not.
fn movable(value: &Value) -> std::result::Result<&str, &'static str> {
    let text = match value {
        Value::Reference(_) => return Err(ALREADY_REFERENCE),
        Value::Template(t) => t.as_literal().ok_or(INTERPOLATED)?,
    };
    if text.is_empty() {
        return Err(EMPTY);
    }
    Ok(text)
}

fn planned_move(key: &str, line: u32, text: &str, imp: &Import, s: &SecretScope) -> Result<Move> {
    let path = imp.file.display();
    let secret_key = secret_key_for(key);
    check_writable_key(&secret_key)
        .map_err(|m| Error::usage(format!("{path}:{line}: {key}: {m}")))?;
    check_secret_value(text).map_err(|m| Error::usage(format!("{path}:{line}: {key}: {m}")))?;
    let stored_key = s.ns.key(&secret_key);
    let value = SecretString::from(text.to_string());
    let old = s.backend.get(&stored_key)?;
    let existing = match &old {
        None => Existing::Absent,
        Some(v) if v.expose_secret() == text => Existing::Same,
        Some(_) => Existing::Different,
    };
    let reference = Reference {
        target: imp.target.to_string(),
        key: secret_key.clone(),
        form: crate::reference::Form::Namespaced,
    };
    Ok(Move {
        key: key.to_string(),
        line,
        preview: audit::mask(text),
        reference: reference.to_string(),
        secret_key,
        stored_key,
        existing,
        value,
        old: old.filter(|_| existing == Existing::Different),
    })
}

/// Two variables whose names differ only in case would share one secret key.
fn check_distinct(plan: &Plan, path: &Path) -> Result<()> {
    for (i, m) in plan.moves.iter().enumerate() {
        if let Some(other) = plan.moves[..i]
            .iter()
            .find(|o| o.secret_key == m.secret_key)
        {
            return Err(Error::usage(format!(
                "{}:{}: {} and {} (line {}) would both be stored as secret {}",
                path.display(),
                m.line,
                m.key,
                other.key,
                other.line,
                m.secret_key
            ))
            .with_hint("import one of them, rename the other, and import it next"));
        }
    }
    Ok(())
}

/// A different value stored under a move's key is replaced only with `force`.
fn check_conflicts(plan: &Plan, scope: &SecretScope, force: bool) -> Result<()> {
    let taken: Vec<&Move> = plan
        .moves
        .iter()
        .filter(|m| m.existing == Existing::Different)
        .collect();
    if force || taken.is_empty() {
        return Ok(());
    }
    let names: Vec<String> = taken.iter().map(|m| m.stored_key.clone()).collect();
    Err(Error::usage(format!(
        "backend {} already holds a different value for {}; nothing was changed",
        scope.backend.name(),
        names.join(", ")
    ))
    .with_hint(
        "pass --force to replace the stored value(s) with the file's, or `envref secret delete` them first",
    ))
}

/// `doc` with each move's value replaced by its reference; every other byte kept.
fn rewritten(doc: &Document, plan: &Plan) -> Result<Document> {
    let mut new_doc = doc.clone();
    for m in &plan.moves {
        new_doc.set(&m.key, &m.reference)?;
    }
    Ok(new_doc)
}

/// What a stored secret needs to be undone: delete it, or put back the value it replaced.
struct Undo<'p> {
    stored_key: &'p str,
    old: Option<&'p SecretString>,
}

/// Store every move that is not stored already; on a failure or an interrupt, undo the ones
/// stored so far.
fn store_all<'p>(
    plan: &'p Plan,
    scope: &SecretScope,
    interrupts: &Interrupts,
) -> Result<Vec<Undo<'p>>> {
    let mut undo = Vec::new();
    for m in plan.moves.iter().filter(|m| m.existing != Existing::Same) {
        let stored = interrupts
            .check()
            .and_then(|()| Ok(scope.backend.set(&m.stored_key, &m.value)?));
        if let Err(e) = stored {
            return Err(roll_back(scope, undo, e));
        }
        undo.push(Undo {
            stored_key: &m.stored_key,
            old: m.old.as_ref(),
        });
    }
    Ok(undo)
}

/// Undo `undo` (newest first) after `cause`; the error says whether the store is back as it
/// was, or names what could not be undone and how to fix it by hand.
fn roll_back(scope: &SecretScope, undo: Vec<Undo>, cause: Error) -> Error {
    let backend = scope.backend.name();
    let mut left = Vec::new();
    for u in undo.iter().rev() {
        let undone = match u.old {
            Some(old) => scope.backend.set(u.stored_key, old),
            None => scope.backend.delete(u.stored_key).map(|_| ()),
        };
        if undone.is_err() {
            left.push(u.stored_key);
        }
    }
    if left.is_empty() {
        return cause.context("envref import changed nothing");
    }
    cause
        .context(format!(
            "envref import failed, and could not undo {} in backend {backend}",
            left.join(", ")
        ))
        .with_hint(format!(
            "the env file was not changed; check these keys in backend {backend} and delete (or `envref secret set`) them by hand"
        ))
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use secrecy::SecretString;

    use super::*;
    use crate::backend::{Backend, BackendError, ErrorKind, Lookup, Namespace};
    use crate::test_backend::Memory;

    /// A [`Memory`] shared with the test, whose `fail_on`-th `set` fails.
    struct Flaky {
        memory: Arc<Memory>,
        fail_on: usize,
        sets: AtomicUsize,
    }

    impl Backend for Flaky {
        fn name(&self) -> &str {
            "flaky"
        }
        fn kind(&self) -> &'static str {
            "memory"
        }
        fn get(&self, key: &str) -> Lookup {
            self.memory.get(key)
        }
        fn set(&self, key: &str, value: &SecretString) -> Result<(), BackendError> {
            if self.sets.fetch_add(1, Ordering::SeqCst) + 1 == self.fail_on {
                return Err(BackendError::new(
                    ErrorKind::Failed,
                    "flaky: injected failure",
                ));
            }
            self.memory.set(key, value)
        }
        fn delete(&self, key: &str) -> Result<bool, BackendError> {
            self.memory.delete(key)
        }
        fn list(&self, prefix: &str) -> Result<Vec<String>, BackendError> {
            self.memory.list(prefix)
        }
    }

    const PEM: &str =
        "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----";
    const TOKEN: &str = "ghp_0123456789abcdefghijABCDEFGHIJ456789";

    /// A realistic CRLF file: comments, `export`, mixed quoting, a reference, plain config.
    fn env_text() -> String {
        [
            "# database\r\n",
            "APP_PORT=3000\r\n",
            &format!(
                "PRIVATE_KEY=\"{}\" # the signing key\r\n",
                PEM.replace('\n', "\r\n")
            ),
            "export DB_URL='postgres://app:s3cr3t-pw@db:5432/app'\r\n",
            &format!("GITHUB_TOKEN={TOKEN}\r\n"),
            "API_KEY=ref://secrets/api_key\r\n",
            "GREETING=\"hello ${USER}\"\r\n",
        ]
        .concat()
    }

    struct Fixture {
        _dir: tempfile::TempDir,
        file: PathBuf,
        memory: Arc<Memory>,
        scope: SecretScope,
    }

    fn fixture(name: &str, text: &str, memory: Memory, fail_on: usize) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(name);
        std::fs::write(&file, text).unwrap();
        let memory = Arc::new(memory);
        let backend = Flaky {
            memory: memory.clone(),
            fail_on,
            sets: AtomicUsize::new(0),
        };
        let scope = SecretScope::new(Box::new(backend), Namespace::new("app", None));
        Fixture {
            _dir: dir,
            file,
            memory,
            scope,
        }
    }

    fn import<'a>(f: &'a Fixture, selection: &'a Selection, force: bool) -> Import<'a> {
        Import {
            file: &f.file,
            selection,
            target: "secrets",
            force,
        }
    }

    fn keys(list: &[&str]) -> Selection {
        Selection::Keys(list.iter().map(|k| k.to_string()).collect())
    }

    #[test]
    fn detect_moves_the_secrets_and_keeps_every_other_byte() {
        let f = fixture(".env", &env_text(), Memory::default(), 0);
        let plan = run(&import(&f, &Selection::Detect, false), &f.scope).unwrap();
        let moved: Vec<&str> = plan.moves.iter().map(|m| m.key.as_str()).collect();
        assert_eq!(moved, ["PRIVATE_KEY", "DB_URL", "GITHUB_TOKEN"]);
        assert_eq!(
            f.memory.entries(),
            [
                (
                    "app/db_url".into(),
                    "postgres://app:s3cr3t-pw@db:5432/app".into()
                ),
                ("app/github_token".into(), TOKEN.into()),
                // A CRLF inside double quotes reads as LF: what resolve gave before.
                ("app/private_key".into(), PEM.into()),
            ]
        );
        let expected = [
            "# database\r\n",
            "APP_PORT=3000\r\n",
            "PRIVATE_KEY=ref://secrets/private_key # the signing key\r\n",
            "export DB_URL=ref://secrets/db_url\r\n",
            "GITHUB_TOKEN=ref://secrets/github_token\r\n",
            "API_KEY=ref://secrets/api_key\r\n",
            "GREETING=\"hello ${USER}\"\r\n",
        ]
        .concat();
        assert_eq!(std::fs::read_to_string(&f.file).unwrap(), expected);
        let previews: Vec<&str> = plan.moves.iter().map(|m| m.preview.as_str()).collect();
        assert_eq!(previews, ["----***", "post***", "ghp_***"]);
        assert!(!format!("{plan:?}").contains("s3cr3t"), "{plan:?}");
    }

    #[test]
    fn named_keys_skip_references_and_interpolation_and_must_be_defined_once() {
        let f = fixture(".env", &env_text(), Memory::default(), 0);
        let sel = keys(&["API_KEY", "GREETING", "APP_PORT"]);
        let plan = run(&import(&f, &sel, false), &f.scope).unwrap();
        let skipped: Vec<(&str, &str)> = plan
            .skipped
            .iter()
            .map(|s| (s.key.as_str(), s.reason))
            .collect();
        assert_eq!(
            skipped,
            [("API_KEY", ALREADY_REFERENCE), ("GREETING", INTERPOLATED)]
        );
        assert_eq!(f.memory.entries(), [("app/app_port".into(), "3000".into())]);
        let e = run(&import(&f, &keys(&["NOPE"]), false), &f.scope).unwrap_err();
        assert!(e.to_string().ends_with(".env: NOPE is not defined"), "{e}");
        let f = fixture(".env", "K=one\n# again\nK=two\n", Memory::default(), 0);
        let e = run(&import(&f, &keys(&["K"]), false), &f.scope).unwrap_err();
        assert!(
            e.to_string()
                .contains(".env:3: K is defined 2 times (lines 1, 3)"),
            "{e}"
        );
        let f = fixture(".env", "Api_Key=abc\nAPI_KEY=def\n", Memory::default(), 0);
        let e = run(&import(&f, &keys(&["Api_Key", "API_KEY"]), false), &f.scope).unwrap_err();
        assert!(
            e.to_string()
                .contains("would both be stored as secret api_key"),
            "{e}"
        );
        assert_eq!(f.memory.writes(), 0);
    }

    #[test]
    fn a_failed_set_undoes_the_sets_before_it_and_leaves_the_file() {
        let before = Memory::default().with("app/db_url", "old-url");
        let f = fixture(".env", &env_text(), before, 3);
        let e = run(&import(&f, &Selection::Detect, true), &f.scope).unwrap_err();
        assert!(
            e.to_string().starts_with("envref import changed nothing: "),
            "{e}"
        );
        assert!(e.to_string().contains("injected failure"), "{e}");
        // The replaced value is back, the new one is gone, and the file is untouched.
        assert_eq!(
            f.memory.entries(),
            [("app/db_url".into(), "old-url".into())]
        );
        assert_eq!(std::fs::read_to_string(&f.file).unwrap(), env_text());
    }

    #[test]
    fn a_failed_file_write_undoes_every_set() {
        // The temp file `.<name>.XXXXXX.tmp` is longer than a file name may be: the save fails.
        let name = "e".repeat(245);
        let f = fixture(&name, &env_text(), Memory::default(), 0);
        let e = run(&import(&f, &Selection::Detect, false), &f.scope).unwrap_err();
        assert!(
            e.to_string().starts_with("envref import changed nothing: "),
            "{e}"
        );
        assert_eq!(
            f.memory.writes(),
            3,
            "all three were stored before the save failed"
        );
        assert!(f.memory.entries().is_empty());
        assert_eq!(std::fs::read_to_string(&f.file).unwrap(), env_text());
    }

    #[test]
    fn a_different_stored_value_needs_force_and_the_same_one_is_kept() {
        let text = "A_TOKEN=aaaaaaaaaaaa\nB_TOKEN=bbbbbbbbbbbb\n";
        let stored = Memory::default()
            .with("app/a_token", "aaaaaaaaaaaa")
            .with("app/b_token", "other");
        let f = fixture(".env", text, stored, 0);
        let sel = keys(&["A_TOKEN", "B_TOKEN"]);
        let e = dry_run(&import(&f, &sel, false), &f.scope).unwrap_err();
        assert!(
            e.to_string().contains("different value for app/b_token;"),
            "{e}"
        );
        run(&import(&f, &sel, false), &f.scope).unwrap_err();
        assert_eq!(std::fs::read_to_string(&f.file).unwrap(), text);
        let plan = run(&import(&f, &sel, true), &f.scope).unwrap();
        let existing: Vec<Existing> = plan.moves.iter().map(|m| m.existing).collect();
        assert_eq!(existing, [Existing::Same, Existing::Different]);
        assert_eq!(f.memory.writes(), 1, "the same value is not stored again");
        assert_eq!(
            std::fs::read_to_string(&f.file).unwrap(),
            "A_TOKEN=ref://secrets/a_token\nB_TOKEN=ref://secrets/b_token\n"
        );
    }

    #[test]
    fn dry_run_plans_and_changes_nothing() {
        let f = fixture(".env", &env_text(), Memory::default(), 0);
        let plan = dry_run(&import(&f, &Selection::Detect, false), &f.scope).unwrap();
        assert_eq!(plan.moves.len(), 3);
        assert_eq!(plan.moves[1].reference, "ref://secrets/db_url");
        assert_eq!(plan.moves[1].stored_key, "app/db_url");
        assert_eq!(f.memory.writes(), 0);
        assert_eq!(std::fs::read_to_string(&f.file).unwrap(), env_text());
    }
}
