# syntax=docker/dockerfile:1.7
#
# Two images from one build (`make docker-build`, `make docker-push`):
#   --target operator -> ghcr.io/contract-lucidity/operator:<VERSION>
#   --target app      -> ghcr.io/contract-lucidity/contract-lucidity:<VERSION>
# The default target (the last stage) is the operator, as in kubebuilder.
# Built cross-platform with buildx (linux/amd64, linux/arm64): the Go stages
# run on the build platform and cross-compile (CGO_ENABLED=0), only the
# final stages are per-platform.
#
# Base images: by tag until `make pin-images` (where a registry is
# reachable) rewrites each FROM to tag@sha256:digest; Renovate
# (renovate.json) keeps the pins current. Only digests resolved from a
# registry are ever written here.

ARG VERSION=dev

############################ builder ############################
FROM --platform=$BUILDPLATFORM golang:1.26-bookworm AS builder
WORKDIR /src
ENV CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS=-trimpath
# Dependencies first: this layer is reused until go.mod/go.sum change.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod \
    go mod download
COPY . .

FROM builder AS build-operator
ARG TARGETOS TARGETARCH
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    GOOS=$TARGETOS GOARCH=$TARGETARCH go build -ldflags="-s -w" -o /out/manager .

FROM builder AS build-app
ARG TARGETOS TARGETARCH VERSION
# main.version: recorded in backups (contract-lucidity backup create).
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    GOOS=$TARGETOS GOARCH=$TARGETARCH go build -ldflags="-s -w -X main.version=${VERSION}" \
      -o /out/contract-lucidity ./services/cmd/contract-lucidity

############################ app ############################
# The application (backend, migrate, worker, frontend subcommands). The worker
# shells out to pdftotext/pdftoppm (poppler-utils) and tesseract for OCR.
FROM debian:bookworm-slim AS app
ARG VERSION
LABEL org.opencontainers.image.title="contract-lucidity" \
      org.opencontainers.image.description="Contract Lucidity: backend, worker, frontend and migrations" \
      org.opencontainers.image.source="https://github.com/contract-lucidity/contract-lucidity" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}"
RUN --mount=type=cache,target=/var/cache/apt,sharing=locked \
    --mount=type=cache,target=/var/lib/apt/lists,sharing=locked \
    rm -f /etc/apt/apt.conf.d/docker-clean \
 && apt-get update \
 && apt-get install -y --no-install-recommends \
      ca-certificates \
      poppler-utils \
      tesseract-ocr \
      tesseract-ocr-eng \
      fonts-dejavu-core \
      fonts-liberation2 \
 && groupadd --system --gid 65532 nonroot \
 && useradd --system --uid 65532 --gid 65532 --home-dir /home/nonroot --create-home \
      --shell /usr/sbin/nologin nonroot \
 && mkdir -p /data/storage \
 && chown 65532:65532 /data/storage
COPY --from=build-app /out/contract-lucidity /usr/local/bin/contract-lucidity
ENV STORAGE_PATH=/data/storage
# frontend :3000, backend :8000 (metrics :9091), worker health/metrics :9090
EXPOSE 3000 8000 9090 9091
# Numeric, so Kubernetes can verify runAsNonRoot without a runAsUser.
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/contract-lucidity"]

############################ operator ############################
FROM gcr.io/distroless/static-debian12:nonroot AS operator
ARG VERSION
LABEL org.opencontainers.image.title="contract-lucidity-operator" \
      org.opencontainers.image.description="Kubernetes operator for Contract Lucidity" \
      org.opencontainers.image.source="https://github.com/contract-lucidity/contract-lucidity" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}"
WORKDIR /
COPY --from=build-operator /out/manager /manager
USER 65532:65532
ENTRYPOINT ["/manager"]
