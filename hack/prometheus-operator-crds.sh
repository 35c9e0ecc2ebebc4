#!/usr/bin/env bash
# Copies the Prometheus Operator's ServiceMonitor and PrometheusRule CRDs
# from its Go module (served by the Go module proxy, checked against the
# checksum database like any module) into
# test/crds/prometheus-operator-<version>/, where the overlay test installs
# them so the monitoring overlay is validated by their own schema. No
# network at test time.
#
# usage: hack/prometheus-operator-crds.sh [VERSION]   (default: the version below)
# To move to another release: run it with the new version, point
# prometheusCRDDir (test/overlays) at the new directory, delete the old one.
set -euo pipefail

version=${1:-0.85.0}
root=$(cd "$(dirname "$0")/.." && pwd)
out=$root/test/crds/prometheus-operator-$version
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Outside this module, so go.mod and go.sum stay untouched.
dir=$(cd "$work" && GOWORK=off GOFLAGS=-mod=mod GOTOOLCHAIN=${GOTOOLCHAIN:-local} \
  go mod download -json "github.com/prometheus-operator/prometheus-operator@v$version" |
  sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
mkdir -p "$out"
for crd in servicemonitors prometheusrules; do
  f=$dir/example/prometheus-operator-crd/monitoring.coreos.com_$crd.yaml
  [ -f "$f" ] || { echo "prometheus-operator-crds: no $crd CRD in github.com/prometheus-operator/prometheus-operator@v$version" >&2; exit 1; }
  install -m 0644 "$f" "$out/monitoring.coreos.com_$crd.yaml"
done
echo "prometheus-operator-crds: wrote $out" >&2
