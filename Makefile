# Contract Lucidity — operator and services.
# Tools are installed into a versioned cache outside the clone and reused.

SHELL := /usr/bin/env bash -o pipefail
.SHELLFLAGS := -ec
comma := ,
export GOTOOLCHAIN := local

CACHE ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/contract-lucidity
BIN ?= bin

# One version (the VERSION file, set with hack/set-version.sh) drives the
# image tags, the chart's appVersion and the operator's default spec.version.
VERSION ?= $(shell cat VERSION)
REGISTRY ?= ghcr.io/contract-lucidity
IMG ?= $(REGISTRY)/operator:$(VERSION)
APP_IMG ?= $(REGISTRY)/contract-lucidity:$(VERSION)
PLATFORMS ?= linux/amd64,linux/arm64
CHART_REGISTRY ?= oci://$(REGISTRY)/charts

CONTROLLER_TOOLS_VERSION ?= v0.23.0
KUSTOMIZE_VERSION ?= v5.8.2
CRANE_VERSION ?= v0.22.1
ACTIONLINT_VERSION ?= v1.7.12
GITLEAKS_VERSION ?= v8.30.1
GOVULNCHECK_VERSION ?= v1.9.0
CONTROLLER_GEN ?= $(CACHE)/tools/controller-gen-$(CONTROLLER_TOOLS_VERSION)
KUSTOMIZE ?= $(CACHE)/tools/kustomize-$(KUSTOMIZE_VERSION)
CRANE ?= $(CACHE)/tools/crane-$(CRANE_VERSION)
ACTIONLINT ?= $(CACHE)/tools/actionlint-$(ACTIONLINT_VERSION)
GITLEAKS ?= $(CACHE)/tools/gitleaks-$(GITLEAKS_VERSION)
GOVULNCHECK ?= $(CACHE)/tools/govulncheck-$(GOVULNCHECK_VERSION)
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
	hack/seaweedfs.sh >/dev/null

.PHONY: lint-workflows
lint-workflows: $(ACTIONLINT) ## Lint the GitHub Actions workflows with actionlint.
	$(ACTIONLINT) -no-color

.PHONY: validate-source
validate-source: $(GITLEAKS) $(GOVULNCHECK) ## Security validation of the source: hard-coded credentials (gitleaks), vulnerable dependencies (govulncheck).
	go run ./services/cmd/contract-lucidity validate source --gitleaks $(GITLEAKS) --govulncheck $(GOVULNCHECK) .

.PHONY: test
test: manifests generate fmt vet deps lint-workflows validate-source $(CRANE) ## Run all tests against real components.
	CRANE=$(CRANE) GITLEAKS=$(GITLEAKS) GOVULNCHECK=$(GOVULNCHECK) KUBEBUILDER_ASSETS="$$(hack/k8s-binaries.sh all)" go test ./... -count=1 -timeout 75m

.PHONY: bench
bench: deps ## Run the benchmarks (numbers, not assertions).
	hack/bench/run.sh

##@ Build

.PHONY: build
build: generate fmt vet ## Build the operator and the service binary.
	go build -o $(BIN)/manager .
	go build -o $(BIN)/contract-lucidity ./services/cmd/contract-lucidity
	go build -o $(BIN)/clctl ./services/clctl

.PHONY: install-clctl
install-clctl: ## Install clctl into $GOBIN (go install ./services/clctl).
	go install ./services/clctl

.PHONY: run
run: manifests generate ## Run the operator against the cluster in ~/.kube/config.
	go run .

.PHONY: demo
demo: ## Run the whole product on this machine (PostgreSQL, Redis, backend, worker, UI).
	hack/demo.sh

##@ Images and release

# docker buildx for both targets. With several PLATFORMS the result stays in
# buildx's cache (a multi-platform image cannot be loaded into the local
# engine); with one platform it is loaded, for `docker run`.
BUILDX = docker buildx build --platform $(PLATFORMS) --build-arg VERSION=$(VERSION)

.PHONY: docker-build
docker-build: ## Build the operator and app images for $(PLATFORMS) (IMG, APP_IMG, VERSION).
	$(BUILDX) --target operator -t $(IMG) $(if $(findstring $(comma),$(PLATFORMS)),,--load) .
	$(BUILDX) --target app -t $(APP_IMG) $(if $(findstring $(comma),$(PLATFORMS)),,--load) .

.PHONY: docker-push
docker-push: ## Build and push both images for $(PLATFORMS) (IMG, APP_IMG, VERSION).
	$(BUILDX) --target operator -t $(IMG) --push .
	$(BUILDX) --target app -t $(APP_IMG) --push .

.PHONY: pin-images
pin-images: $(CRANE) ## Pin the Dockerfile's base images to the digests their tags have now (needs a registry).
	CRANE=$(CRANE) hack/pin-images.sh Dockerfile

.PHONY: set-version
set-version: ## Set the version everywhere: make set-version NEW=0.2.0
	hack/set-version.sh $(NEW)
	$(MAKE) manifests

DIST ?= dist
.PHONY: release-manifests
release-manifests: manifests $(KUSTOMIZE) ## Write $(DIST)/install.yaml (CRD, RBAC, operator at IMG).
	mkdir -p $(DIST)
	$(call render-install) > $(DIST)/install.yaml

.PHONY: chart-package
chart-package: manifests ## Package the Helm chart into $(DIST)/ (version and appVersion = VERSION).
	mkdir -p $(DIST)
	hack/helm.sh package charts/contract-lucidity --version $(VERSION) --app-version $(VERSION) -d $(DIST)

.PHONY: chart-push
chart-push: chart-package ## Push the packaged chart to $(CHART_REGISTRY) (OCI).
	hack/helm.sh push $(DIST)/contract-lucidity-$(VERSION).tgz $(CHART_REGISTRY)

# render-install prints config/default with the operator image set to IMG,
# from a copy: no tracked file is edited.
define render-install
tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && cp -r config "$$tmp/" && \
  (cd "$$tmp/config/manager" && $(KUSTOMIZE) edit set image controller=$(IMG)) && \
  $(KUSTOMIZE) build "$$tmp/config/default"
endef

##@ Deployment

.PHONY: install
install: manifests $(KUSTOMIZE) ## Install the CRD into the cluster.
	$(KUSTOMIZE) build config/crd | $(KUBECTL) apply --server-side -f -

.PHONY: uninstall
uninstall: manifests $(KUSTOMIZE) ## Remove the CRD from the cluster.
	$(KUSTOMIZE) build config/crd | $(KUBECTL) delete --ignore-not-found -f -

.PHONY: deploy
deploy: manifests $(KUSTOMIZE) ## Deploy the operator (image IMG) to the cluster.
	$(call render-install) | $(KUBECTL) apply --server-side -f -

.PHONY: undeploy
undeploy: $(KUSTOMIZE) ## Remove the operator from the cluster.
	$(KUSTOMIZE) build config/default | $(KUBECTL) delete --ignore-not-found -f -

##@ Tools

$(CONTROLLER_GEN):
	mkdir -p $(dir $@) && tmp=$$(mktemp -d) && GOBIN=$$tmp go install sigs.k8s.io/controller-tools/cmd/controller-gen@$(CONTROLLER_TOOLS_VERSION) && mv $$tmp/controller-gen $@

$(KUSTOMIZE):
	mkdir -p $(dir $@) && tmp=$$(mktemp -d) && GOBIN=$$tmp go install sigs.k8s.io/kustomize/kustomize/v5@$(KUSTOMIZE_VERSION) && mv $$tmp/kustomize $@

$(CRANE):
	mkdir -p $(dir $@) && tmp=$$(mktemp -d) && GOBIN=$$tmp go install github.com/google/go-containerregistry/cmd/crane@$(CRANE_VERSION) && mv $$tmp/crane $@

$(ACTIONLINT):
	mkdir -p $(dir $@) && tmp=$$(mktemp -d) && GOBIN=$$tmp go install github.com/rhysd/actionlint/cmd/actionlint@$(ACTIONLINT_VERSION) && mv $$tmp/actionlint $@

$(GITLEAKS):
	mkdir -p $(dir $@) && tmp=$$(mktemp -d) && GOBIN=$$tmp go install github.com/zricethezav/gitleaks/v8@$(GITLEAKS_VERSION) && mv $$tmp/gitleaks $@

$(GOVULNCHECK):
	mkdir -p $(dir $@) && tmp=$$(mktemp -d) && GOBIN=$$tmp go install golang.org/x/vuln/cmd/govulncheck@$(GOVULNCHECK_VERSION) && mv $$tmp/govulncheck $@

.PHONY: controller-gen kustomize crane actionlint gitleaks govulncheck
controller-gen: $(CONTROLLER_GEN)
kustomize: $(KUSTOMIZE)
crane: $(CRANE)
actionlint: $(ACTIONLINT)
gitleaks: $(GITLEAKS)
govulncheck: $(GOVULNCHECK)

# print-VAR prints a variable (tests find the cached tools with it).
print-%:
	@echo $($*)
