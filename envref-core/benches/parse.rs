//! Parse + interpolate a generated `.env` of 1k and 10k lines: the cost must grow linearly.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use envref_core::dotenv::Document;
use envref_core::evaluate::{evaluate, RefMode};
use envref_core::layers::Merged;

fn generate(lines: usize) -> String {
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
