#!/usr/bin/env bash
# Backend benchmarks (numbers, not assertions): the authenticated 50-document
# page against its floor in one run (the page query alone through pgx, with
# the API's JSON encoding, that over a bare net/http handler, and a bare
# handler serving the JSON from memory), and the peak RSS growth of the
# backend binary during a 100 MB upload into the filesystem and into S3
# (SeaweedFS). Starts its own PostgreSQL, Redis and SeaweedFS through
# services/internal/testenv.
#   hack/bench/backend.sh [-bench-duration 10s] [-bench-concurrency 8] [-bench-upload-mb 100] [-bench-storage filesystem,s3]
set -euo pipefail
cd "$(dirname "$0")/../.."
export GOTOOLCHAIN=local
exec go test ./services/backend -run '^$' -bench . -benchtime 1x -count 1 -timeout 20m "$@"
