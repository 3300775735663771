//! Parse + interpolate a generated .env of N lines once (for instruction counting:
//! `valgrind --tool=callgrind target/release/examples/parse_lines 10000`).
use envref_core::dotenv::Document;
use envref_core::evaluate::{evaluate, RefMode};
use envref_core::layers::Merged;

fn main() {
    let lines: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(1000);
    let mut s = String::new();
    for i in 0..lines {
        match i % 5 {
            0 => s.push_str(&format!("# section {i}\n")),
            1 => s.push_str(&format!("KEY_{i}=plain-value-{i}\n")),
            2 => s.push_str(&format!("export QUOTED_{i}=\"double ${{KEY_{}}} and \\n escape\"\n", i - 1)),
            3 => s.push_str(&format!("SINGLE_{i}='literal $NOT {i}'\n")),
            _ => s.push_str(&format!("REF_{i}=ref://secrets/key_{i}\n")),
        }
    }
    let doc = Document::parse("b.env", s.as_str()).expect("valid");
    let e = evaluate(&Merged::from_documents(&[doc]), RefMode::Literal, false);
    println!("{} variables", e.vars.len());
}
