//! The layered environment: `env_file` ← profile file ← `local_file`. Later layers override
//! keys; a key keeps the position of its first definition. The base file is required.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::dotenv::{Document, Location, Quote, Value};
use crate::{Error, Result};

/// The files one run reads, in override order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerPaths {
    pub base: PathBuf,
    pub profile: Option<PathBuf>,
    pub local: PathBuf,
}

impl LayerPaths {
    pub fn all(&self) -> Vec<&Path> {
        let mut v = vec![self.base.as_path()];
        if let Some(p) = &self.profile {
            v.push(p);
        }
        v.push(&self.local);
        v
    }
}

/// One variable of the merged environment, as written in the layer that wins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Definition {
    pub key: String,
    pub value: Value,
    pub quote: Quote,
    /// Where the winning definition is (`path:line:col` of the key).
    pub location: Location,
}

#[derive(Debug, Clone, Default)]
pub struct Merged {
    defs: Vec<Definition>,
    index: HashMap<String, usize>,
    warnings: Vec<String>,
    files_read: Vec<PathBuf>,
}

impl Merged {
    /// Load and merge the layers. Missing optional layers are skipped.
    pub fn load(paths: &LayerPaths) -> Result<Merged> {
        if !paths.base.exists() {
            return Err(Error::new(format!("{}: env file not found", paths.base.display()))
                .with_hint("create it (`envref init` writes one) or set `env_file` in .envref.yaml"));
        }
        let mut docs = vec![Document::load(&paths.base)?];
        for p in paths.profile.iter().chain(std::iter::once(&paths.local)) {
            if p.exists() {
                docs.push(Document::load(p)?);
            }
        }
        Ok(Merged::from_documents(&docs))
    }

    pub fn from_documents(docs: &[Document]) -> Merged {
        let mut m = Merged::default();
        let total = docs.iter().map(|d| d.all_entries().len()).sum();
        m.defs.reserve(total);
        m.index.reserve(total);
        for doc in docs {
            m.warnings.extend(doc.warnings().iter().cloned());
            m.files_read.push(doc.path().to_path_buf());
            for e in doc.all_entries() {
                let def = Definition {
                    key: e.key.clone(),
                    value: e.value.clone(),
                    quote: e.quote,
                    location: Location { path: doc.path().to_path_buf(), pos: e.pos },
                };
                match m.index.get(&e.key) {
                    Some(&i) => m.defs[i] = def,
                    None => {
                        m.index.insert(e.key.clone(), m.defs.len());
                        m.defs.push(def);
                    }
                }
            }
        }
        m
    }

    pub fn definitions(&self) -> &[Definition] {
        &self.defs
    }

    pub fn get(&self, key: &str) -> Option<&Definition> {
        self.index_of(key).map(|i| &self.defs[i])
    }

    /// The position of `key` in [`Merged::definitions`].
    pub fn index_of(&self, key: &str) -> Option<usize> {
        self.index.get(key).copied()
    }

    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.defs.iter().map(|d| d.key.as_str())
    }

    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// The env files that existed and were read.
    pub fn files_read(&self) -> &[PathBuf] {
        &self.files_read
    }
}

/// Atomic replacement lives in [`crate::atomic`] (symlinks, modes); re-exported for callers.
pub use crate::atomic::write_atomic;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_layers_win_first_position_kept() {
        let a = Document::parse("/p/.env", "A=1\nB=2\n").unwrap();
        let b = Document::parse("/p/.env.local", "C=3\nA=9\n").unwrap();
        let m = Merged::from_documents(&[a, b]);
        assert_eq!(m.keys().collect::<Vec<_>>(), ["A", "B", "C"]);
        assert_eq!(m.get("A").unwrap().location.to_string(), "/p/.env.local:2:1");
    }
}
