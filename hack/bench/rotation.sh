#!/usr/bin/env bash
# Password rotation under load (numbers, not assertions): the operator's
# database and Redis rotation sequences played against real PostgreSQL and
# Redis with the operator's helper scripts, while 4 clients send
# authenticated requests through the backends being rolled; reports
# requests and failed requests per rotation (the tests require 0 failed).
#   hack/bench/rotation.sh [-benchtime 3x]
set -euo pipefail
cd "$(dirname "$0")/../.."
export GOTOOLCHAIN=local
exec go test ./services/internal/rotationtest -run '^$' -bench . -benchtime 1x -count 1 -timeout 10m "$@"
