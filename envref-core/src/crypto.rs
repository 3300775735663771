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
    if let Some(plugin) = hrp.strip_prefix("age1").filter(|p| !p.is_empty()) {
        return Err(not_a_recipient(&format!(
            "a key of the age plugin {plugin}; only `envref vault add-recipient` takes those"
        )));
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
        // Sized up front (the plaintext is shorter than the file): growing would leave copies
        // of it in freed memory.
        let mut out = Vec::with_capacity(data.len());
        r.read_to_end(&mut out)?;
        Ok(out)
    }

    /// A public key the vault's key can be wrapped to (`vault init --identity`,
    /// `vault add-recipient`): an age X25519 key, or an age plugin's (`age1<name>1…`, as
    /// age-plugin-yubikey prints), which runs `age-plugin-<name>` from PATH to wrap and unwrap.
    #[derive(Clone)]
    pub enum VaultRecipient {
        /// `age1…`, from `age-keygen`.
        X25519(age::x25519::Recipient),
        /// `age1<name>1…`, from `age-plugin-<name>`.
        Plugin(age::plugin::Recipient),
    }

    /// Shows the public key (nothing secret in it).
    impl std::fmt::Debug for VaultRecipient {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "VaultRecipient({self})")
        }
    }

    impl std::fmt::Display for VaultRecipient {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            match self {
                VaultRecipient::X25519(r) => r.fmt(f),
                VaultRecipient::Plugin(r) => r.fmt(f),
            }
        }
    }

    impl VaultRecipient {
        /// An age X25519 public key or a plugin's (`age1<name>1…`).
        pub fn parse(text: &str) -> Result<VaultRecipient> {
            match text.trim().parse::<age::plugin::Recipient>() {
                Ok(r) => Ok(VaultRecipient::Plugin(r)),
                Err(_) => parse_recipient(text).map(VaultRecipient::X25519),
            }
        }

        /// Encrypt `plain` to this key as binary age (a plugin's program runs here, and may ask
        /// on the terminal, e.g. for a PIN). The error is age's reason.
        pub(crate) fn encrypt(&self, plain: &[u8]) -> std::result::Result<Vec<u8>, String> {
            match self {
                VaultRecipient::X25519(r) => encrypt(r, plain),
                VaultRecipient::Plugin(r) => {
                    let plugin = age::plugin::RecipientPluginV1::new(
                        r.plugin(),
                        std::slice::from_ref(r),
                        &[],
                        PluginPrompts::default(),
                    )
                    .map_err(|e| e.to_string())?;
                    encrypt(&plugin, plain)
                }
            }
        }
    }

    /// What an age plugin may ask while it runs: its messages ("touch your key") go to stderr;
    /// a secret (a PIN) goes to the person through the passphrase provider's
    /// [`ask_person`](crate::backend::passphrase::PassphraseProvider::ask_person), never from
    /// the environment; other questions get no answer, and the plugin fails with its own error.
    #[derive(Clone, Default)]
    pub(crate) struct PluginPrompts(pub(crate) crate::backend::passphrase::PassphraseSource);

    /// A plugin's text as it may reach the terminal: no control characters (escape sequences)
    /// but line breaks.
    fn printable(text: &str) -> String {
        text.chars()
            .filter(|c| !c.is_control() || *c == '\n')
            .collect()
    }

    impl age::Callbacks for PluginPrompts {
        fn display_message(&self, message: &str) {
            eprintln!("age plugin: {}", printable(message));
        }

        fn confirm(&self, _message: &str, _yes: &str, _no: Option<&str>) -> Option<bool> {
            None
        }

        fn request_public_string(&self, _description: &str) -> Option<String> {
            None
        }

        fn request_passphrase(&self, description: &str) -> Option<SecretString> {
            self.0.ask_person(&format!("{} ", printable(description)))
        }
    }

    /// The keys of an age identity file: X25519 ones (`AGE-SECRET-KEY-1…`) and plugin ones
    /// (`AGE-PLUGIN-<NAME>-1…`), with the plugin recipient its comments name
    /// (`# recipient: age1<name>1…`, as plugins print it).
    pub struct IdentityFile {
        /// `AGE-SECRET-KEY-1…` lines.
        pub x25519: Vec<age::x25519::Identity>,
        /// `AGE-PLUGIN-<NAME>-1…` lines.
        pub plugins: Vec<age::plugin::Identity>,
        /// A `recipient: age1<name>1…` comment.
        pub plugin_recipient: Option<age::plugin::Recipient>,
    }

    impl IdentityFile {
        /// Its X25519 identities; an error when it holds plugin ones, which only the vault
        /// takes (`sync` and `share` need the key itself).
        pub fn x25519_only(self) -> Result<Vec<age::x25519::Identity>> {
            if !self.plugins.is_empty() {
                return Err(Error::parse(
                    "plugin identities (AGE-PLUGIN-…) unlock only the vault here",
                )
                .with_hint("pass an `age-keygen` identity file"));
            }
            Ok(self.x25519)
        }

        /// The public key the vault's key is wrapped to for this file: its X25519 key's, else
        /// the plugin recipient its comment names.
        pub fn recipient(&self) -> Result<VaultRecipient> {
            if let Some(id) = self.x25519.first() {
                return Ok(VaultRecipient::X25519(id.to_public()));
            }
            self.plugin_recipient.clone().map(VaultRecipient::Plugin).ok_or_else(|| {
                Error::parse("the identity file holds a plugin identity but no `# recipient: age1…` line")
                    .with_hint("make a vault with a passphrase, then `envref vault add-recipient <age1…>` with the plugin's recipient")
            })
        }
    }

    /// Decrypt an age file (ASCII-armored or binary) with any of `identities`.
    pub(crate) fn decrypt_with(
        identities: &[age::x25519::Identity],
        data: &[u8],
    ) -> std::result::Result<Vec<u8>, age::DecryptError> {
        decrypt(identities.iter().map(|i| i as &dyn age::Identity), data)
    }

    /// An age identity file's keys (X25519 and plugin ones); errors never quote the file.
    pub fn read_identity_file(path: &std::path::Path) -> Result<IdentityFile> {
        let text =
            SecretString::from(std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?);
        parse_identity_file(text.expose_secret()).map_err(|e| e.context(path.display()))
    }

    /// An age identity file: `#` comments, `AGE-SECRET-KEY-1…` and `AGE-PLUGIN-<NAME>-1…`
    /// lines. The error never repeats the file's content.
    pub fn parse_identity_file(text: &str) -> Result<IdentityFile> {
        let mut file = IdentityFile {
            x25519: Vec::new(),
            plugins: Vec::new(),
            plugin_recipient: None,
        };
        for (i, line) in text.lines().enumerate() {
            let (line, number) = (line.trim(), i + 1);
            if let Some(comment) = line.strip_prefix('#') {
                if file.plugin_recipient.is_none() {
                    file.plugin_recipient = recipient_comment(comment);
                }
            } else if line.starts_with("AGE-PLUGIN-") {
                file.plugins.push(line.parse().map_err(|why: &str| {
                    Error::parse(format!("line {number}: not an age plugin identity ({why})"))
                        .with_hint("pass the identity file the plugin wrote, unchanged")
                })?);
            } else if !line.is_empty() {
                file.x25519.push(x25519_line(line, number)?);
            }
        }
        if file.x25519.is_empty() && file.plugins.is_empty() {
            return Err(
                Error::parse("no AGE-SECRET-KEY-1… line in the identity file")
                    .with_hint("pass the file `age-keygen -o key.txt` wrote"),
            );
        }
        Ok(file)
    }

    /// The plugin recipient a `# recipient: age1<name>1…` comment names (plugins print one).
    fn recipient_comment(comment: &str) -> Option<age::plugin::Recipient> {
        let (key, value) = comment.trim().split_once(':')?;
        key.trim()
            .eq_ignore_ascii_case("recipient")
            .then(|| value.trim().parse().ok())
            .flatten()
    }

    /// One `AGE-SECRET-KEY-1…` line (line `number`); the error never repeats it.
    fn x25519_line(line: &str, number: usize) -> Result<age::x25519::Identity> {
        if line.starts_with("-----BEGIN AGE ENCRYPTED FILE")
            || line.starts_with("age-encryption.org/")
        {
            return Err(
                Error::parse("the identity file is itself encrypted with a passphrase").with_hint(
                    "decrypt it first (`age -d -o key.txt key.txt.age`) and pass the plain \
                     identity file",
                ),
            );
        }
        line.parse().map_err(|_| {
            Error::parse(format!(
                "line {number}: not an age identity (expected AGE-SECRET-KEY-1…)"
            ))
            .with_hint("pass the file `age-keygen -o key.txt` wrote")
        })
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

    #[cfg(feature = "backends")]
    fn x25519_identities(text: &str) -> Result<Vec<age::x25519::Identity>> {
        parse_identity_file(text)?.x25519_only()
    }

    #[cfg(feature = "backends")]
    #[test]
    fn identity_files_hold_plugin_identities_and_name_their_recipient() {
        let plugin_id = age::plugin::Identity::default_for_plugin("yubikey").to_string();
        let recipient = bech32::encode(
            "age1yubikey",
            bech32::ToBase32::to_base32(&[1u8; 32]),
            bech32::Variant::Bech32,
        )
        .unwrap();
        let text = format!("#  Recipient: {recipient}\n{plugin_id}\n");
        let file = parse_identity_file(&text).unwrap();
        assert_eq!(file.plugins.len(), 1);
        assert_eq!(file.plugins[0].plugin(), "yubikey");
        assert!(file.x25519.is_empty());
        assert_eq!(file.recipient().unwrap().to_string(), recipient);
        let why = parse_identity_file(&text)
            .unwrap()
            .x25519_only()
            .err()
            .unwrap();
        assert!(why.to_string().contains("unlock only the vault"), "{why}");
        // No recipient comment: the fix names add-recipient.
        let bare = parse_identity_file(&format!("{plugin_id}\n")).unwrap();
        let why = bare.recipient().unwrap_err();
        assert!(
            why.hint().unwrap_or_default().contains("add-recipient"),
            "{why:?}"
        );
        // A plugin's key is not an X25519 one, and says so.
        let why = check_recipient(&recipient).unwrap_err().to_string();
        assert!(why.contains("a key of the age plugin yubikey"), "{why}");
        assert!(matches!(
            VaultRecipient::parse(&recipient),
            Ok(VaultRecipient::Plugin(_))
        ));
    }

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
        let ids = x25519_identities(&text).unwrap();
        let armored = armor_for(&id.to_public(), &SecretString::from("s3cret")).unwrap();
        assert!(armored.starts_with("-----BEGIN AGE ENCRYPTED FILE-----"));
        assert!(!armored.contains("s3cret"));
        assert_eq!(decrypt_with(&ids, armored.as_bytes()).unwrap(), b"s3cret");
        let other = age::x25519::Identity::generate();
        assert!(matches!(
            decrypt_with(&[other], armored.as_bytes()),
            Err(age::DecryptError::NoMatchingKeys)
        ));
        let e = x25519_identities("# only a comment\nAGE-SECRET-KEY-1NOPE\n")
            .err()
            .unwrap();
        assert!(matches!(e, Error::Parse { .. }), "{e:?}");
        assert_eq!(
            e.to_string(),
            "line 2: not an age identity (expected AGE-SECRET-KEY-1…)"
        );
        assert!(x25519_identities("# nothing\n").is_err());
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
