#!/usr/bin/env bash
# Builds the upstream Sealed Secrets tools (the `kubeseal` CLI and the
# controller) from the Go module pinned in testenv/sealed-secrets/go.mod, and
# copies the upstream SealedSecret CRD next to them, into a cache outside the
# repository. A cache entry is keyed by everything that changes the binaries,
# so a warm cache makes this a no-op.
#
# Release v0.40.0 declares its module path as github.com/bitnami/sealed-secrets
# while the Go module proxy serves it as github.com/bitnami-labs/sealed-secrets,
# so `go install …@version` cannot build it; the wrapper module requires it
# under its declared path and replaces that with the served one.
#
# Prints the directory holding kubeseal, controller and sealedsecrets-crd.yaml.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
mod="$here/sealed-secrets"
module="github.com/bitnami/sealed-secrets"
VERSION="$(awk -v m="$module" '$1==m{print $2; exit} $1=="require" && $2==m{print $3; exit}' "$mod/go.mod")"
[[ -n "$VERSION" ]] || { echo "testenv: no version of $module in $mod/go.mod" >&2; exit 1; }
cache_root="${FJORD_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/fjord}"

key="$( { cat "$mod/go.mod" "$mod/go.sum" "${BASH_SOURCE[0]}"; go env GOVERSION GOOS GOARCH; } | sha256sum | cut -c1-16)"
bin="$cache_root/sealed-secrets-$VERSION-$key"

log() { echo "testenv: $*" >&2; }

if [[ -x "$bin/kubeseal" && -x "$bin/controller" && -f "$bin/sealedsecrets-crd.yaml" && -f "$bin/.complete" ]]; then
  echo "$bin"
  exit 0
fi

rm -rf "$bin.tmp"
mkdir -p "$bin.tmp"
start=$(date +%s)
export GOFLAGS="${GOFLAGS:-} -buildvcs=false -mod=readonly"
jobs="${FJORD_BUILD_JOBS:-2}"

log "building sealed-secrets $VERSION (kubeseal, controller) into $bin"
(cd "$mod" && go build -p "$jobs" -trimpath -ldflags "-s -w -X main.VERSION=$VERSION" \
   -o "$bin.tmp/" "$module/cmd/kubeseal" "$module/cmd/controller")

src="$(cd "$mod" && go list -m -f '{{if .Replace}}{{.Replace.Dir}}{{else}}{{.Dir}}{{end}}' "$module")"
crd="$src/helm/sealed-secrets/crds/bitnami.com_sealedsecrets.yaml"
[[ -f "$crd" ]] || { log "missing the SealedSecret CRD at $crd"; exit 1; }
cp "$crd" "$bin.tmp/sealedsecrets-crd.yaml"
chmod -R u+w "$bin.tmp"

"$bin.tmp/kubeseal" --version >/dev/null
echo "sealed-secrets=$VERSION go=$(go env GOVERSION) seconds=$(( $(date +%s) - start ))" > "$bin.tmp/.complete"
rm -rf "$bin"
mv "$bin.tmp" "$bin"
log "built in $(( $(date +%s) - start )) s"
echo "$bin"
