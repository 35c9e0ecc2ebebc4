# Contract Lucidity — operator and services.
# Tools are installed into a versioned cache outside the clone and reused.

SHELL := /usr/bin/env bash -o pipefail
.SHELLFLAGS := -ec
export GOTOOLCHAIN := local

CACHE ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/contract-lucidity
BIN ?= bin
IMG ?= ghcr.io/contract-lucidity/operator:dev

CONTROLLER_TOOLS_VERSION ?= v0.23.0
KUSTOMIZE_VERSION ?= v5.8.2
CONTROLLER_GEN ?= $(CACHE)/tools/controller-gen-$(CONTROLLER_TOOLS_VERSION)
KUSTOMIZE ?= $(CACHE)/tools/kustomize-$(KUSTOMIZE_VERSION)
KUBECTL = $(shell hack/k8s-binaries.sh envtest)/kubectl

.PHONY: all
all: build

##@ General

.PHONY: help
help: ## Show the targets.
	@awk 'BEGIN {FS = ":.*##"} /^[a-zA-Z_0-9-]+:.*?##/ { printf "  %-14s %s\n", $$1, $$2 } /^##@/ { printf "\n%s\n", substr($$0, 5) }' $(MAKEFILE_LIST)

##@ Development

.PHONY: manifests
manifests: $(CONTROLLER_GEN) ## Generate the CRD and RBAC from markers.
	$(CONTROLLER_GEN) rbac:roleName=manager-role crd paths="./api/..." paths="./controllers/..." output:crd:artifacts:config=config/crd/bases
	@if [ -d charts/contract-lucidity/files ]; then cp config/crd/bases/*.yaml charts/contract-lucidity/files/crds/ && { [ ! -f config/rbac/role.yaml ] || cp config/rbac/role.yaml charts/contract-lucidity/files/rbac/; }; fi

.PHONY: generate
generate: $(CONTROLLER_GEN) ## Generate DeepCopy methods.
	$(CONTROLLER_GEN) object:headerFile="hack/boilerplate.go.txt" paths="./api/..."

.PHONY: fmt
fmt: ## go fmt.
	go fmt ./...

.PHONY: vet
vet: ## go vet.
	go vet ./...

.PHONY: deps
deps: ## Install system packages and test binaries if missing (apt, npm, Go proxy; cached).
	hack/install-deps.sh
	hack/k8s-binaries.sh all >/dev/null
	hack/helm.sh >/dev/null

.PHONY: test
test: manifests generate fmt vet deps ## Run all tests against real components.
	KUBEBUILDER_ASSETS="$$(hack/k8s-binaries.sh all)" go test ./... -count=1 -timeout 75m

.PHONY: bench
bench: deps ## Run the benchmarks (numbers, not assertions).
	hack/bench/run.sh

##@ Build

.PHONY: build
build: generate fmt vet ## Build the operator and the service binary.
	go build -o $(BIN)/manager .
	go build -o $(BIN)/contract-lucidity ./services/cmd/contract-lucidity

.PHONY: run
run: manifests generate ## Run the operator against the cluster in ~/.kube/config.
	go run .

.PHONY: demo
demo: ## Run the whole product on this machine (PostgreSQL, Redis, backend, worker, UI).
	hack/demo.sh

##@ Deployment

.PHONY: install
install: manifests $(KUSTOMIZE) ## Install the CRD into the cluster.
	$(KUSTOMIZE) build config/crd | $(KUBECTL) apply --server-side -f -

.PHONY: uninstall
uninstall: manifests $(KUSTOMIZE) ## Remove the CRD from the cluster.
	$(KUSTOMIZE) build config/crd | $(KUBECTL) delete --ignore-not-found -f -

.PHONY: deploy
deploy: manifests $(KUSTOMIZE) ## Deploy the operator to the cluster.
	cd config/manager && $(KUSTOMIZE) edit set image controller=$(IMG)
	$(KUSTOMIZE) build config/default | $(KUBECTL) apply --server-side -f -

.PHONY: undeploy
undeploy: $(KUSTOMIZE) ## Remove the operator from the cluster.
	$(KUSTOMIZE) build config/default | $(KUBECTL) delete --ignore-not-found -f -

##@ Tools

$(CONTROLLER_GEN):
	mkdir -p $(dir $@) && tmp=$$(mktemp -d) && GOBIN=$$tmp go install sigs.k8s.io/controller-tools/cmd/controller-gen@$(CONTROLLER_TOOLS_VERSION) && mv $$tmp/controller-gen $@

$(KUSTOMIZE):
	mkdir -p $(dir $@) && tmp=$$(mktemp -d) && GOBIN=$$tmp go install sigs.k8s.io/kustomize/kustomize/v5@$(KUSTOMIZE_VERSION) && mv $$tmp/kustomize $@

.PHONY: controller-gen kustomize
controller-gen: $(CONTROLLER_GEN)
kustomize: $(KUSTOMIZE)
