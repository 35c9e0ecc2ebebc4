#!/usr/bin/env bash
# Worker benchmark: whole-pipeline pages/second on CUAD PDFs (at least 200
# pages) with 1, 2 and 4 worker processes, documents in the filesystem and
# in S3 (SeaweedFS), next to bare pdftotext at the same parallelism, and the
# workers' peak RSS. Starts its own PostgreSQL, Redis and SeaweedFS; prints
# a table (no assertions).
#   hack/bench/worker.sh [-pages 200] [-workers 1,2,4] [-storage filesystem,s3] [-concurrency 1]
set -euo pipefail
cd "$(dirname "$0")/../.."
export GOTOOLCHAIN=local
mkdir -p bin
go build -o bin/contract-lucidity ./services/cmd/contract-lucidity
go run ./services/worker/bench -bin bin/contract-lucidity "$@"
