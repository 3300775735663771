//! An in-memory [`Backend`] for unit tests: a real implementation of the trait, no runner.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use secrecy::{ExposeSecret, SecretString};

use crate::backend::{Backend, BackendError, Lookup};

/// Keys and values in a map; counts writes so tests can check what was (not) written.
#[derive(Default)]
pub(crate) struct Memory {
    pub name: &'static str,
    pub map: Mutex<BTreeMap<String, String>>,
    pub writes: AtomicUsize,
}

impl Memory {
    pub fn named(name: &'static str) -> Self {
        Memory {
            name,
            ..Memory::default()
        }
    }

    pub fn with(self, key: &str, value: &str) -> Self {
        self.map.lock().unwrap().insert(key.into(), value.into());
        self
    }

    /// Every stored (key, value), sorted by key.
    pub fn entries(&self) -> Vec<(String, String)> {
        self.map.lock().unwrap().clone().into_iter().collect()
    }

    pub fn writes(&self) -> usize {
        self.writes.load(Ordering::SeqCst)
    }
}

impl Backend for Memory {
    fn name(&self) -> &str {
        if self.name.is_empty() {
            "memory"
        } else {
            self.name
        }
    }
    fn kind(&self) -> &'static str {
        "memory"
    }
    fn get(&self, key: &str) -> Lookup {
        Ok(self
            .map
            .lock()
            .unwrap()
            .get(key)
            .map(|v| SecretString::from(v.clone())))
    }
    fn set(&self, key: &str, value: &SecretString) -> Result<(), BackendError> {
        self.writes.fetch_add(1, Ordering::SeqCst);
        self.map
            .lock()
            .unwrap()
            .insert(key.into(), value.expose_secret().into());
        Ok(())
    }
    fn delete(&self, key: &str) -> Result<bool, BackendError> {
        Ok(self.map.lock().unwrap().remove(key).is_some())
    }
    fn list(&self, prefix: &str) -> Result<Vec<String>, BackendError> {
        let map = self.map.lock().unwrap();
        Ok(map
            .keys()
            .filter(|k| k.starts_with(prefix))
            .cloned()
            .collect())
    }
}
