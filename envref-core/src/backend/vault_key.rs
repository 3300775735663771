//! The vault's X25519 key, prepared once: age's own identity derives the public key again for
//! every stanza it unwraps (a scalar multiplication, ~18% of a value's cost); this one keeps
//! it. The unwrap is age's X25519 recipient stanza (c2sp.org/age), with age's primitives.

use age_core::format::{FileKey, Stanza, FILE_KEY_BYTES};
use age_core::primitives::{aead_decrypt, hkdf};
use secrecy::{ExposeSecret, SecretString};
use x25519_dalek::{PublicKey, StaticSecret};

use super::base64::base64_decode;

const STANZA_TAG: &str = "X25519";
const KEY_LABEL: &[u8] = b"age-encryption.org/v1/X25519";
/// An encrypted file key: 16 bytes plus the 16-byte Poly1305 tag.
const WRAPPED_FILE_KEY_BYTES: usize = FILE_KEY_BYTES + 16;

/// A vault key: the age identity (for handing to the agent) and its prepared halves.
pub struct VaultKey {
    identity: age::x25519::Identity,
    secret: StaticSecret,
    public: PublicKey,
}

/// Shows the public key only.
impl std::fmt::Debug for VaultKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "VaultKey({})", self.recipient())
    }
}

impl VaultKey {
    /// Prepare `identity` once: its public half is derived here, not per value.
    pub fn new(identity: age::x25519::Identity) -> VaultKey {
        let text = identity.to_string();
        let secret = StaticSecret::from(secret_bytes(text.expose_secret()));
        let public = PublicKey::from(&secret);
        VaultKey {
            identity,
            secret,
            public,
        }
    }

    /// The vault's public key (`age1…`), as stored in the clear.
    pub fn recipient(&self) -> String {
        self.identity.to_public().to_string()
    }

    /// `AGE-SECRET-KEY-1…`, for the agent only.
    pub fn to_secret_text(&self) -> SecretString {
        self.identity.to_string()
    }

    /// Decrypt one binary age value encrypted to this key.
    pub fn decrypt(&self, ct: &[u8]) -> Result<zeroize::Zeroizing<Vec<u8>>, age::DecryptError> {
        crate::crypto::decrypt(std::iter::once(self as &dyn age::Identity), ct)
            .map(zeroize::Zeroizing::new)
    }
}

/// The 32 secret bytes of an `AGE-SECRET-KEY-1…` that age already parsed.
fn secret_bytes(text: &str) -> [u8; 32] {
    use bech32::FromBase32;
    let lower = zeroize::Zeroizing::new(text.to_ascii_lowercase());
    let (_, data, _) = bech32::decode(&lower).expect("age checked it");
    let bytes = zeroize::Zeroizing::new(Vec::<u8>::from_base32(&data).expect("age checked it"));
    bytes[..].try_into().expect("age checked the length")
}

impl age::Identity for VaultKey {
    fn unwrap_stanza(&self, stanza: &Stanza) -> Option<Result<FileKey, age::DecryptError>> {
        if stanza.tag != STANZA_TAG {
            return None;
        }
        let epk: [u8; 32] = match &stanza.args[..] {
            [arg] if arg.len() == 43 && !arg.contains('=') => {
                match base64_decode(arg).and_then(|b| b.try_into().ok()) {
                    Some(b) => b,
                    None => return Some(Err(age::DecryptError::InvalidHeader)),
                }
            }
            _ => return Some(Err(age::DecryptError::InvalidHeader)),
        };
        if stanza.body.len() != WRAPPED_FILE_KEY_BYTES {
            return Some(Err(age::DecryptError::InvalidHeader));
        }
        let epk = PublicKey::from(epk);
        let shared = self.secret.diffie_hellman(&epk);
        if !shared.was_contributory() {
            return Some(Err(age::DecryptError::InvalidHeader));
        }
        let mut salt = [0; 64];
        salt[..32].copy_from_slice(epk.as_bytes());
        salt[32..].copy_from_slice(self.public.as_bytes());
        let enc_key = zeroize::Zeroizing::new(hkdf(&salt, KEY_LABEL, shared.as_bytes()));
        // Not ours is not an error: another stanza may match.
        aead_decrypt(&enc_key, FILE_KEY_BYTES, &stanza.body)
            .ok()
            .map(|pt| {
                let pt = zeroize::Zeroizing::new(pt);
                Ok(FileKey::init_with_mut(|k| k.copy_from_slice(&pt)))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decrypts_what_age_encrypts_and_refuses_other_keys() {
        let id = age::x25519::Identity::generate();
        let key = VaultKey::new(id.clone());
        assert_eq!(key.recipient(), id.to_public().to_string());
        let ct = crate::crypto::encrypt(&id.to_public(), b"value").unwrap();
        assert_eq!(&key.decrypt(&ct).unwrap()[..], b"value");
        let other = VaultKey::new(age::x25519::Identity::generate());
        assert!(matches!(
            other.decrypt(&ct),
            Err(age::DecryptError::NoMatchingKeys)
        ));
    }
}
