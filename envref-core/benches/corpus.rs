//! The generated `.env` the parse benchmark and the `parse_lines` example share.

/// `lines` lines mixing comments, plain, interpolated, literal and reference values.
pub fn generate(lines: usize) -> String {
    let mut s = String::with_capacity(lines * 40);
    for i in 0..lines {
        match i % 5 {
            0 => s.push_str(&format!("# section {i}\n")),
            1 => s.push_str(&format!("KEY_{i}=plain-value-{i}\n")),
            2 => s.push_str(&format!("export QUOTED_{i}=\"double ${{KEY_{}}} and \\n escape\"\n", i - 1)),
            3 => s.push_str(&format!("SINGLE_{i}='literal $NOT {i}'\n")),
            _ => s.push_str(&format!("REF_{i}=ref://secrets/key_{i}\n")),
        }
    }
    s
}
