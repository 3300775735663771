//! `vault import`'s parser: any text gives entries that `secret set` would accept, or an
//! error that says what is wrong and how to fix it; never a panic.
#![no_main]

use envref_core::backend::vault::parse_export;
use envref_core::reference::{check_secret_value, check_stored_key};
use libfuzzer_sys::fuzz_target;
use secrecy::ExposeSecret;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match parse_export(text) {
        Ok(entries) => {
            for (k, v) in &entries {
                assert!(check_stored_key(k).is_ok(), "an invalid key was accepted");
                assert!(check_secret_value(v.expose_secret()).is_ok(), "an invalid value was accepted");
            }
        }
        Err(e) => {
            assert!(!e.message.is_empty() && e.hint.is_some(), "error without a hint: {}", e.message);
        }
    }
});
