//! The masker reads a child's output: any bytes, split into reads anywhere. The input is
//! `secret;secret;…\0data`, the first byte of the data choosing the read size. Checks: the
//! streamed result equals masking all at once, no secret is left between markers, and data
//! in which no secret occurs (in any masked form) passes through unchanged.
#![no_main]

use envref_core::mask::{mask_all, Masker, Secrets, MARKER};
use libfuzzer_sys::fuzz_target;

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || hay.windows(needle.len()).any(|w| w == needle)
}

fuzz_target!(|input: &[u8]| {
    let Some(split) = input.iter().position(|b| *b == 0) else { return };
    let (head, data) = (&input[..split], &input[split + 1..]);
    let values: Vec<&[u8]> = head.split(|b| *b == b';').collect();
    let Some(secrets) = Secrets::new(values.iter().copied()) else { return };
    let size = usize::from(data.first().copied().unwrap_or(1)).max(1);

    let whole = mask_all(&secrets, data);
    let mut streamed = Vec::new();
    let mut masker = Masker::new(&secrets);
    for read in data.chunks(size) {
        masker.feed(read, &mut streamed);
    }
    masker.finish(&mut streamed);
    assert_eq!(streamed, whole, "splitting into reads changed the result");

    let masked = values.iter().filter(|v| v.len() >= envref_core::mask::MIN_LENGTH);
    for value in masked {
        let mut rest = whole.as_slice();
        while !rest.is_empty() {
            let end = (0..rest.len())
                .find(|&i| rest[i..].starts_with(MARKER.as_bytes()))
                .unwrap_or(rest.len());
            assert!(!contains(&rest[..end], value), "a secret survived masking");
            rest = rest.get(end + MARKER.len()..).unwrap_or(&[]);
        }
    }
    if !contains(&whole, MARKER.as_bytes()) && !contains(data, MARKER.as_bytes()) {
        assert_eq!(whole, data, "output without a secret changed");
    }
});
