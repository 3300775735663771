//! Parse + interpolate generated `.env` files of 1k, 10k and 100k lines: the mixed corpus, a
//! forward and a reverse chain, and lines without `=` (parse and build the capped error
//! report). Every cost must grow linearly: compare the 10k and 100k times.
//! Peak memory of the real binary: `benches/bounds.py`.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use envref_core::dotenv::{parse_errors_to_error, Document};
use envref_core::evaluate::{evaluate, RefMode};
use envref_core::layers::Merged;

use envref_bench as corpus;

const SIZES: [usize; 3] = [1_000, 10_000, 100_000];

fn evaluate_group(c: &mut Criterion, name: &str, generate: fn(usize) -> String) {
    let mut group = c.benchmark_group(name);
    group.sample_size(10);
    for lines in SIZES {
        let text = generate(lines);
        group.throughput(Throughput::Elements(lines as u64));
        group.bench_with_input(BenchmarkId::from_parameter(lines), &text, |b, text| {
            b.iter(|| {
                let doc = Document::parse("bench.env", text.as_str()).expect("valid");
                let e = evaluate(&Merged::from_owned(vec![doc]), RefMode::Literal, false);
                assert!(e.failures.is_empty());
                e
            })
        });
    }
    group.finish();
}

fn bench(c: &mut Criterion) {
    evaluate_group(c, "parse_and_interpolate", corpus::generate);
    evaluate_group(c, "forward_chain", corpus::forward_chain);
    evaluate_group(c, "reverse_chain", corpus::reverse_chain);
    let mut group = c.benchmark_group("bad_lines_report");
    group.sample_size(10);
    for lines in SIZES {
        let text = corpus::bad_lines(lines);
        group.throughput(Throughput::Elements(lines as u64));
        group.bench_with_input(BenchmarkId::from_parameter(lines), &text, |b, text| {
            b.iter(|| {
                parse_errors_to_error(
                    Document::parse("bench.env", text.as_str()).expect_err("every line is bad"),
                )
                .to_string()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
