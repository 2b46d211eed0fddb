#!/usr/bin/env bash
# Sync of 1,000 objects (500 ConfigMaps, 250 Deployments, 250 Services) into
# an empty namespace, then a no-op re-sync: fjord beside
# `kubectl apply --server-side` (kubectl built from the same Kubernetes
# module as the control plane), against the same local control plane.
#
#   bench/sync-vs-kubectl.sh [runs]      (default 3 runs each)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
runs="${1:-3}"
"$root/testenv/cluster.sh" up
bin="$("$root/testenv/build.sh")"
kubeconfig="$("$root/testenv/cluster.sh" env | sed 's/.*=//')"
cargo build --release -j2 -p fjord --manifest-path "$root/Cargo.toml" >&2
fjord="${CARGO_TARGET_DIR:-$root/target}/release/fjord"
kubectl=("$bin/kubectl" --kubeconfig "$kubeconfig")

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
python3 "$root/bench/gen-sync-fixture.py" "$work/objects" 500
echo "objects: $(ls "$work/objects" | wc -l) files, $(grep -c '^kind:' "$work"/objects/*.yaml | awk -F: '{s+=$2} END {print s}') objects"

now() { date +%s.%N; }
elapsed() { echo "$(now) - $1" | bc; }
fresh_namespace() { "${kubectl[@]}" create namespace "$1" >/dev/null; }

printf '%-8s %-28s %10s\n' run step seconds
for run in $(seq 1 "$runs"); do
  ns="bench-fjord-$run-$$"; fresh_namespace "$ns"
  t=$(now); "$fjord" sync "$work/objects" --kubeconfig "$kubeconfig" -n "$ns" --app "$ns" -o json > "$work/first.json"
  printf '%-8s %-28s %10.3f\n' "$run" "fjord sync (create)" "$(elapsed "$t")"
  t=$(now); "$fjord" sync "$work/objects" --kubeconfig "$kubeconfig" -n "$ns" --app "$ns" -o json > "$work/second.json"
  printf '%-8s %-28s %10.3f\n' "$run" "fjord sync (no-op)" "$(elapsed "$t")"
  python3 - "$work/second.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
assert r["summary"]["unchanged"] == 1000 and r["writes"] == 0, r["summary"]
PY

  ns="bench-kubectl-$run-$$"; fresh_namespace "$ns"
  t=$(now); "${kubectl[@]}" apply --server-side -n "$ns" -f "$work/objects" > /dev/null
  printf '%-8s %-28s %10.3f\n' "$run" "kubectl apply (create)" "$(elapsed "$t")"
  t=$(now); "${kubectl[@]}" apply --server-side -n "$ns" -f "$work/objects" > /dev/null
  printf '%-8s %-28s %10.3f\n' "$run" "kubectl apply (no-op)" "$(elapsed "$t")"
done
for run in $(seq 1 "$runs"); do
  "${kubectl[@]}" delete namespace "bench-fjord-$run-$$" "bench-kubectl-$run-$$" --wait=false > /dev/null
done
