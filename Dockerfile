# podtrace's container image: one static binary on distroless, running as
# non-root. The web UI (ui/dist) is committed and embedded, so the build needs
# only Go.
#   docker build -t ghcr.io/podtrace/podtrace:dev .        (make image)
# Multi-platform: docker buildx build --platform linux/amd64,linux/arm64 ...

ARG GO_VERSION=1.27.3

FROM --platform=$BUILDPLATFORM golang:${GO_VERSION} AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG TARGETOS TARGETARCH
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -ldflags="-s -w" -o /out/podtrace ./cmd/podtrace

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/podtrace /podtrace
# distroless's nonroot user; the manifests run as it too (runAsUser 65532)
USER 65532:65532
EXPOSE 8080 4317 4318
ENTRYPOINT ["/podtrace"]
CMD ["serve", "--config", "/etc/podtrace/config.yaml"]
