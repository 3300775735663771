//! Parse + interpolate a generated `.env` of 1k and 10k lines: the cost must grow linearly.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use envref_core::dotenv::Document;
use envref_core::evaluate::{evaluate, RefMode};
use envref_core::layers::Merged;

#[path = "corpus.rs"]
mod corpus;
use corpus::generate;

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse_and_interpolate");
    for lines in [1_000usize, 10_000, 100_000] {
        let text = generate(lines);
        group.throughput(Throughput::Elements(lines as u64));
        group.bench_with_input(BenchmarkId::from_parameter(lines), &text, |b, text| {
            b.iter(|| {
                let doc = Document::parse("bench.env", text.as_str()).expect("valid");
                let merged = Merged::from_documents(&[doc]);
                evaluate(&merged, RefMode::Literal, false)
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
