#!/usr/bin/env bash
# Copies KEDA's ScaledObject and TriggerAuthentication CRDs from its Go
# module (served by the Go module proxy, checked against go.sum's checksum
# database like any module) into test/crds/keda-<version>/, where the
# operator's envtest suite installs them. No network at test time.
#
# usage: hack/keda-crd.sh [VERSION]   (default: the version below)
# To move to another KEDA release: run it with the new version, point
# kedaCRDDir (controllers/keda_test.go) at the new directory, delete the old one.
set -euo pipefail

version=${1:-2.21.0}
root=$(cd "$(dirname "$0")/.." && pwd)
out=$root/test/crds/keda-$version
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Outside this module, so go.mod and go.sum stay untouched.
dir=$(cd "$work" && GOWORK=off GOFLAGS=-mod=mod GOTOOLCHAIN=${GOTOOLCHAIN:-local} \
  go mod download -json "github.com/kedacore/keda/v2@v$version" |
  sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
mkdir -p "$out"
for crd in keda.sh_scaledobjects.yaml keda.sh_triggerauthentications.yaml; do
  [ -n "$dir" ] && [ -f "$dir/config/crd/bases/$crd" ] ||
    { echo "keda-crd: no $crd in github.com/kedacore/keda/v2@v$version" >&2; exit 1; }
  install -m 0644 "$dir/config/crd/bases/$crd" "$out/$crd"
  echo "keda-crd: wrote $out/$crd" >&2
done
