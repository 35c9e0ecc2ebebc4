#!/usr/bin/env bash
# Operator benchmarks (numbers, not assertions) against envtest's etcd and
# kube-apiserver, with the operator as a separate process built from main.go:
#  - time from creating a ContractLucidity to all its children applied
#  - write requests per steady-state reconcile (goal 0), from the audit log
#  - peak RSS with 0 instances while 1,000 unrelated 100 KiB Secrets exist (goal < 60 MiB)
#  - 200 instances in one namespace: time until all reconciled, peak RSS (goal < 150 MiB)
# Extra arguments go to the program, e.g. hack/bench/operator.sh -instances 50
set -euo pipefail
cd "$(dirname "$0")/../.."
export GOTOOLCHAIN=local
export KUBEBUILDER_ASSETS=${KUBEBUILDER_ASSETS:-$(hack/k8s-binaries.sh envtest)}
exec go run ./hack/bench/operator "$@"
