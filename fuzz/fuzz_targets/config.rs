//! `.envref.yaml`: any text loads and validates to a configuration, or to an error naming the
//! file; every accessor of a loaded configuration works. Never a panic.
#![no_main]

use std::path::Path;

use envref_core::config::{parse_config, Config};
use libfuzzer_sys::fuzz_target;

const FILE: &str = "/nonexistent-envref-fuzz/.envref.yaml";

fuzz_target!(|data: &[u8]| {
    // No global defaults file: the input alone is the configuration.
    std::env::set_var("ENVREF_CONFIG_DIR", "/nonexistent-envref-fuzz/global");
    std::env::remove_var("ENVREF_PROFILE");
    let Ok(text) = std::str::from_utf8(data) else { return };
    let file = Path::new(FILE);
    let raw = parse_config(file, text);
    match Config::load_text(file, text) {
        Ok(config) => {
            assert!(raw.is_ok(), "validation passed what parsing refused");
            let _ = format!("{config:?}");
            if let Ok(profile) = config.select_profile(None) {
                let _ = config.layer_paths(profile.as_deref()).all();
            }
            for name in config.profiles.keys() {
                let _ = config.profile_file(name);
            }
            for b in &config.backends {
                let _ = (b.timeout(), b.display_options(), config.require_backend(&b.name).is_ok());
            }
        }
        Err(e) => assert!(e.message.starts_with(FILE) && e.hint.is_some(), "error without file or hint: {}", e.message),
    }
});
