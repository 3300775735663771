//! Random secret values from the OS CSPRNG, uniform over the charset (rejection sampling, no
//! modulo bias), and rotation: a new value with the old ones archived.

use secrecy::SecretString;

use crate::backend::Backend;
use crate::reference::{history_key, MAX_HISTORY};
use crate::{Error, Result};

pub(crate) const MIN_LENGTH: usize = 1;
pub(crate) const MAX_LENGTH: usize = 1024;
/// The names `--charset` accepts.
pub const CHARSETS: &[&str] = &["alphanumeric", "ascii", "hex", "base64"];

/// The characters of the charset `name`, or an error listing the valid names.
pub(crate) fn charset(name: &str) -> Result<&'static [u8]> {
    Ok(match name {
        "alphanumeric" => b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
        "ascii" => b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!@#$%^&*()-_=+[]{}|;:,.<>?",
        "hex" => b"0123456789abcdef",
        "base64" => b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
        other => return Err(Error::usage(format!("unknown charset {other:?}")).with_hint(format!("use one of: {}", CHARSETS.join(", ")))),
    })
}

/// Whether `length` is in the range `secret generate` accepts; the error gives the range.
pub fn check_length(length: usize) -> Result<()> {
    if (MIN_LENGTH..=MAX_LENGTH).contains(&length) {
        Ok(())
    } else {
        Err(Error::bounds(format!("length {length} is out of range"))
            .with_hint(format!("use a length from {MIN_LENGTH} to {MAX_LENGTH}")))
    }
}

/// A random value of `length` characters from the charset `charset_name`.
pub fn generate(length: usize, charset_name: &str) -> Result<SecretString> {
    check_length(length)?;
    let set = charset(charset_name)?;
    // Accept bytes below the largest multiple of the set size, so every symbol is equally likely.
    let zone = 256 - (256 % set.len());
    let mut out = String::with_capacity(length);
    let mut buf = [0u8; 256];
    while out.len() < length {
        getrandom::fill(&mut buf).map_err(|e| {
            Error::io_while(
                "the OS random generator failed",
                std::io::Error::other(e.to_string()),
            )
        })?;
        for &b in &buf {
            if (b as usize) < zone && out.len() < length {
                out.push(set[b as usize % set.len()] as char);
            }
        }
    }
    Ok(SecretString::from(out))
}

/// Replace the value of the stored key `key` with `new`, keeping the last `keep` old values as
/// `history_key(key, 1..=keep)` (1 newest) and deleting older ones. `Ok(false)`, with nothing
/// written, when `key` does not exist: rotating must not create a secret.
pub fn rotate(backend: &dyn Backend, key: &str, keep: u32, new: &SecretString) -> Result<bool> {
    if !backend.exists(key)? {
        return Ok(false);
    }
    // Shift the archive up by one (the oldest falls off), then archive the old value; copies,
    // so a vault needs no key to rotate.
    for n in (1..keep.min(MAX_HISTORY)).rev() {
        backend.copy(&history_key(key, n), &history_key(key, n + 1))?;
    }
    if keep > 0 {
        backend.copy(key, &history_key(key, 1))?;
    }
    let mut n = keep + 1;
    while n <= MAX_HISTORY && backend.delete(&history_key(key, n))? {
        n += 1;
    }
    backend.set(key, new)?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use crate::backend::Backend;
    use secrecy::ExposeSecret;

    #[test]
    fn lengths_and_charsets() {
        for cs in super::CHARSETS {
            let v = super::generate(100, cs).unwrap();
            assert_eq!(v.expose_secret().len(), 100);
            assert!(v
                .expose_secret()
                .bytes()
                .all(|b| super::charset(cs).unwrap().contains(&b)));
        }
        use crate::Error;
        assert!(matches!(
            super::generate(0, "hex"),
            Err(Error::Bounds { .. })
        ));
        assert!(matches!(
            super::generate(1025, "hex"),
            Err(Error::Bounds { .. })
        ));
        assert!(matches!(
            super::generate(5, "emoji"),
            Err(Error::Usage { .. })
        ));
    }

    #[test]
    fn roughly_uniform() {
        let mut counts = std::collections::HashMap::new();
        for _ in 0..62 {
            let v = super::generate(1000, "alphanumeric").unwrap();
            for c in v.expose_secret().chars() {
                *counts.entry(c).or_insert(0usize) += 1;
            }
        }
        assert_eq!(counts.len(), 62);
        assert!(
            counts.values().all(|&n| (700..1300).contains(&n)),
            "{counts:?}"
        );
    }

    #[test]
    fn rotate_archives_and_never_creates() {
        let m = crate::test_backend::Memory::default();
        let v = |s: &str| secrecy::SecretString::from(s.to_string());
        assert!(!super::rotate(&m, "app/k", 2, &v("new")).unwrap());
        assert!(m.entries().is_empty(), "rotate created a secret");
        m.set("app/k", &v("v0")).unwrap();
        for i in 1..=3 {
            assert!(super::rotate(&m, "app/k", 2, &v(&format!("v{i}"))).unwrap());
        }
        let got = m.entries();
        let want = [
            ("app/k", "v3"),
            ("app/k.__history.1", "v2"),
            ("app/k.__history.2", "v1"),
        ];
        assert_eq!(got, want.map(|(k, v)| (k.to_string(), v.to_string())));
        assert!(super::rotate(&m, "app/k", 0, &v("v4")).unwrap());
        assert_eq!(m.entries(), [("app/k".to_string(), "v4".to_string())]);
    }
}
