#!/usr/bin/env bash
# Renders a generated large overlay with fjord and (if installed) with the
# reference kustomize v5.5.0, and prints wall time and peak RSS for each.
#
#   bench/kustomize-vs-fjord.sh [N_APPS ...]      default: 1000 10000
#
# Environment:
#   FJORD       fjord binary (default: build release into target-bench)
#   KUSTOMIZE   reference binary (default: ~/.cache/fjord/kustomize-v5.5.0/kustomize,
#               installed with `go install sigs.k8s.io/kustomize/kustomize/v5@v5.5.0`)
#   REF_MAX     largest N to run the reference on (default 1000; it is quadratic)
set -euo pipefail

here="$(cd "$(dirname "$0")/.." && pwd)"
apps=("$@")
[ ${#apps[@]} -eq 0 ] && apps=(1000 10000)
ref_max="${REF_MAX:-1000}"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/fjord"
kustomize="${KUSTOMIZE:-$cache/kustomize-v5.5.0/kustomize}"

if [ -z "${FJORD:-}" ]; then
  CARGO_TARGET_DIR="$here/target-bench" cargo build --release -q -p fjord --manifest-path "$here/Cargo.toml"
  FJORD="$here/target-bench/release/fjord"
fi

gen() { # gen DIR N
  local d="$1" n="$2"
  rm -rf "$d"; mkdir -p "$d/base" "$d/l1" "$d/l2" "$d/l3"
  {
    echo "apiVersion: kustomize.config.k8s.io/v1beta1"
    echo "kind: Kustomization"
    echo "resources:"
    for i in $(seq 1 "$n"); do echo "- app$i.yaml"; done
  } > "$d/base/kustomization.yaml"
  for i in $(seq 1 "$n"); do
    cat > "$d/base/app$i.yaml" <<YAML
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app$i
  labels:
    app: app$i
spec:
  replicas: 1
  selector:
    matchLabels:
      app: app$i
  template:
    metadata:
      labels:
        app: app$i
    spec:
      containers:
      - name: main
        image: registry.example/app:1.0.0
        ports:
        - containerPort: 8080
        envFrom:
        - configMapRef:
            name: shared-config
---
apiVersion: v1
kind: Service
metadata:
  name: app$i
spec:
  selector:
    app: app$i
  ports:
  - port: 80
    targetPort: 8080
YAML
  done
  cat > "$d/l1/kustomization.yaml" <<YAML
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
- ../base
namePrefix: team-
commonLabels:
  team: payments
configMapGenerator:
- name: shared-config
  literals:
  - LOG_LEVEL=info
  - REGION=no-oslo-1
YAML
  cat > "$d/l2/kustomization.yaml" <<YAML
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
- ../l1
nameSuffix: -v2
images:
- name: registry.example/app
  newTag: 2.4.1
patches:
- target:
    kind: Deployment
  patch: |-
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: any
    spec:
      template:
        spec:
          containers:
          - name: main
            resources:
              limits:
                memory: 256Mi
- target:
    kind: Service
  patch: |-
    - op: add
      path: /metadata/annotations
      value:
        fjord.example/exposed: "true"
YAML
  cat > "$d/l3/kustomization.yaml" <<YAML
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
- ../l2
namespace: production
namePrefix: prod-
commonLabels:
  environment: production
YAML
}

secs() { # secs WALL: /usr/bin/time's [h:]m:ss.cc as seconds
  echo "$1" | awk -F: '{ s = 0; for (i = 1; i <= NF; i++) s = s * 60 + $i; print s }'
}

measure() { # measure LABEL OUTFILE CMD...  (sets SECS and RSS_MB)
  local label="$1" out="$2"; shift 2
  /usr/bin/time -v "$@" > "$out" 2> "$out.time" || { cat "$out.time" >&2; return 1; }
  local wall rss docs
  wall="$(grep 'Elapsed (wall clock)' "$out.time" | awk '{print $NF}')"
  rss="$(grep 'Maximum resident set size' "$out.time" | awk '{print $NF}')"
  docs="$(grep -c '^kind:' "$out" || true)"
  SECS="$(secs "$wall")"
  RSS_MB=$((rss / 1024))
  printf '%-22s wall %8.2f s  peak RSS %6d MB  objects %d\n' "$label" "$SECS" "$RSS_MB" "$docs"
}

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
for n in "${apps[@]}"; do
  gen "$work/tree-$n" "$n"
  measure "fjord $n apps" "$work/fjord-$n.yaml" "$FJORD" build "$work/tree-$n/l3"
  f_secs="$SECS"
  if [ -x "$kustomize" ] && [ "$n" -le "$ref_max" ]; then
    measure "kustomize $n apps" "$work/kustomize-$n.yaml" "$kustomize" build "$work/tree-$n/l3"
    awk -v k="$SECS" -v f="$f_secs" 'BEGIN { if (f > 0) printf "speed-up: %.0fx\n", k / f }'
    if cmp -s "$work/fjord-$n.yaml" "$work/kustomize-$n.yaml"; then
      echo "outputs: byte-identical"
    else
      echo "outputs: differ:"
      diff "$work/kustomize-$n.yaml" "$work/fjord-$n.yaml" | head -20
    fi
  fi
done
