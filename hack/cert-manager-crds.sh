#!/usr/bin/env bash
# Copies cert-manager's Certificate, Issuer and ClusterIssuer CRDs from its
# Go module (served by the Go module proxy, checked against the checksum
# database like any module) into test/crds/cert-manager-<version>/, where
# the operator's envtest suite (TLSReady with a Certificate) and the overlay
# test (the production overlay's ClusterIssuer) install them. No network at
# test time.
#
# usage: hack/cert-manager-crds.sh [VERSION]   (default: the version below)
# To move to another release: run it with the new version, point
# certManagerCRDDir (controllers/tls_test.go, test/overlays) at the new
# directory, delete the old one.
set -euo pipefail

version=${1:-1.21.2}
root=$(cd "$(dirname "$0")/.." && pwd)
out=$root/test/crds/cert-manager-$version
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Outside this module, so go.mod and go.sum stay untouched.
dir=$(cd "$work" && GOWORK=off GOFLAGS=-mod=mod GOTOOLCHAIN=${GOTOOLCHAIN:-local} \
  go mod download -json "github.com/cert-manager/cert-manager@v$version" |
  sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
mkdir -p "$out"
for crd in certificates issuers clusterissuers; do
  f=$dir/deploy/crds/cert-manager.io_$crd.yaml
  [ -f "$f" ] || { echo "cert-manager-crds: no $crd CRD in github.com/cert-manager/cert-manager@v$version" >&2; exit 1; }
  install -m 0644 "$f" "$out/cert-manager.io_$crd.yaml"
done
echo "cert-manager-crds: wrote $out" >&2
