//! Values sealed and opened per second with the RSA-4096 test keys. Sealing costs one public-key
//! operation per value, opening one private-key operation per key tried.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use fjord_seal::{OsRng, PrivateKey, Scope};
use std::hint::black_box;
use std::path::Path;

fn key(name: &str) -> Vec<PrivateKey> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/vectors/keys")
        .join(name);
    fjord_seal::parse_private_keys(&std::fs::read(path).unwrap(), name).unwrap()
}

fn bench(c: &mut Criterion) {
    let new = key("key-new.key.pem");
    let old = key("key-old.key.pem");
    let public = new[0].public_key();
    let value = vec![0x5au8; 64];

    let mut g = c.benchmark_group("rsa4096");
    g.throughput(Throughput::Elements(1));
    g.bench_function("seal_value", |b| {
        b.iter(|| {
            fjord_seal::seal_raw(
                &mut OsRng,
                &public,
                black_box(&value),
                Scope::Strict,
                Some("ns"),
                Some("n"),
            )
            .unwrap()
        })
    });
    let sealed = fjord_seal::seal_raw(
        &mut OsRng,
        &public,
        &value,
        Scope::Strict,
        Some("ns"),
        Some("n"),
    )
    .unwrap();
    g.bench_function("open_value_first_key", |b| {
        b.iter(|| fjord_seal::open_value(&new, black_box(&sealed), "ns/n").unwrap())
    });
    // The ciphertext names no key, so with rotation the right key may be the last one tried.
    let both = vec![old[0].clone(), new[0].clone()];
    g.bench_function("open_value_second_key", |b| {
        b.iter(|| fjord_seal::open_value(&both, black_box(&sealed), "ns/n").unwrap())
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = bench
}
criterion_main!(benches);
