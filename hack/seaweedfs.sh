#!/usr/bin/env bash
# Builds SeaweedFS (`weed`, an S3-compatible object store) from the Go module
# proxy into a version-named cache directory outside the clone, for tests of
# the S3 document storage and backup destination (services/internal/testenv/s3.go).
# Its go.mod has replace directives, so `go install pkg@version` refuses it:
# download the module, copy it and build ./weed inside. Idempotent: a second
# run takes milliseconds; concurrent first runs build once. Prints the
# binary's path.
#
# usage: hack/seaweedfs.sh            -> prints the path of the weed binary
#        hack/seaweedfs.sh ARGS...    -> runs weed ARGS...
set -euo pipefail

SEAWEEDFS_MODULE=github.com/seaweedfs/seaweedfs
SEAWEEDFS_VERSION=v0.0.0-20261109003541-7506e5f91cd6
cache=${XDG_CACHE_HOME:-$HOME/.cache}/contract-lucidity
dir=$cache/tools/seaweedfs-$SEAWEEDFS_VERSION
weed=$dir/weed

if [ ! -x "$weed" ]; then
  mkdir -p "$dir"
  # Test packages run in parallel and each asks for weed: one builds, the
  # others wait for it.
  if command -v flock >/dev/null; then
    exec 9>"$dir/.lock"
    flock 9
  fi
fi
if [ ! -x "$weed" ]; then
  echo "building SeaweedFS $SEAWEEDFS_VERSION (first time only; several minutes)" >&2
  tmp=$(mktemp -d "$dir/.build.XXXXXX")
  trap 'chmod -R u+w "$tmp" 2>/dev/null; rm -rf "$tmp"' EXIT
  export GOTOOLCHAIN=local
  src=$(cd "$tmp" && go mod download -json "$SEAWEEDFS_MODULE@$SEAWEEDFS_VERSION" |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [ -d "$src" ] || { echo "seaweedfs: go mod download gave no directory" >&2; exit 1; }
  cp -R "$src" "$tmp/src"
  chmod -R u+w "$tmp/src"
  (cd "$tmp/src/weed" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$tmp/weed" .)
  mv "$tmp/weed" "$weed"
fi
exec 9>&- 2>/dev/null || true

if [ $# -eq 0 ]; then
  echo "$weed"
else
  exec "$weed" "$@"
fi
