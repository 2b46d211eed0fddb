#!/usr/bin/env bash
# The local Kubernetes control plane: etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler and kwok (one fake node), all on
# free 127.0.0.1 ports with throw-away certificates.
#
#   testenv/cluster.sh up      build if needed, start, wait until really ready
#   testenv/cluster.sh down    stop every process and remove the state
#   testenv/cluster.sh env     print `export FJORD_TEST_KUBECONFIG=…` for a shell
#   testenv/cluster.sh status  say whether it is running
#
# State lives in $FJORD_TESTENV_DIR (default: $TMPDIR/fjord-testenv), so tests,
# the demo and a person all find the same cluster.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
state="${FJORD_TESTENV_DIR:-${TMPDIR:-/tmp}/fjord-testenv}"
ready_timeout="${FJORD_TESTENV_TIMEOUT:-120}"

log() { echo "testenv: $*" >&2; }
die() { log "error: $*"; exit 1; }

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# wait_for DESCRIPTION COMMAND... : polls until COMMAND succeeds or the timeout passes.
wait_for() {
  local what="$1"; shift
  local deadline=$(( $(date +%s) + ready_timeout ))
  until "$@" >/dev/null 2>&1; do
    if (( $(date +%s) > deadline )); then
      log "timed out after ${ready_timeout}s waiting for $what; last lines of the logs:"
      tail -n 20 "$state"/logs/*.log >&2 || true
      return 1
    fi
    sleep 0.2
  done
}

# start NAME COMMAND... : starts a component in its own session so `down` can
# stop it and everything it spawned, and so it outlives the calling shell.
start() {
  local name="$1"; shift
  setsid "$@" >"$state/logs/$name.log" 2>&1 < /dev/null &
  echo $! > "$state/pids/$name"
}

running() {
  [[ -d "$state/pids" ]] || return 1
  local f
  for f in "$state"/pids/*; do
    [[ -f "$f" ]] && kill -0 "$(cat "$f")" 2>/dev/null && return 0
  done
  return 1
}

make_certs() {
  local pki="$state/pki"
  mkdir -p "$pki"
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=fjord-testenv-ca" \
    -keyout "$pki/ca.key" -out "$pki/ca.crt" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=kube-apiserver" \
    -keyout "$pki/apiserver.key" -out "$pki/apiserver.csr" 2>/dev/null
  printf '%s\n' "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,IP:10.0.0.1" \
    "basicConstraints=CA:FALSE" "keyUsage=digitalSignature,keyEncipherment" "extendedKeyUsage=serverAuth" > "$pki/apiserver.ext"
  openssl x509 -req -in "$pki/apiserver.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial \
    -days 2 -extfile "$pki/apiserver.ext" -out "$pki/apiserver.crt" 2>/dev/null
  openssl genrsa -out "$pki/sa.key" 2048 2>/dev/null
  openssl rsa -in "$pki/sa.key" -pubout -out "$pki/sa.pub" 2>/dev/null
  # One admin identity for everything: a static token in system:masters.
  head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$pki/admin.token"
  printf '%s,admin,admin-uid,"system:masters"\n' "$(cat "$pki/admin.token")" > "$pki/tokens.csv"
}

write_kubeconfig() {
  local port="$1" pki="$state/pki"
  cat > "$state/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: fjord-testenv
  cluster:
    server: https://127.0.0.1:$port
    certificate-authority-data: $(base64 -w0 < "$pki/ca.crt")
users:
- name: admin
  user:
    token: $(cat "$pki/admin.token")
contexts:
- name: fjord-testenv
  context: {cluster: fjord-testenv, user: admin, namespace: default}
current-context: fjord-testenv
EOF
  chmod 600 "$state/kubeconfig"
}

healthy() { # URL
  curl -sfk --max-time 2 -H "Authorization: Bearer $(cat "$state/pki/admin.token")" "$1" | grep -qx ok
}

kctl() { "$bin/kubectl" --kubeconfig "$state/kubeconfig" "$@"; }

node_ready() {
  [[ "$(kctl get node fjord-node-0 -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}')" == True ]] &&
    ! kctl get node fjord-node-0 -o 'jsonpath={.spec.taints[*].key}' | grep -q not-ready
}

up() {
  if running; then
    log "already running (state in $state)"
    return 0
  fi
  rm -rf "$state"
  mkdir -p "$state/logs" "$state/pids" "$state/etcd"
  bin="$("$here/build.sh")"
  local t0; t0=$(date +%s.%N)
  make_certs
  local pki="$state/pki"
  local etcd_port etcd_peer api_port cm_port sched_port
  etcd_port=$(free_port); etcd_peer=$(free_port); api_port=$(free_port)
  cm_port=$(free_port); sched_port=$(free_port)
  echo "$api_port" > "$state/apiserver.port"

  start etcd "$bin/etcd" --name fjord-testenv --data-dir "$state/etcd" \
    --listen-client-urls "http://127.0.0.1:$etcd_port" --advertise-client-urls "http://127.0.0.1:$etcd_port" \
    --listen-peer-urls "http://127.0.0.1:$etcd_peer" --initial-advertise-peer-urls "http://127.0.0.1:$etcd_peer" \
    --initial-cluster "fjord-testenv=http://127.0.0.1:$etcd_peer" \
    --unsafe-no-fsync --quota-backend-bytes 4294967296 --log-level warn
  wait_for etcd sh -c "curl -sf http://127.0.0.1:$etcd_port/health | grep -q '\"health\":\"true\"'"

  start kube-apiserver "$bin/kube-apiserver" \
    --etcd-servers "http://127.0.0.1:$etcd_port" \
    --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$api_port" \
    --endpoint-reconciler-type none \
    --tls-cert-file "$pki/apiserver.crt" --tls-private-key-file "$pki/apiserver.key" \
    --client-ca-file "$pki/ca.crt" \
    --token-auth-file "$pki/tokens.csv" \
    --service-account-issuer https://kubernetes.default.svc \
    --service-account-key-file "$pki/sa.pub" \
    --service-account-signing-key-file "$pki/sa.key" \
    --service-cluster-ip-range 10.0.0.0/16 \
    --authorization-mode RBAC \
    --enable-priority-and-fairness=false \
    --max-requests-inflight 2000 --max-mutating-requests-inflight 1000
  write_kubeconfig "$api_port"
  wait_for kube-apiserver healthy "https://127.0.0.1:$api_port/readyz"

  start kube-controller-manager "$bin/kube-controller-manager" \
    --kubeconfig "$state/kubeconfig" --leader-elect=false --controllers '*' \
    --root-ca-file "$pki/ca.crt" --service-account-private-key-file "$pki/sa.key" \
    --use-service-account-credentials=false \
    --bind-address 127.0.0.1 --secure-port "$cm_port" \
    --authentication-skip-lookup --authorization-always-allow-paths /healthz,/readyz,/livez \
    --kube-api-qps 500 --kube-api-burst 1000 --concurrent-deployment-syncs 10 --concurrent-replicaset-syncs 10
  start kube-scheduler "$bin/kube-scheduler" \
    --kubeconfig "$state/kubeconfig" --leader-elect=false \
    --bind-address 127.0.0.1 --secure-port "$sched_port" \
    --authentication-skip-lookup --authorization-always-allow-paths /healthz,/readyz,/livez \
    --kube-api-qps 500 --kube-api-burst 1000

  cat "$bin"/kwok-stages/*.yaml | awk 'NR>1 && /^apiVersion:/{print "---"} {print}' > "$state/kwok-stages.yaml"
  start kwok "$bin/kwok" --kubeconfig "$state/kubeconfig" --config "$state/kwok-stages.yaml" \
    --manage-all-nodes=false --manage-nodes-with-annotation-selector kwok.x-k8s.io/node=fake \
    --node-lease-duration-seconds 40 --node-ip 127.0.0.1 --server-address 127.0.0.1:"$(free_port)"

  wait_for kube-controller-manager healthy "https://127.0.0.1:$cm_port/healthz"
  wait_for kube-scheduler healthy "https://127.0.0.1:$sched_port/healthz"
  wait_for "the default ServiceAccount" kctl get serviceaccount default -n default

  kctl apply -f - >/dev/null <<'EOF'
apiVersion: v1
kind: Node
metadata:
  name: fjord-node-0
  annotations:
    kwok.x-k8s.io/node: fake
    node.alpha.kubernetes.io/ttl: "0"
  labels:
    kubernetes.io/hostname: fjord-node-0
    kubernetes.io/os: linux
    kubernetes.io/arch: amd64
    type: kwok
status:
  allocatable: {cpu: "64", memory: 256Gi, pods: "1000"}
  capacity: {cpu: "64", memory: 256Gi, pods: "1000"}
EOF
  wait_for "the kwok node to be Ready and untainted" node_ready

  log "ready in $(printf '%.1f' "$(echo "$(date +%s.%N) - $t0" | bc)") s: https://127.0.0.1:$api_port"
  log "kubeconfig: $state/kubeconfig"
}

down() {
  if [[ -d "$state/pids" ]]; then
    local f pid
    for f in "$state"/pids/*; do
      [[ -f "$f" ]] || continue
      pid="$(cat "$f")"
      kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    done
    for _ in $(seq 1 50); do running || break; sleep 0.2; done
    for f in "$state"/pids/*; do
      [[ -f "$f" ]] || continue
      kill -KILL -- "-$(cat "$f")" 2>/dev/null || true
    done
  fi
  rm -rf "$state"
  log "stopped"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  env) echo "export FJORD_TEST_KUBECONFIG=$state/kubeconfig" ;;
  status) if running; then echo "running: $state/kubeconfig"; else echo "not running"; exit 1; fi ;;
  *) echo "usage: $0 up|down|env|status" >&2; exit 2 ;;
esac
