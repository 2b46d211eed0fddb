#!/usr/bin/env bash
# Records what the reference kustomize prints for differential cases.
#
#   tests/differential/record.sh CASE_DIR...
#
# A case is CASE_DIR/input/ (a tree whose root holds kustomization.yaml) and
# CASE_DIR/meta.json ({"source": "...", "dir": "."}). On success the output
# goes to CASE_DIR/expected.yaml; on failure an empty expected-error.txt is
# written (add one expected substring per line by hand) and the reference's
# message is shown.
#
# Environment: KUSTOMIZE (default ~/.cache/fjord/kustomize-v5.5.0/kustomize,
# `go install sigs.k8s.io/kustomize/kustomize/v5@v5.5.0`).
set -euo pipefail
kustomize="${KUSTOMIZE:-${XDG_CACHE_HOME:-$HOME/.cache}/fjord/kustomize-v5.5.0/kustomize}"
for case in "$@"; do
  dir="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("dir", "."))' "$case/meta.json")"
  rm -f "$case/expected.yaml" "$case/expected-error.txt"
  if "$kustomize" build "$case/input/$dir" > "$case/expected.yaml" 2> "$case/.stderr"; then
    rm -f "$case/.stderr"
  else
    rm -f "$case/expected.yaml"
    : > "$case/expected-error.txt"
    echo "$case: kustomize failed: $(sed "s|$(cd "$case/input" && pwd)||g" "$case/.stderr")" >&2
    rm -f "$case/.stderr"
  fi
done
