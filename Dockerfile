# The byokcred image: `make image` (docker build). The build needs no network
# beyond the Go module proxy; the image is the static binaries alone on
# distroless/static (byokcred and its key command byokcred-credential; no
# shell, no package manager), run as uid 65532
# (nonroot), and works with a read-only root filesystem: byokcred writes
# nothing but its logs (stderr). deploy/kubernetes runs it.
#
# GO_VERSION is go.mod's go line (the Makefile passes it; deploy's tests
# check that they agree).
ARG GO_VERSION=1.26.8

FROM golang:${GO_VERSION}-bookworm AS build
WORKDIR /src
# Static (no C library to find at run time), modules through the module
# proxy only, and the toolchain the image has (no toolchain download).
ENV CGO_ENABLED=0 GOFLAGS=-mod=mod GOTOOLCHAIN=local
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN go build -trimpath -ldflags="-s -w -X github.com/byokcred/byokcred/internal/cli.Version=${VERSION}" \
      -o /out/byokcred ./cmd/byokcred
# The key command the Copilot CLI runs before every model request (`byokcred
# copilot-env` prints it when it sits next to byokcred): static too, as the
# Makefile builds it.
RUN go build -trimpath -ldflags="-s -w" -o /out/byokcred-credential ./cmd/byokcred-credential

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/byokcred /usr/local/bin/byokcred
COPY --from=build /out/byokcred-credential /usr/local/bin/byokcred-credential
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/byokcred"]
CMD ["--help"]
