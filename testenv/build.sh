#!/usr/bin/env bash
# Builds the local control plane (etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler, kubectl in one multicall binary, plus kwok) into a cache
# outside the repository. A cache entry is keyed by everything that changes
# the binaries, so a warm cache makes this a no-op.
#
# Prints the directory holding the binaries on stdout.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
KWOK_VERSION="v0.8.0"
K8S_VERSION="$(awk '$1=="k8s.io/kubernetes"{print $2; exit}' "$here/controlplane/go.mod")"
cache_root="${FJORD_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/fjord}"

key="$( { cat "$here/controlplane/go.mod" "$here/controlplane/go.sum" "$here/controlplane/main.go"
          go env GOVERSION GOOS GOARCH; echo "kwok=$KWOK_VERSION"; } | sha256sum | cut -c1-16)"
bin="$cache_root/controlplane-$K8S_VERSION-$key"

log() { echo "testenv: $*" >&2; }

if [[ -x "$bin/controlplane" && -x "$bin/kwok" && -f "$bin/.complete" ]]; then
  echo "$bin"
  exit 0
fi

mkdir -p "$bin.tmp"
start=$(date +%s)
export GOFLAGS="${GOFLAGS:-} -buildvcs=false"
jobs="${FJORD_BUILD_JOBS:-2}"

ver_pkg_cb="k8s.io/component-base/version"
ver_pkg_cg="k8s.io/client-go/pkg/version"
ldflags="-s -w"
for pkg in "$ver_pkg_cb" "$ver_pkg_cg"; do
  ldflags+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1"
  ldflags+=" -X $pkg.gitMinor=$(echo "$K8S_VERSION" | cut -d. -f2)"
  ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
done

log "building Kubernetes $K8S_VERSION control plane into $bin (first build takes minutes)"
(cd "$here/controlplane" && go build -p "$jobs" -trimpath -ldflags "$ldflags" -o "$bin.tmp/controlplane" .)
for role in etcd kube-apiserver kube-controller-manager kube-scheduler kubectl; do
  ln -sf controlplane "$bin.tmp/$role"
done

log "building kwok $KWOK_VERSION"
GOBIN="$bin.tmp" go install -p "$jobs" -trimpath -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"

# kwok refuses to start without Stage definitions; they ship in its module.
kwok_dir="$(go env GOMODCACHE)/sigs.k8s.io/kwok@$KWOK_VERSION"
if [[ ! -d "$kwok_dir" ]]; then
  go mod download "sigs.k8s.io/kwok@$KWOK_VERSION" >/dev/null
fi
mkdir -p "$bin.tmp/kwok-stages"
for stage in node/fast/node-initialize.yaml node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
             pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
  src="$kwok_dir/kustomize/stage/$stage"
  [[ -f "$src" ]] || { log "missing kwok stage $src"; exit 1; }
  cp "$src" "$bin.tmp/kwok-stages/$(echo "$stage" | tr / -)"
done
chmod -R u+w "$bin.tmp"

echo "k8s=$K8S_VERSION kwok=$KWOK_VERSION go=$(go env GOVERSION) seconds=$(( $(date +%s) - start ))" > "$bin.tmp/.complete"
rm -rf "$bin"
mv "$bin.tmp" "$bin"
log "built in $(( $(date +%s) - start )) s"
echo "$bin"
