#!/usr/bin/env bash
# Installs helm from the Go module proxy (GitHub releases are unreachable on
# our build machines) into a version-named cache directory outside the clone.
# Idempotent: a second run takes milliseconds. Prints the binary's path.
#
# usage: hack/helm.sh            -> prints the path of the helm binary
#        hack/helm.sh ARGS...    -> runs helm ARGS...
set -euo pipefail

HELM_VERSION=v3.22.0
cache=${XDG_CACHE_HOME:-$HOME/.cache}/contract-lucidity
dir=$cache/tools/helm-$HELM_VERSION
helm=$dir/helm

if [ ! -x "$helm" ]; then
  echo "building helm $HELM_VERSION (first time only; about 3 minutes)" >&2
  mkdir -p "$dir"
  tmp=$(mktemp -d "$dir/.build.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  CGO_ENABLED=0 GOTOOLCHAIN=local GOBIN="$tmp" go install -trimpath \
    -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION" \
    "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
  mv "$tmp/helm" "$helm"
fi

if [ $# -eq 0 ]; then
  echo "$helm"
else
  # Keep helm's own caches and config out of the user's home.
  export HELM_CACHE_HOME=${HELM_CACHE_HOME:-$dir/cache} HELM_CONFIG_HOME=${HELM_CONFIG_HOME:-$dir/config} \
    HELM_DATA_HOME=${HELM_DATA_HOME:-$dir/data}
  exec "$helm" "$@"
fi
