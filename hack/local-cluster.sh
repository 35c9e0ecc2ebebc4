#!/usr/bin/env bash
# A local Kubernetes cluster without a kubelet or containers: etcd,
# kube-apiserver, kube-controller-manager, kube-scheduler and kwok (which
# fakes a node and the pod lifecycle), so Deployments, StatefulSets and Jobs
# run to Available/Complete on a laptop or in CI. Binaries come from
# hack/k8s-binaries.sh (built from the Go module proxy, cached).
#
# usage: hack/local-cluster.sh up|down|env|status|cnpg|keda [--cnpg] [--keda] [WORKDIR]
#   up      start everything (idempotent), wait until the node is Ready,
#           print `export KUBECONFIG=...`; with --cnpg also `cnpg`, with
#           --keda also `keda`
#   down    stop everything and remove the work dir (idempotent)
#   env     print `export KUBECONFIG=...` for a running cluster
#   status  exit 0 if every component runs and the API server is ready
#   cnpg    install CloudNativePG's Cluster CRD (test/crds/cnpg-1.27.1,
#           see hack/cnpg-crd.sh) into the running cluster, so
#           spec.database.cloudNativePG can be tried: Clusters are accepted
#           and validated, but without CloudNativePG's operator nothing
#           runs them (set their status by hand to play it)
#   keda    install KEDA's ScaledObject and TriggerAuthentication CRDs
#           (test/crds/keda-2.21.0, see hack/keda-crd.sh), so
#           spec.worker.autoscaling.queueDepth makes a ScaledObject
#           (validated by KEDA's schema; no KEDA operator acts on it)
#
# WORKDIR defaults to $LOCAL_CLUSTER_DIR or
# ${XDG_CACHE_HOME:-~/.cache}/contract-lucidity/local-cluster.
# Ports are chosen free on 127.0.0.1 at `up` and recorded in WORKDIR/ports.
# Without a kubelet nothing provisions volumes: a small loop (pv-provisioner)
# binds every Pending PVC to a new hostPath PV of the requested size, so
# StatefulSets with volumeClaimTemplates and pods mounting PVCs schedule.
# With LOCAL_CLUSTER_OWNER_PID set, a watchdog tears the cluster down when
# that process exits (tests use it so a killed test leaves nothing behind).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cmd=${1:-}
[ $# -gt 0 ] && shift
with_cnpg=0
with_keda=0
dir=
for arg in "$@"; do
  case "$arg" in
    --cnpg) with_cnpg=1 ;;
    --keda) with_keda=1 ;;
    *) dir=$arg ;;
  esac
done
dir=${dir:-${LOCAL_CLUSTER_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/contract-lucidity/local-cluster}}
cnpg_crd=$root/test/crds/cnpg-1.27.1/postgresql.cnpg.io_clusters.yaml
keda_crds=$root/test/crds/keda-2.21.0
components=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok pv-provisioner)
node_name=kwok-node-0
token_file=$dir/tokens.csv
kubeconfig=$dir/kubeconfig

log() { echo "local-cluster: $*" >&2; }
die() { log "$*"; exit 1; }

# pid_of NAME prints the recorded PID if that process is alive and is ours
# (its command line mentions the work dir, so a reused PID is never killed).
pid_of() {
  local f=$dir/pids/$1.pid pid
  [ -f "$f" ] || return 1
  pid=$(cat "$f")
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
  tr "\0" " " <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$dir" || return 1
  echo "$pid"
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# free_port prints a port on 127.0.0.1 that nothing listens on and that this
# run has not handed out yet.
declare -A handed_out=()
free_port() {
  local p i
  for i in $(seq 1 200); do
    p=$(( 20000 + RANDOM % 40000 ))
    [ -z "${handed_out[$p]:-}" ] || continue
    port_in_use "$p" && continue
    handed_out[$p]=1
    echo "$p"
    return 0
  done
  die "no free port found"
}

stop_all() {
  local name pid i alive
  [ -f "$dir/pids/watchdog.pid" ] && {
    pid=$(cat "$dir/pids/watchdog.pid")
    # the watchdog is a subshell of this script; never kill ourselves
    [ "$pid" != "$$" ] && [ "$pid" != "${BASHPID:-}" ] && kill "$pid" 2>/dev/null || true
  }
  for (( i=${#components[@]}-1; i>=0; i-- )); do
    name=${components[$i]}
    pid=$(pid_of "$name") || continue
    kill -TERM "$pid" 2>/dev/null || true
  done
  for i in $(seq 1 100); do
    alive=0
    for name in "${components[@]}"; do
      pid_of "$name" >/dev/null && alive=1
    done
    [ $alive = 0 ] && break
    sleep 0.1
  done
  for name in "${components[@]}"; do
    pid=$(pid_of "$name") || continue
    log "killing $name ($pid)"
    kill -KILL "$pid" 2>/dev/null || true
  done
}

all_running() {
  local name
  for name in "${components[@]}"; do
    pid_of "$name" >/dev/null || return 1
  done
  api_ready
}

etcd_ready_or_exited() {
  curl -fsS --max-time 1 "http://127.0.0.1:$1/health" || ! pid_of etcd >/dev/null
}

# api_ready_or_exited: the API server answers, or its process is gone.
api_ready_or_exited() { api_ready || ! pid_of kube-apiserver >/dev/null; }

api_ready() {
  [ -f "$dir/ports" ] || return 1
  # shellcheck disable=SC1091
  . "$dir/ports"
  curl -fsS --max-time 2 -k -H "Authorization: Bearer $(cut -d, -f1 "$token_file")" \
    "https://127.0.0.1:$API_PORT/readyz" >/dev/null 2>&1
}

# start NAME ARGS...: runs the binary in the background, detached from our
# stdout/stderr (a caller reading our output must not wait for it), logging
# to WORKDIR/logs/NAME.log.
start() {
  local name=$1; shift
  local exe=$bin/$name
  [ "$name" = pv-provisioner ] && exe=$root/hack/local-cluster.sh
  "$exe" "$@" </dev/null >"$dir/logs/$name.log" 2>&1 &
  echo $! >"$dir/pids/$name.pid"
}

wait_for() { # description seconds command...
  local what=$1 secs=$2 i; shift 2
  for i in $(seq 1 $(( secs * 5 ))); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  die "timed out after ${secs}s waiting for $what (logs in $dir/logs)"
}

print_env() { echo "export KUBECONFIG=$kubeconfig"; }

kubectl() { "$bin/kubectl" --kubeconfig "$kubeconfig" "$@"; }

up() {
  if [ -d "$dir" ] && all_running; then
    log "already running in $dir"
    print_env
    return 0
  fi
  # Leftovers of a crashed or partial run: start from a clean slate.
  [ -d "$dir" ] && { stop_all; rm -rf "$dir"; }

  local tool
  for tool in openssl curl base64; do
    command -v "$tool" >/dev/null || die "needs $tool (Debian: apt-get install openssl curl coreutils)"
  done
  bin=$("$root/hack/k8s-binaries.sh" all)
  mkdir -p "$dir"/{pids,logs,certs,etcd}
  dir=$(cd "$dir" && pwd)
  token_file=$dir/tokens.csv kubeconfig=$dir/kubeconfig

  local etcd_port etcd_peer api_port kcm_port sched_port kwok_port token
  etcd_port=$(free_port); etcd_peer=$(free_port); api_port=$(free_port)
  kcm_port=$(free_port); sched_port=$(free_port); kwok_port=$(free_port)
  cat >"$dir/ports" <<EOF
ETCD_PORT=$etcd_port
API_PORT=$api_port
EOF
  token=$(openssl rand -hex 24)
  echo "$token,admin,admin,system:masters" >"$token_file"
  chmod 600 "$token_file"
  openssl genrsa -out "$dir/sa.key" 2048 2>/dev/null
  openssl rsa -in "$dir/sa.key" -pubout -out "$dir/sa.pub" 2>/dev/null

  log "starting etcd on 127.0.0.1:$etcd_port"
  start etcd --data-dir "$dir/etcd" --name local \
    --listen-client-urls "http://127.0.0.1:$etcd_port" --advertise-client-urls "http://127.0.0.1:$etcd_port" \
    --listen-peer-urls "http://127.0.0.1:$etcd_peer" --initial-advertise-peer-urls "http://127.0.0.1:$etcd_peer" \
    --initial-cluster "local=http://127.0.0.1:$etcd_peer" --unsafe-no-fsync
  # Generous: on a loaded machine (test packages in parallel) etcd can take
  # a while; a dead etcd is seen at once.
  wait_for etcd 90 etcd_ready_or_exited "$etcd_port"
  curl -fsS --max-time 2 "http://127.0.0.1:$etcd_port/health" >/dev/null 2>&1 ||
    die "etcd exited (logs in $dir/logs)"

  # A free port can be taken by another process before the API server
  # binds it (tests start clusters in parallel): then take another.
  local attempt
  for attempt in 1 2 3; do
    log "starting kube-apiserver on https://127.0.0.1:$api_port"
    start kube-apiserver --etcd-servers "http://127.0.0.1:$etcd_port" \
      --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$api_port" \
      --cert-dir "$dir/certs" --token-auth-file "$token_file" --authorization-mode Node,RBAC \
      --service-account-issuer https://kubernetes.default.svc.cluster.local \
      --service-account-key-file "$dir/sa.pub" --service-account-signing-key-file "$dir/sa.key" \
      --service-cluster-ip-range 10.96.0.0/16 --allow-privileged=true --endpoint-reconciler-type none
    wait_for kube-apiserver 120 api_ready_or_exited
    api_ready && break
    grep -q "address already in use" "$dir/logs/kube-apiserver.log" && [ "$attempt" -lt 3 ] ||
      die "kube-apiserver exited (logs in $dir/logs)"
    api_port=$(free_port)
    sed -i "s/^API_PORT=.*/API_PORT=$api_port/" "$dir/ports"
  done

  # The API server wrote a self-signed serving certificate (with its CA).
  cat >"$kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: local
  cluster:
    server: https://127.0.0.1:$api_port
    certificate-authority-data: $(base64 -w0 <"$dir/certs/apiserver.crt")
users:
- name: admin
  user:
    token: $token
contexts:
- name: local
  context: {cluster: local, user: admin, namespace: default}
current-context: local
EOF
  chmod 600 "$kubeconfig"

  log "starting kube-controller-manager, kube-scheduler, kwok"
  start kube-controller-manager --kubeconfig "$kubeconfig" --bind-address 127.0.0.1 \
    --secure-port "$kcm_port" --leader-elect=false \
    --service-account-private-key-file "$dir/sa.key" --root-ca-file "$dir/certs/apiserver.crt" \
    --use-service-account-credentials=true --controllers '*'
  start kube-scheduler --kubeconfig "$kubeconfig" --bind-address 127.0.0.1 \
    --secure-port "$sched_port" --leader-elect=false
  start kwok --kubeconfig "$kubeconfig" --config "$bin/kwok-stages.yaml" \
    --server-address "127.0.0.1:$kwok_port" \
    --manage-all-nodes=false --manage-nodes-with-annotation-selector kwok.x-k8s.io/node=fake \
    --manage-nodes-with-label-selector= --manage-single-node= \
    --cidr 10.0.0.0/24 --node-ip 10.0.0.1 --node-lease-duration-seconds 40

  start pv-provisioner _provision "$dir"

  kubectl apply --server-side -f - >/dev/null <<EOF
apiVersion: v1
kind: Node
metadata:
  name: $node_name
  annotations:
    kwok.x-k8s.io/node: fake
  labels:
    kubernetes.io/hostname: $node_name
    kubernetes.io/os: linux
    kubernetes.io/arch: amd64
    type: kwok
status:
  capacity: {cpu: "32", memory: 128Gi, ephemeral-storage: 500Gi, pods: "1000"}
  allocatable: {cpu: "32", memory: 128Gi, ephemeral-storage: 500Gi, pods: "1000"}
EOF
  wait_for "node $node_name Ready" 120 kubectl wait --for=condition=Ready "node/$node_name" --timeout=1s
  # Pods are refused until the namespace's default ServiceAccount exists.
  wait_for "default ServiceAccount" 60 kubectl get serviceaccount default -n default

  for name in "${components[@]}"; do
    pid_of "$name" >/dev/null || die "$name exited (log: $dir/logs/$name.log)"
  done

  if [ -n "${LOCAL_CLUSTER_OWNER_PID:-}" ]; then
    ( trap '' HUP
      while kill -0 "$LOCAL_CLUSTER_OWNER_PID" 2>/dev/null && [ -d "$dir" ]; do sleep 2; done
      rm -f "$dir/pids/watchdog.pid"
      [ -d "$dir" ] && "$root/hack/local-cluster.sh" down "$dir" ) </dev/null >/dev/null 2>&1 &
    echo $! >"$dir/pids/watchdog.pid"
  fi
  [ "$with_cnpg" = 1 ] && install_cnpg
  [ "$with_keda" = 1 ] && install_keda
  log "ready"
  print_env
}

# install_cnpg applies CloudNativePG's Cluster CRD and waits until it is served.
install_cnpg() {
  [ -n "${bin:-}" ] || bin=$("$root/hack/k8s-binaries.sh" all)
  kubectl apply --server-side -f "$cnpg_crd" >/dev/null
  wait_for "the CloudNativePG Cluster CRD" 60 kubectl wait --for=condition=Established \
    crd/clusters.postgresql.cnpg.io --timeout=1s
  log "CloudNativePG Cluster CRD installed ($(basename "$(dirname "$cnpg_crd")"))"
}

# install_keda applies KEDA's ScaledObject and TriggerAuthentication CRDs
# and waits until they are served.
install_keda() {
  [ -n "${bin:-}" ] || bin=$("$root/hack/k8s-binaries.sh" all)
  kubectl apply --server-side -f "$keda_crds/keda.sh_scaledobjects.yaml" -f "$keda_crds/keda.sh_triggerauthentications.yaml" >/dev/null
  wait_for "the KEDA CRDs" 60 kubectl wait --for=condition=Established \
    crd/scaledobjects.keda.sh crd/triggerauthentications.keda.sh --timeout=1s
  log "KEDA CRDs installed ($(basename "$keda_crds"))"
}

# provision_loop runs until killed: every second it creates a PV pre-bound to
# each Pending PVC that has none (class, size and access modes copied).
provision_loop() {
  bin=$("$root/hack/k8s-binaries.sh" all)
  local ns name uid size modes class volume
  local q='{range .items[?(@.status.phase=="Pending")]}{.metadata.namespace}{" "}{.metadata.name}{" "}{.metadata.uid}{" "}{.spec.resources.requests.storage}{" "}{.spec.accessModes}{" ="}{.spec.storageClassName}{" ="}{.spec.volumeName}{"\n"}{end}'
  while true; do
    while read -r ns name uid size modes class volume; do
      class=${class#=} volume=${volume#=}
      [ -n "$uid" ] && [ -z "$volume" ] || continue
      kubectl get pv "pv-$uid" >/dev/null 2>&1 && continue
      kubectl create -f - >/dev/null 2>&1 <<EOF || true
apiVersion: v1
kind: PersistentVolume
metadata:
  name: pv-$uid
  labels: {local-cluster/provisioned: "true"}
spec:
  capacity: {storage: "$size"}
  accessModes: $modes
  storageClassName: "$class"
  persistentVolumeReclaimPolicy: Retain
  hostPath: {path: /var/lib/local-cluster/$uid}
  claimRef: {namespace: "$ns", name: "$name", uid: "$uid"}
EOF
    done < <(kubectl get pvc -A -o jsonpath="$q" 2>/dev/null || true)
    sleep 1
  done
}

down() {
  [ -d "$dir" ] || return 0
  stop_all
  rm -rf "$dir"
  log "stopped, removed $dir"
}

case "$cmd" in
  up) up ;;
  down) down ;;
  env) [ -f "$kubeconfig" ] || die "no cluster in $dir (run: $0 up)"; print_env ;;
  status) all_running ;;
  cnpg) all_running || die "no cluster running in $dir (run: $0 up)"; install_cnpg ;;
  keda) all_running || die "no cluster running in $dir (run: $0 up)"; install_keda ;;
  _provision) provision_loop ;;
  *) sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
