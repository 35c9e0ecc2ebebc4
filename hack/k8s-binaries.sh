#!/usr/bin/env bash
# Builds the Kubernetes control-plane binaries used by envtest and the local
# cluster from the Go module proxy (setup-envtest's bucket is unreachable on
# our build machines), into a version-named cache directory outside the clone.
# Idempotent: binaries that already exist are skipped, so a second run takes
# milliseconds. Prints the directory on stdout.
#
# usage: hack/k8s-binaries.sh [envtest|all]
#   envtest  kube-apiserver, etcd, kubectl (default)
#   all      also kube-controller-manager, kube-scheduler and kwok
set -euo pipefail

K8S_VERSION=1.37.2
KWOK_VERSION=v0.8.0
set_name=${1:-envtest}
root=$(cd "$(dirname "$0")/.." && pwd)
cache=${XDG_CACHE_HOME:-$HOME/.cache}/contract-lucidity
dir=$cache/k8s/$K8S_VERSION
mkdir -p "$dir"

minor=$(echo "$K8S_VERSION" | cut -d. -f2)
# Keep these flags identical in every build: changing one misses the whole build cache.
ldflags="-s -w \
 -X k8s.io/component-base/version.gitVersion=v$K8S_VERSION \
 -X k8s.io/component-base/version.gitMajor=1 \
 -X k8s.io/component-base/version.gitMinor=$minor \
 -X k8s.io/client-go/pkg/version.gitVersion=v$K8S_VERSION \
 -X k8s.io/client-go/pkg/version.gitMajor=1 \
 -X k8s.io/client-go/pkg/version.gitMinor=$minor"

build() { # name package
  local name=$1 pkg=$2
  [ -x "$dir/$name" ] && return 0
  echo "building $name v$K8S_VERSION (first time only; minutes)" >&2
  CGO_ENABLED=0 GOFLAGS=-mod=mod go -C "$root/hack/tools/k8s" build -trimpath -ldflags "$ldflags" \
    -o "$dir/$name.tmp" "$pkg"
  mv "$dir/$name.tmp" "$dir/$name"
}

build etcd go.etcd.io/etcd/server/v3
build kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver
build kubectl k8s.io/kubernetes/cmd/kubectl
if [ "$set_name" = all ]; then
  build kube-scheduler k8s.io/kubernetes/cmd/kube-scheduler
  build kube-controller-manager k8s.io/kubernetes/cmd/kube-controller-manager
  if [ ! -x "$dir/kwok" ]; then
    echo "building kwok $KWOK_VERSION" >&2
    CGO_ENABLED=0 GOBIN="$dir" go install -trimpath -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"
  fi
  # kwok refuses to start without Stage definitions; the module ships them.
  if [ ! -f "$dir/kwok-stages.yaml" ]; then
    kdir=$(go mod download -json "sigs.k8s.io/kwok@$KWOK_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
    s=$kdir/kustomize/stage
    { for f in node/fast/node-initialize.yaml node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
        pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
        cat "$s/$f"; echo "---"; done; } > "$dir/kwok-stages.yaml.tmp"
    mv "$dir/kwok-stages.yaml.tmp" "$dir/kwok-stages.yaml"
  fi
fi
echo "$dir"
