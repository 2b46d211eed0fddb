//! Render time of a generated overlay: N apps (a Deployment and a Service
//! each) under three layers using prefixes, suffixes, labels, images, a
//! strategic-merge patch, a JSON patch, a generator and a namespace.

use std::fmt::Write as _;
use std::path::Path;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

fn write(p: &Path, s: &str) {
    if let Some(d) = p.parent() {
        std::fs::create_dir_all(d).expect("create bench dir");
    }
    std::fs::write(p, s).expect("write bench file");
}

fn generate(root: &Path, n: usize) {
    let mut k = String::from("resources:\n");
    for i in 0..n {
        writeln!(k, "- app{i}.yaml").ok();
        write(
            &root.join(format!("base/app{i}.yaml")),
            &format!(
                "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app{i}\nspec:\n  selector:\n    matchLabels:\n      app: app{i}\n  template:\n    metadata:\n      labels:\n        app: app{i}\n    spec:\n      containers:\n      - name: main\n        image: registry.example/app:1.0.0\n        envFrom:\n        - configMapRef:\n            name: shared-config\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: app{i}\nspec:\n  selector:\n    app: app{i}\n  ports:\n  - port: 80\n"
            ),
        );
    }
    write(&root.join("base/kustomization.yaml"), &k);
    write(
        &root.join("l1/kustomization.yaml"),
        "resources: [../base]\nnamePrefix: team-\ncommonLabels: {team: payments}\nconfigMapGenerator:\n- name: shared-config\n  literals: [LOG_LEVEL=info]\n",
    );
    write(
        &root.join("l2/kustomization.yaml"),
        "resources: [../l1]\nnameSuffix: -v2\nimages:\n- name: registry.example/app\n  newTag: 2.4.1\npatches:\n- target: {kind: Deployment}\n  patch: |-\n    apiVersion: apps/v1\n    kind: Deployment\n    metadata: {name: any}\n    spec:\n      template:\n        spec:\n          containers:\n          - name: main\n            resources: {limits: {memory: 256Mi}}\n- target: {kind: Service}\n  patch: '[{\"op\": \"add\", \"path\": \"/metadata/annotations\", \"value\": {\"exposed\": \"true\"}}]'\n",
    );
    write(
        &root.join("l3/kustomization.yaml"),
        "resources: [../l2]\nnamespace: production\nnamePrefix: prod-\ncommonLabels: {environment: production}\n",
    );
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("render");
    g.sample_size(10);
    // Three sizes, a decade apart, so growth shows as linear or not.
    for n in [100usize, 1_000, 10_000] {
        let dir = tempfile::tempdir().expect("tempdir");
        generate(dir.path(), n);
        let top = dir.path().join("l3");
        g.throughput(Throughput::Elements(2 * n as u64));
        g.bench_with_input(BenchmarkId::from_parameter(n), &top, |b, top| {
            b.iter(|| fjord_kustomize::build_yaml(top, &Default::default()).expect("render"));
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
