#!/usr/bin/env bash
# Installs the system packages the services and their tests use, if missing:
# redis-server, poppler-utils (pdftotext, pdftoppm), tesseract-ocr, chromium,
# dbus and gnome-keyring (clctl's keyring tests), and the shellcheck linter.
# PostgreSQL 15 comes with the machine image (and is installed if absent).
# Also installs PGlite with pgvector from npm into a cache outside the clone,
# for testing the pgvector search path, and Redocly CLI (hack/redocly.sh), the
# OpenAPI linter. Idempotent; a warm run takes ~1 s.
set -euo pipefail

need=()
have() { command -v "$1" >/dev/null 2>&1; }
have redis-server || need+=(redis-server)
have pdftotext || need+=(poppler-utils)
have tesseract || need+=(tesseract-ocr tesseract-ocr-eng)
have chromium || need+=(chromium)
{ have initdb || [ -x /usr/lib/postgresql/15/bin/initdb ]; } || need+=(postgresql-15)
fc-list 2>/dev/null | grep -qi dejavu || need+=(fonts-dejavu-core)
have openssl || need+=(openssl)     # hack/local-cluster.sh: service-account key pair
have curl || need+=(curl)           # hack/local-cluster.sh: health checks
have npm || need+=(nodejs npm)      # PGlite (pgvector tests), Redocly
have shellcheck || need+=(shellcheck) # make lint-workflows: actionlint checks run: scripts with it
have script || need+=(bsdutils)      # test/demo: a terminal for make demo
have dbus-daemon || need+=(dbus)     # clctl tests: a private session bus
have gnome-keyring-daemon || need+=(gnome-keyring) # clctl tests: the Secret Service (OS keyring)

if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}" >&2
  if [ "$(id -u)" -ne 0 ]; then sudo=sudo; else sudo=; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# PGlite (PostgreSQL in WebAssembly) with pgvector, for the pgvector search tests.
cache=${XDG_CACHE_HOME:-$HOME/.cache}/contract-lucidity
pglite=$cache/pglite
if [ ! -f "$pglite/.installed-v2" ] && command -v npm >/dev/null 2>&1; then
  mkdir -p "$pglite"
  (cd "$pglite" && [ -f package.json ] || echo '{"name":"cl-pglite","private":true}' > package.json)
  (cd "$pglite" && npm install --silent --no-audit --no-fund @electric-sql/pglite@0.5.14 @electric-sql/pglite-socket@0.2.17 @electric-sql/pglite-pgvector@0.0.15 >&2)
  touch "$pglite/.installed-v2"
fi

# Redocly CLI, which lints the backend's OpenAPI document in go test.
if command -v npm >/dev/null 2>&1; then
  "$(dirname "$0")/redocly.sh" >/dev/null
fi
