//! Parse + interpolate a generated .env of N lines once (for instruction counting:
//! `valgrind --tool=callgrind target/release/examples/parse_lines 10000`).
use envref_core::dotenv::Document;
use envref_core::evaluate::{evaluate, RefMode};
use envref_core::layers::Merged;

#[path = "../benches/corpus.rs"]
mod corpus;

fn main() {
    let lines: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(1000);
    let s = corpus::generate(lines);
    let doc = Document::parse("b.env", s.as_str()).expect("valid");
    let e = evaluate(&Merged::from_documents(&[doc]), RefMode::Literal, false);
    println!("{} variables", e.vars.len());
}
