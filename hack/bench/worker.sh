#!/usr/bin/env bash
# Worker benchmark: whole-pipeline pages/second on CUAD PDFs at concurrency
# 1 and 2 vs bare pdftotext on the same files, and the worker's peak RSS.
# Starts its own PostgreSQL and Redis; prints a table (no assertions).
#   hack/bench/worker.sh [-n 20]
set -euo pipefail
cd "$(dirname "$0")/../.."
export GOTOOLCHAIN=local
mkdir -p bin
go build -o bin/contract-lucidity ./services/cmd/contract-lucidity
go run ./services/worker/bench -bin bin/contract-lucidity "$@"
