#!/usr/bin/env bash
# Backend benchmarks (numbers, not assertions): authenticated 50-document page
# vs a bare net/http handler (throughput, p99, ratio), and peak RSS growth of
# the backend binary during a 100 MB upload. Starts its own PostgreSQL and
# Redis through services/internal/testenv.
#   hack/bench/backend.sh [-bench-duration 10s] [-bench-concurrency 8] [-bench-upload-mb 100]
set -euo pipefail
cd "$(dirname "$0")/../.."
export GOTOOLCHAIN=local
exec go test ./services/backend -run '^$' -bench . -benchtime 1x -count 1 -timeout 20m "$@"
