//! The masker reads a child's output, so any bytes at all (issue 15). Whatever the secrets, the
//! data and how it is split into reads: streaming gives the same bytes as masking all at once,
//! no secret survives between markers, and data without a secret passes byte for byte. The
//! fuzz target fuzz/fuzz_targets/mask.rs checks the same on nightly.

use envref_core::mask::{mask_all, Masker, Secrets, MARKER, MIN_LENGTH};
use proptest::prelude::*;

/// Mask `data` fed in reads of the given sizes (cycled), each after an empty read.
fn streamed(secrets: &Secrets, data: &[u8], sizes: &[usize]) -> Vec<u8> {
    let (mut out, mut masker, mut rest) = (Vec::new(), Masker::new(secrets), data);
    for size in sizes.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let (read, next) = rest.split_at((*size).min(rest.len()));
        masker.feed(&[], &mut out);
        masker.feed(read, &mut out);
        rest = next;
    }
    masker.feed(rest, &mut out);
    masker.finish(&mut out);
    out
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// Secrets made of few letters, so they overlap, nest and share prefixes.
fn secret_values() -> impl Strategy<Value = Vec<Vec<u8>>> {
    prop::collection::vec(
        prop::collection::vec(prop::sample::select(b"abc<".to_vec()), MIN_LENGTH..12),
        1..4,
    )
}

/// Data made of the secrets' own letters and pieces of the secrets, with the marker text too.
fn data_with(secrets: &[Vec<u8>]) -> impl Strategy<Value = Vec<u8>> {
    let mut pieces: Vec<Vec<u8>> = vec![b"a".to_vec(), b"b".to_vec(), b"\n".to_vec()];
    pieces.push(MARKER.as_bytes().to_vec());
    for s in secrets {
        pieces.push(s.clone());
        pieces.push(s[..s.len() / 2].to_vec());
        pieces.push(s[s.len() / 2..].to_vec());
    }
    prop::collection::vec(prop::sample::select(pieces), 0..40).prop_map(|p| p.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn no_secret_survives_and_splits_do_not_matter(
        (values, data) in secret_values().prop_flat_map(|v| (Just(v.clone()), data_with(&v))),
        sizes in prop::collection::vec(1usize..9, 1..6),
    ) {
        let secrets = Secrets::new(values.iter().map(Vec::as_slice)).unwrap();
        let whole = mask_all(&secrets, &data);
        prop_assert_eq!(&streamed(&secrets, &data, &sizes), &whole);
        let text = String::from_utf8_lossy(&whole).into_owned();
        for piece in text.split(MARKER) {
            for v in &values {
                prop_assert!(!contains(piece.as_bytes(), v), "{:?} left in {:?}", String::from_utf8_lossy(v), text);
            }
        }
    }

    #[test]
    fn data_without_secrets_passes_byte_for_byte(
        values in prop::collection::vec("[a-zA-Z0-9 /+?@=]{6,20}", 1..4),
        data in prop::collection::vec(prop::sample::select(b"!#*\n\t\x00\xff\x1b[".to_vec()), 0..200),
        sizes in prop::collection::vec(1usize..9, 1..6),
    ) {
        // No form of these values (raw, base64, URL-encoded) can use the data's bytes.
        let secrets = Secrets::new(values.iter().map(|v| v.as_bytes())).unwrap();
        prop_assert_eq!(streamed(&secrets, &data, &sizes), data);
    }
}
