//! The generated `.env` files the parse benchmark (`cargo bench -p envref-bench`) and the
//! `parse_lines` program share.

/// `lines` lines mixing comments, plain, interpolated, literal and reference values.
pub fn generate(lines: usize) -> String {
    let mut s = String::with_capacity(lines * 40);
    for i in 0..lines {
        match i % 5 {
            0 => s.push_str(&format!("# section {i}\n")),
            1 => s.push_str(&format!("KEY_{i}=plain-value-{i}\n")),
            2 => s.push_str(&format!(
                "export QUOTED_{i}=\"double ${{KEY_{}}} and \\n escape\"\n",
                i - 1
            )),
            3 => s.push_str(&format!("SINGLE_{i}='literal $NOT {i}'\n")),
            _ => s.push_str(&format!("REF_{i}=ref://secrets/key_{i}\n")),
        }
    }
    s
}

/// `C_i=${C_(i+1)}`: each key uses the one defined after it (evaluation goes `lines` deep).
pub fn forward_chain(lines: usize) -> String {
    let mut s: String = (0..lines - 1)
        .map(|i| format!("C_{i}=${{C_{}}}\n", i + 1))
        .collect();
    s.push_str(&format!("C_{}=end\n", lines - 1));
    s
}

/// `C_i=${C_(i-1)}`: each key uses the one defined before it.
pub fn reverse_chain(lines: usize) -> String {
    let mut s = String::from("C_0=start\n");
    s.extend((1..lines).map(|i| format!("C_{i}=${{C_{}}}\n", i - 1)));
    s
}

/// Lines without `=`: every line is a parse error.
pub fn bad_lines(lines: usize) -> String {
    (0..lines).map(|i| format!("token{i}\n")).collect()
}
