//! The layered environment: `env_file` ← profile file ← `local_file`. Later layers override
//! keys; a key keeps the position of its first definition. The base file is required.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::dotenv::{Document, Location, Quote, Value};
use crate::template::Text;
use crate::{Error, Result};

/// The files one run reads, in override order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerPaths {
    /// The base env file (`env_file`); required.
    pub base: PathBuf,
    /// The profile's env file, when a profile is in effect; optional.
    pub profile: Option<PathBuf>,
    /// The machine-local file (`local_file`); optional.
    pub local: PathBuf,
}

impl LayerPaths {
    /// The files in override order, the profile file only when there is one.
    pub fn all(&self) -> Vec<&Path> {
        let mut v = vec![self.base.as_path()];
        if let Some(p) = &self.profile {
            v.push(p);
        }
        v.push(&self.local);
        v
    }
}

/// A variable name. Short names (up to 22 bytes) are stored in place, so most keys need no
/// allocation, neither in a definition nor in each evaluated variable that copies it.
#[derive(Clone, PartialEq, Eq)]
pub struct Key(Text);

impl std::ops::Deref for Key {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl<T: Into<Text>> From<T> for Key {
    fn from(s: T) -> Key {
        Key(s.into())
    }
}

impl PartialOrd for Key {
    fn partial_cmp(&self, other: &Key) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Key {
    fn cmp(&self, other: &Key) -> std::cmp::Ordering {
        (**self).cmp(&**other)
    }
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&**self, f)
    }
}

impl std::fmt::Display for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self)
    }
}

/// One variable of the merged environment, as written in the layer that wins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Definition {
    /// The variable name.
    pub key: Key,
    /// The value, parsed.
    pub value: Value,
    /// How the value was quoted.
    pub quote: Quote,
    /// Where the winning definition is (`path:line:col` of the key).
    pub location: Location,
}

/// The merged environment: one definition per key, in first-definition order.
#[derive(Debug, Clone, Default)]
pub struct Merged {
    defs: Vec<Definition>,
    /// Positions in `defs`, sorted by key: 4 bytes per key, where a map would copy each key.
    by_key: Vec<u32>,
    warnings: Vec<String>,
}

impl Merged {
    /// Load and merge the layers. Missing optional layers are skipped.
    pub fn load(paths: &LayerPaths) -> Result<Merged> {
        if !paths.base.exists() {
            return Err(
                Error::not_found(format!("{}: env file not found", paths.base.display()))
                    .with_hint(
                        "create it (`envref init` writes one) or set `env_file` in .envref.yaml",
                    ),
            );
        }
        let mut docs = vec![Document::load(&paths.base)?];
        for p in paths.profile.iter().chain(std::iter::once(&paths.local)) {
            if p.exists() {
                docs.push(Document::load(p)?);
            }
        }
        Ok(Merged::from_owned(docs))
    }

    /// Merge parsed documents, given in override order.
    pub fn from_documents(docs: &[Document]) -> Merged {
        Merged::from_owned(docs.to_vec())
    }

    /// Merge, moving the definitions: the documents' text and entries are not kept twice.
    pub fn from_owned(docs: Vec<Document>) -> Merged {
        let mut m = Merged::default();
        for doc in docs {
            let (path, entries, warnings) = doc.into_entries();
            let shared: Arc<Path> = path.as_path().into();
            m.warnings.extend(warnings);
            // Collected in place: the entries' buffer becomes the definitions' one.
            let defs: Vec<Definition> = entries
                .into_iter()
                .map(|e| Definition {
                    value: e.value,
                    quote: e.quote,
                    location: Location {
                        path: shared.clone(),
                        pos: e.pos,
                    },
                    key: e.key.into(),
                })
                .collect();
            if m.defs.is_empty() {
                m.defs = defs;
            } else {
                m.defs.extend(defs);
            }
        }
        // Equal keys, in definition order: the first keeps its place and takes the last one's
        // definition (later layers and lines win); the others go.
        let order = sorted_by_key(&m.defs);
        let mut keep = vec![true; m.defs.len()];
        let mut swaps = Vec::new();
        for run in order.chunk_by(|&a, &b| m.defs[a as usize].key == m.defs[b as usize].key) {
            if let &[first, .., last] = run {
                swaps.push((first as usize, last as usize));
                run[1..].iter().for_each(|&i| keep[i as usize] = false);
            }
        }
        swaps
            .into_iter()
            .for_each(|(first, last)| m.defs.swap(first, last));
        let mut keep = keep.into_iter();
        m.defs.retain(|_| keep.next().unwrap_or(true));
        // The buffer was sized for the parser's larger entries.
        m.defs.shrink_to_fit();
        m.by_key = sorted_by_key(&m.defs);
        m
    }

    /// Every definition, in order.
    pub fn definitions(&self) -> &[Definition] {
        &self.defs
    }

    /// Every definition, to change values in place (keys and order stay).
    pub(crate) fn definitions_mut(&mut self) -> &mut [Definition] {
        &mut self.defs
    }

    /// The definition of `key`.
    pub fn get(&self, key: &str) -> Option<&Definition> {
        self.index_of(key).map(|i| &self.defs[i])
    }

    /// The position of `key` in [`Merged::definitions`].
    pub(crate) fn index_of(&self, key: &str) -> Option<usize> {
        let found = self
            .by_key
            .binary_search_by(|&i| (*self.defs[i as usize].key).cmp(key));
        found.ok().map(|at| self.by_key[at] as usize)
    }

    /// Every key, in order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.defs.iter().map(|d| &*d.key)
    }

    /// Warnings from the layers' files (duplicate keys).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }
}

/// Positions of `defs` sorted by key; equal keys stay in definition order.
fn sorted_by_key(defs: &[Definition]) -> Vec<u32> {
    let mut order: Vec<u32> = (0..defs.len() as u32).collect();
    order.sort_by(|&a, &b| defs[a as usize].key.cmp(&defs[b as usize].key));
    order
}

/// Atomic replacement lives in [`crate::atomic`] (symlinks, modes); re-exported for callers.
pub(crate) use crate::atomic::write_atomic;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_layers_win_first_position_kept() {
        let a = Document::parse("/p/.env", "A=1\nB=2\n").unwrap();
        let b = Document::parse("/p/.env.local", "C=3\nA=9\n").unwrap();
        let m = Merged::from_documents(&[a, b]);
        assert_eq!(m.keys().collect::<Vec<_>>(), ["A", "B", "C"]);
        assert_eq!(
            m.get("A").unwrap().location.to_string(),
            "/p/.env.local:2:1"
        );
        assert_eq!(m.get("B").unwrap().location.to_string(), "/p/.env:2:1");
        assert!(m.get("D").is_none());
        let dup =
            Merged::from_documents(&[
                Document::parse("/p/.env", "X=1\nY=2\nX=3\nX=4\nZ=5\n").unwrap()
            ]);
        let got: Vec<String> = dup
            .definitions()
            .iter()
            .map(|d| format!("{}@{}", d.key, d.location.pos))
            .collect();
        assert_eq!(got, ["X@4:1", "Y@2:1", "Z@5:1"]);
    }

    /// A key prints like the `str` it holds: widths and alignment apply (`--format table`).
    #[test]
    fn key_formats_like_str() {
        for s in ["K", "A_KEY_LONGER_THAN_INLINE_TEXT"] {
            let k = Key::from(s);
            assert_eq!(
                format!("[{k:>30}|{k:<3}|{k:?}]"),
                format!("[{s:>30}|{s:<3}|{s:?}]")
            );
        }
    }
}
