# syntax=docker/dockerfile:1
# One image for every ordertable component (customers, orders, indexer, search, reindex, seed,
# verify): a static Go binary on distroless/static, running as nonroot. docker-compose.yml picks
# the subcommand.
#
#   docker build -t ordertable:local .
#   docker run --rm ordertable:local --help

ARG GO_VERSION=1.26

# ---- build: static binaries (no cgo), trimmed paths, no symbol tables --------------------
FROM --platform=$BUILDPLATFORM golang:${GO_VERSION} AS build
WORKDIR /src
# Modules first, so source edits do not invalidate the download layer.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG TARGETOS
ARG TARGETARCH
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    set -eu; \
    export CGO_ENABLED=0 GOOS="${TARGETOS:-linux}" GOARCH="${TARGETARCH:-amd64}"; \
    go build -trimpath -ldflags="-s -w" -o /out/ordertable ./cmd/ordertable; \
    go build -trimpath -ldflags="-s -w" -o /out/probe ./deploy/probe

# ---- runtime: no shell, no package manager, uid 65532 -----------------------------------
FROM gcr.io/distroless/static-debian12:nonroot
WORKDIR /app
COPY --from=build /out/ordertable /usr/local/bin/ordertable
# Health-check client for compose/Kubernetes exec probes (the image has no curl or shell).
COPY --from=build /out/probe /usr/local/bin/probe
# Index mappings, so `reindex run --mapping mappings/orders_v2.json` works from WORKDIR.
COPY mappings/*.json /app/mappings/
USER nonroot:nonroot
EXPOSE 8080 8081 8082 9102
ENTRYPOINT ["/usr/local/bin/ordertable"]
CMD ["--help"]
