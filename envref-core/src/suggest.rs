//! "Did you mean …?" for mistyped keys.

/// The candidate closest to `input` by Levenshtein distance over chars (ASCII case-insensitive),
/// if close enough.
pub fn closest<'a>(input: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let lower = input.to_ascii_lowercase();
    let len = input.chars().count();
    let limit = if len <= 3 { 1 } else { (len / 3).max(2) };
    candidates
        .into_iter()
        .map(|c| (strsim::levenshtein(&lower, &c.to_ascii_lowercase()), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, c)| (*d, c.len()))
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    #[test]
    fn closest() {
        assert_eq!(
            super::closest("API_KYE", ["API_KEY", "DB_HOST"]),
            Some("API_KEY")
        );
        assert_eq!(super::closest("ZZZ", ["API_KEY"]), None);
        assert_eq!(super::closest("api_key", ["API_KEY"]), Some("API_KEY"));
        // Ties go to the shorter candidate.
        assert_eq!(super::closest("KEY1", ["KEY12", "KEY"]), Some("KEY"));
        // Counted in chars: one edit here, two in bytes (over the limit of 1).
        assert_eq!(super::closest("ÉA", ["EA"]), Some("EA"));
    }
}
