//! age encryption, in one place: recipients (public keys), identities (secret keys), and
//! encrypting and decrypting to them. Used by the local vault, `sync`, `team` and
//! `secret share`.
//!
//! Recipient validation (`check_recipient`) is in every build: it checks the Bech32 encoding
//! and checksum, the `age` prefix and the key length, exactly as age's own parser does, so a
//! key `.envref.yaml` accepts without the `backends` feature is one age accepts with it. The
//! rest needs the `age` crate and is part of the `backends` feature.

use crate::{Error, Result};

/// The Bech32 prefix of an age X25519 public key (`age1…`).
const RECIPIENT_HRP: &str = "age";

fn not_a_recipient(why: &str) -> Error {
    Error::usage(format!("the recipient is not an age public key ({why})"))
        .with_hint("an age public key starts with age1; `age-keygen -y key.txt` prints one")
}

/// Check that `text` (surrounding whitespace ignored) is an age X25519 public key: Bech32
/// (not Bech32m) with a valid checksum, prefix `age`, 32 bytes of key. The same rules as
/// `age::x25519::Recipient::from_str`, without needing age.
pub(crate) fn check_recipient(text: &str) -> Result<()> {
    use bech32::{FromBase32, Variant};
    let text = text.trim();
    let (hrp, data, variant) = bech32::decode(text).map_err(|e| {
        not_a_recipient(&match e {
            bech32::Error::InvalidChecksum => "its checksum is wrong: a typo?".to_string(),
            bech32::Error::MixedCase => "it mixes upper and lower case".to_string(),
            other => format!("not Bech32: {other}"),
        })
    })?;
    if variant != Variant::Bech32 {
        return Err(not_a_recipient("Bech32m, not Bech32"));
    }
    if hrp != RECIPIENT_HRP {
        return Err(not_a_recipient(&format!("it starts with {hrp}1, not age1")));
    }
    let key = Vec::<u8>::from_base32(&data).map_err(|_| not_a_recipient("bad padding"))?;
    if key.len() != 32 {
        return Err(not_a_recipient(&format!(
            "{} bytes of key, not 32",
            key.len()
        )));
    }
    Ok(())
}

#[cfg(feature = "backends")]
pub use with_age::*;

#[cfg(feature = "backends")]
mod with_age {
    use std::io::{Read, Write};

    use secrecy::{ExposeSecret, SecretString};

    use crate::{Error, Result};

    /// An age X25519 public key (`age1…`), checked as in every build (Bech32, prefix, length).
    pub fn parse_recipient(text: &str) -> Result<age::x25519::Recipient> {
        super::check_recipient(text)?;
        text.trim()
            .parse()
            .map_err(|why: &str| super::not_a_recipient(why))
    }

    /// Encrypt `plain` to one recipient as ASCII armor (`secret share`).
    pub fn armor_for(recipient: &age::x25519::Recipient, plain: &SecretString) -> Result<String> {
        armor_to(
            std::slice::from_ref(recipient),
            plain.expose_secret().as_bytes(),
        )
    }

    /// Encrypt `plain` to every recipient (any one of them can decrypt) as ASCII armor.
    pub(crate) fn armor_to(recipients: &[age::x25519::Recipient], plain: &[u8]) -> Result<String> {
        use age::armor::{ArmoredWriter, Format};
        let fail = |e: &dyn std::fmt::Display| Error::crypto(format!("encryption failed: {e}"));
        let enc =
            age::Encryptor::with_recipients(recipients.iter().map(|r| r as &dyn age::Recipient))
                .map_err(|e| fail(&e))?;
        let mut out = Vec::new();
        let armor =
            ArmoredWriter::wrap_output(&mut out, Format::AsciiArmor).map_err(|e| fail(&e))?;
        let mut w = enc.wrap_output(armor).map_err(|e| fail(&e))?;
        w.write_all(plain).map_err(|e| fail(&e))?;
        w.finish().and_then(|a| a.finish()).map_err(|e| fail(&e))?;
        Ok(String::from_utf8(out).expect("armor is ASCII"))
    }

    /// Encrypt `plain` to one recipient of any type (X25519, scrypt) as binary age. The error
    /// is age's reason, for the caller to put in its own message.
    pub(crate) fn encrypt(
        recipient: &dyn age::Recipient,
        plain: &[u8],
    ) -> std::result::Result<Vec<u8>, String> {
        let enc = age::Encryptor::with_recipients(std::iter::once(recipient))
            .map_err(|e| e.to_string())?;
        let mut out = Vec::with_capacity(plain.len() + 256);
        let mut w = enc.wrap_output(&mut out).map_err(|e| e.to_string())?;
        w.write_all(plain).map_err(|e| e.to_string())?;
        w.finish().map_err(|e| e.to_string())?;
        Ok(out)
    }

    /// Decrypt an age file (ASCII-armored or binary) with any of `identities`, of any type.
    pub(crate) fn decrypt<'a>(
        identities: impl Iterator<Item = &'a dyn age::Identity>,
        data: &[u8],
    ) -> std::result::Result<Vec<u8>, age::DecryptError> {
        let dec = age::Decryptor::new_buffered(age::armor::ArmoredReader::new(data))?;
        let mut r = dec.decrypt(identities)?;
        let mut out = Vec::new();
        r.read_to_end(&mut out)?;
        Ok(out)
    }

    /// Decrypt an age file (ASCII-armored or binary) with any of `identities`.
    pub(crate) fn decrypt_with(
        identities: &[age::x25519::Identity],
        data: &[u8],
    ) -> std::result::Result<Vec<u8>, age::DecryptError> {
        decrypt(identities.iter().map(|i| i as &dyn age::Identity), data)
    }

    /// The X25519 identities of an age identity file (`age-keygen`'s format: `#` comments and
    /// `AGE-SECRET-KEY-1…` lines). The error never repeats the file's content.
    pub(crate) fn parse_identities(text: &str) -> Result<Vec<age::x25519::Identity>> {
        let mut out = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if line.starts_with("-----BEGIN AGE ENCRYPTED FILE")
                || line.starts_with("age-encryption.org/")
            {
                return Err(Error::parse(
                    "the identity file is itself encrypted with a passphrase",
                )
                .with_hint(
                    "decrypt it first (`age -d -o key.txt key.txt.age`) and pass the \
                             plain identity file",
                ));
            }
            let id: age::x25519::Identity = line.parse().map_err(|_| {
                Error::parse(format!(
                    "line {}: not an age identity (expected AGE-SECRET-KEY-1…)",
                    i + 1
                ))
                .with_hint("pass the file `age-keygen -o key.txt` wrote")
            })?;
            out.push(id);
        }
        if out.is_empty() {
            return Err(
                Error::parse("no AGE-SECRET-KEY-1… line in the identity file")
                    .with_hint("pass the file `age-keygen -o key.txt` wrote"),
            );
        }
        Ok(out)
    }

    /// An identity from decrypted bytes (the vault's unwrapped key): UTF-8 text holding one
    /// `AGE-SECRET-KEY-1…`. The error says which of the two it is not, never the bytes.
    pub(crate) fn identity_from_bytes(
        plain: Vec<u8>,
    ) -> std::result::Result<age::x25519::Identity, &'static str> {
        let text = SecretString::from(String::from_utf8(plain).map_err(|_| "is not UTF-8 text")?);
        text.expose_secret()
            .trim()
            .parse()
            .map_err(|_| "is not an age identity (AGE-SECRET-KEY-1…)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A key `age-keygen` printed.
    const KEY: &str = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p";

    #[test]
    fn recipients_are_checked_by_their_checksum() {
        check_recipient(KEY).unwrap();
        check_recipient(&format!("  {KEY}\n")).unwrap();
        check_recipient(&KEY.to_ascii_uppercase()).unwrap();
        let typo = KEY.replacen("ql3z", "ql3y", 1);
        let why = |t: &str| match check_recipient(t) {
            Err(e @ Error::Usage { .. }) => e.to_string(),
            other => panic!("{t}: {other:?}"),
        };
        assert!(why(&typo).contains("checksum"), "{}", why(&typo));
        // `starts_with("age1")` let these through.
        assert!(why("age1").contains("not Bech32"), "{}", why("age1"));
        assert!(why("age1xyz").contains("not Bech32"), "{}", why("age1xyz"));
        let short = bech32::encode(
            "age",
            bech32::ToBase32::to_base32(&[7u8; 31]),
            bech32::Variant::Bech32,
        )
        .unwrap();
        assert!(why(&short).contains("31 bytes"), "{}", why(&short));
        let m = bech32::encode(
            "age",
            bech32::ToBase32::to_base32(&[7u8; 32]),
            bech32::Variant::Bech32m,
        )
        .unwrap();
        assert!(why(&m).contains("Bech32m"), "{}", why(&m));
        let other = bech32::encode(
            "agf",
            bech32::ToBase32::to_base32(&[7u8; 32]),
            bech32::Variant::Bech32,
        )
        .unwrap();
        assert!(why(&other).contains("agf1"), "{}", why(&other));
        let mixed = format!("A{}", &KEY[1..]);
        assert!(why(&mixed).contains("case"), "{}", why(&mixed));
        assert!(check_recipient("AGE-SECRET-KEY-1QQQ").is_err());
    }

    /// With age present, what the shared check accepts is exactly what age parses.
    #[cfg(feature = "backends")]
    #[test]
    fn the_check_agrees_with_age() {
        let fresh = age::x25519::Identity::generate().to_public().to_string();
        let typo = KEY.replacen("ql3z", "ql3y", 1);
        let upper = KEY.to_ascii_uppercase();
        let samples = [
            KEY,
            fresh.as_str(),
            &upper,
            &typo,
            "age1",
            "age1qqqq",
            "",
            "ssh-ed25519 AAAA",
        ];
        for text in samples {
            let age_accepts = text.trim().parse::<age::x25519::Recipient>().is_ok();
            assert_eq!(check_recipient(text).is_ok(), age_accepts, "{text}");
            assert_eq!(parse_recipient(text).is_ok(), age_accepts, "{text}");
        }
    }

    #[cfg(feature = "backends")]
    #[test]
    fn armor_round_trip_and_identities() {
        use secrecy::SecretString;
        let id = age::x25519::Identity::generate();
        let text = format!(
            "# created: now\n{}\n",
            secrecy::ExposeSecret::expose_secret(&id.to_string())
        );
        let ids = parse_identities(&text).unwrap();
        let armored = armor_for(&id.to_public(), &SecretString::from("s3cret")).unwrap();
        assert!(armored.starts_with("-----BEGIN AGE ENCRYPTED FILE-----"));
        assert!(!armored.contains("s3cret"));
        assert_eq!(decrypt_with(&ids, armored.as_bytes()).unwrap(), b"s3cret");
        let other = age::x25519::Identity::generate();
        assert!(matches!(
            decrypt_with(&[other], armored.as_bytes()),
            Err(age::DecryptError::NoMatchingKeys)
        ));
        let e = parse_identities("# only a comment\nAGE-SECRET-KEY-1NOPE\n")
            .err()
            .unwrap();
        assert!(matches!(e, Error::Parse { .. }), "{e:?}");
        assert_eq!(
            e.to_string(),
            "line 2: not an age identity (expected AGE-SECRET-KEY-1…)"
        );
        assert!(parse_identities("# nothing\n").is_err());
    }

    #[cfg(feature = "backends")]
    #[test]
    fn an_identity_that_is_not_utf8_says_so() {
        let id = age::x25519::Identity::generate();
        let text = secrecy::ExposeSecret::expose_secret(&id.to_string()).to_string();
        assert!(identity_from_bytes(text.into_bytes()).is_ok());
        assert_eq!(
            identity_from_bytes(b"AGE-SECRET-KEY-1\xff\xfe".to_vec()).err(),
            Some("is not UTF-8 text")
        );
        assert_eq!(
            identity_from_bytes(b"AGE-SECRET-KEY-1QQQ".to_vec()).err(),
            Some("is not an age identity (AGE-SECRET-KEY-1…)")
        );
    }
}
