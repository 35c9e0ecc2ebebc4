#!/usr/bin/env bash
# Sets the project's version everywhere it is written down, from one value:
# VERSION (read by the Makefile for the image tags), the chart's version and
# appVersion, the operator's default spec.version (Go constant and CRD
# default), the chart's instance example, the samples, the operator image
# tag in config/manager and the release tag of config/gitops. test/release
# and test/overlays fail when they disagree.
#
# usage: hack/set-version.sh 0.2.0
set -euo pipefail
v=${1:?usage: hack/set-version.sh X.Y.Z}
[[ $v =~ ^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$ ]] || { echo "not a semantic version: $v" >&2; exit 2; }
cd "$(dirname "$0")/.."
old=$(cat VERSION)
echo "$v" > VERSION
sed -i -E "s/^version: .*/version: $v/; s/^appVersion: .*/appVersion: \"$v\"/" charts/contract-lucidity/Chart.yaml
sed -i -E "s/^(\s*DefaultVersion\s*=\s*)\"[^\"]*\"/\1\"$v\"/" controllers/defaults.go
# the default marker among the comment lines right above the Version field
perl -0pi -e 's{(// \+kubebuilder:default=)"[^"]*"(\n(?:\s*//.*\n)*\s*Version\s+string)}{$1"'"$v"'"$2}' api/v1alpha1/contractlucidity_types.go
sed -i -E "s/^(    version: )\"[^\"]*\"/\1\"$v\"/" charts/contract-lucidity/values.yaml
sed -i -E "s/^(  version: )\"[^\"]*\"/\1\"$v\"/" config/samples/*.yaml
sed -i -E "s/^(  newTag: ).*/\1$v/" config/manager/kustomization.yaml
# the release the GitOps examples follow
sed -i -E "s/^(    targetRevision: )v.*/\1v$v/" config/gitops/argocd/*.yaml
sed -i -E "s/^(    tag: )v.*/\1v$v/" config/gitops/flux/source.yaml
echo "version $old -> $v; run 'make manifests' to regenerate the CRD and the chart's copy of it" >&2
