#!/usr/bin/env bash
# Copies CloudNativePG's Cluster CRD from its Go module (served by the Go
# module proxy, checked against go.sum's checksum database like any module)
# into test/crds/cnpg-<version>/, where the operator's envtest suite and
# `hack/local-cluster.sh up --cnpg` install it. No network at test time.
#
# usage: hack/cnpg-crd.sh [VERSION]   (default: the version below)
# To move to another CloudNativePG release: run it with the new version,
# point cnpgCRDDir (controllers/cnpg_test.go) and hack/local-cluster.sh at
# the new directory, delete the old one.
set -euo pipefail

version=${1:-1.27.1}
root=$(cd "$(dirname "$0")/.." && pwd)
out=$root/test/crds/cnpg-$version
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Outside this module, so go.mod and go.sum stay untouched.
dir=$(cd "$work" && GOWORK=off GOFLAGS=-mod=mod GOTOOLCHAIN=${GOTOOLCHAIN:-local} \
  go mod download -json "github.com/cloudnative-pg/cloudnative-pg@v$version" |
  sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[ -n "$dir" ] && [ -f "$dir/config/crd/bases/postgresql.cnpg.io_clusters.yaml" ] ||
  { echo "cnpg-crd: no Cluster CRD in github.com/cloudnative-pg/cloudnative-pg@v$version" >&2; exit 1; }
mkdir -p "$out"
install -m 0644 "$dir/config/crd/bases/postgresql.cnpg.io_clusters.yaml" "$out/postgresql.cnpg.io_clusters.yaml"
echo "cnpg-crd: wrote $out/postgresql.cnpg.io_clusters.yaml" >&2
