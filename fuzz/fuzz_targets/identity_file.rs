//! An age identity file (`ENVREF_VAULT_IDENTITY`, `--identity`): any text gives identities, or
//! an error with a hint that never quotes a key line (the file holds secret keys); never a panic.
#![no_main]

use envref_core::crypto::parse_identity_file;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match parse_identity_file(text) {
        Ok(file) => {
            assert!(!file.x25519.is_empty() || !file.plugins.is_empty());
            let _ = file.recipient();
        }
        Err(e) => {
            let shown = e.to_string();
            assert!(e.hint().is_some(), "error without a hint: {shown}");
            // A key line (longer than any prefix the messages name) is never quoted.
            let keys = text.lines().map(str::trim).filter(|l| l.starts_with("AGE-") && l.len() >= 24);
            for key in keys {
                assert!(!shown.contains(key), "the error quotes a key: {shown}");
            }
        }
    }
});
