#!/usr/bin/env bash
# Installs Redocly CLI (the OpenAPI linter) from npm into a version-named
# cache directory outside the clone. Idempotent: a second run takes
# milliseconds. Prints the binary's path.
#
# usage: hack/redocly.sh            -> prints the path of the redocly binary
#        hack/redocly.sh ARGS...    -> runs redocly ARGS...
set -euo pipefail

REDOCLY_VERSION=2.77.0
cache=${XDG_CACHE_HOME:-$HOME/.cache}/contract-lucidity
dir=$cache/redocly
redocly=$dir/node_modules/.bin/redocly

command -v npm >/dev/null 2>&1 || { echo "redocly.sh: npm is required (hack/install-deps.sh installs it)" >&2; exit 1; }
# The package's engines: Node.js 20.19+ or 22.12+ (Debian bookworm's own nodejs is 18).
if ! node -e 'const [a, b] = process.versions.node.split(".").map(Number);
  process.exit((a === 20 && b >= 19) || (a === 22 && b >= 12) || a >= 23 ? 0 : 1)'; then
  echo "redocly.sh: Redocly CLI $REDOCLY_VERSION needs Node.js 20.19+ or 22.12+, found $(node --version)" >&2
  exit 1
fi

if [ ! -f "$dir/.installed-$REDOCLY_VERSION" ]; then
  echo "installing @redocly/cli $REDOCLY_VERSION (first time only)" >&2
  mkdir -p "$dir"
  [ -f "$dir/package.json" ] || echo '{"name":"cl-redocly","private":true}' > "$dir/package.json"
  (cd "$dir" && npm install --silent --no-audit --no-fund "@redocly/cli@$REDOCLY_VERSION" >&2)
  rm -f "$dir"/.installed-*
  touch "$dir/.installed-$REDOCLY_VERSION"
fi

if [ $# -eq 0 ]; then
  echo "$redocly"
else
  # No telemetry or update check: the build machines reach only package registries.
  export REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true
  exec "$redocly" "$@"
fi
