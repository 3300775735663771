//! Parse + interpolate a generated .env of N lines once (for instruction counting:
//! `valgrind --tool=callgrind target/release/parse_lines 10000 [mixed|forward|reverse|bad]`).
use envref_core::dotenv::{parse_errors_to_error, Document};
use envref_core::evaluate::{evaluate, RefMode};
use envref_core::layers::Merged;

use envref_bench as corpus;

fn main() {
    let lines: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1000);
    let shape = std::env::args().nth(2).unwrap_or_else(|| "mixed".into());
    let s = match shape.as_str() {
        "forward" => corpus::forward_chain(lines),
        "reverse" => corpus::reverse_chain(lines),
        "bad" => corpus::bad_lines(lines),
        _ => corpus::generate(lines),
    };
    match Document::parse("b.env", s.as_str()) {
        Ok(doc) => {
            let e = evaluate(&Merged::from_owned(vec![doc]), RefMode::Literal, false);
            println!("{} variables, {} failures", e.vars.len(), e.failures.len());
        }
        Err(errors) => println!(
            "{} bytes of report",
            parse_errors_to_error(errors).to_string().len()
        ),
    }
}
