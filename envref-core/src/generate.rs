//! Random secret values from the OS CSPRNG, uniform over the charset (rejection sampling, no
//! modulo bias).

use secrecy::SecretString;

use crate::{Error, Result};

pub const MIN_LENGTH: usize = 1;
pub const MAX_LENGTH: usize = 1024;
pub const CHARSETS: &[&str] = &["alphanumeric", "ascii", "hex", "base64"];

pub fn charset(name: &str) -> Result<&'static [u8]> {
    Ok(match name {
        "alphanumeric" => b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
        "ascii" => b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!@#$%^&*()-_=+[]{}|;:,.<>?",
        "hex" => b"0123456789abcdef",
        "base64" => b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
        other => return Err(Error::new(format!("unknown charset {other:?}")).with_hint(format!("use one of: {}", CHARSETS.join(", ")))),
    })
}

pub fn check_length(length: usize) -> Result<()> {
    if (MIN_LENGTH..=MAX_LENGTH).contains(&length) {
        Ok(())
    } else {
        Err(Error::new(format!("length {length} is out of range")).with_hint(format!("use a length from {MIN_LENGTH} to {MAX_LENGTH}")))
    }
}

pub fn generate(length: usize, charset_name: &str) -> Result<SecretString> {
    check_length(length)?;
    let set = charset(charset_name)?;
    // Accept bytes below the largest multiple of the set size, so every symbol is equally likely.
    let zone = 256 - (256 % set.len());
    let mut out = String::with_capacity(length);
    let mut buf = [0u8; 256];
    while out.len() < length {
        getrandom::fill(&mut buf).map_err(|e| Error::new(format!("the OS random generator failed: {e}")))?;
        for &b in &buf {
            if (b as usize) < zone && out.len() < length {
                out.push(set[b as usize % set.len()] as char);
            }
        }
    }
    Ok(SecretString::from(out))
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    #[test]
    fn lengths_and_charsets() {
        for cs in super::CHARSETS {
            let v = super::generate(100, cs).unwrap();
            assert_eq!(v.expose_secret().len(), 100);
            assert!(v.expose_secret().bytes().all(|b| super::charset(cs).unwrap().contains(&b)));
        }
        assert!(super::generate(0, "hex").is_err());
        assert!(super::generate(1025, "hex").is_err());
        assert!(super::generate(5, "emoji").is_err());
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
        assert!(counts.values().all(|&n| (700..1300).contains(&n)), "{counts:?}");
    }
}
