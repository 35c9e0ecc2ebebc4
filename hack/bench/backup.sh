#!/usr/bin/env bash
# Backup benchmark (numbers, not assertions): backup, verify and restore time
# and archive size for 1,000 documents made from the CUAD contracts (files,
# every clause with its embedding), to a directory. Starts its own
# PostgreSQL through services/internal/testenv.
#   hack/bench/backup.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
export GOTOOLCHAIN=local
exec go test ./services/internal/backup -run '^$' -bench BackupRestore -benchtime 1x -count 1 -timeout 30m "$@"
