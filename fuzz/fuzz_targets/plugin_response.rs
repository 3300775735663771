//! A plugin's stdout, any bytes, read as the answer to one request and as the answer to a
//! `get_many` batch: decoding never panics, and an error is one short line.
#![no_main]

use envref_core::backend::plugin::{parse_batch_response, parse_response, BatchReply, Reply};
use libfuzzer_sys::fuzz_target;

fn check(reply: Reply) {
    match reply {
        Reply::Answer(r) => {
            let _ = (r.value.map(|v| v.len()), r.keys.map(|k| k.iter().filter(|k| k.starts_with("p/")).count()));
        }
        Reply::Error(line) => assert!(!line.contains('\n') && line.chars().count() <= 300, "error not cut to one line"),
        Reply::NotFound | Reply::Invalid(_) => {}
    }
}

fuzz_target!(|data: &[u8]| {
    check(parse_response(data));
    match parse_batch_response(data) {
        BatchReply::Results(results) => results.into_values().for_each(check),
        BatchReply::All(reply) => {
            assert!(matches!(reply, Reply::NotFound | Reply::Error(_)), "a whole-batch reply is an error");
            check(reply)
        }
        BatchReply::NotBatch | BatchReply::Invalid(_) => {}
    }
});
