//! A plugin's stdout, any bytes: decoding never panics, and an error is one short line.
#![no_main]

use envref_core::backend::plugin::{parse_response, Reply};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match parse_response(data) {
        Reply::Answer(r) => {
            let _ = (r.value.map(|v| v.len()), r.keys.map(|k| k.iter().filter(|k| k.starts_with("p/")).count()));
        }
        Reply::Error(line) => assert!(!line.contains('\n') && line.chars().count() <= 300, "error not cut to one line"),
        Reply::NotFound | Reply::Invalid(_) => {}
    }
});
