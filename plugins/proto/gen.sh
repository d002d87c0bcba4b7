#!/usr/bin/env bash
# Regenerates credential.pb.go and credential_grpc.pb.go from credential.proto.
#
# Needs protoc (Debian 12: apt-get install -y protobuf-compiler, protoc
# 3.21.12, the version the committed code names). The two Go code
# generators are installed at pinned versions into .tools/bin of the
# repository (or $PROTO_GEN_BIN), so every run produces the same output
# whatever is on PATH: protoc-gen-go v1.36.6 generated the committed code
# (google.golang.org/protobuf in go.mod, a later v1.36, reads it), and
# protoc-gen-go-grpc v1.3.0 generates code for grpc >= 1.52.
#
# .ci/check-generated runs it on a copy of the tree and compares.
set -euo pipefail

PROTOC_GEN_GO_VERSION=v1.36.6
PROTOC_GEN_GO_GRPC_VERSION=v1.3.0

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
bin="${PROTO_GEN_BIN:-$root/.tools/bin}"

if ! command -v protoc >/dev/null 2>&1; then
	echo "gen.sh: protoc not found; install it (Debian: apt-get install -y protobuf-compiler)" >&2
	exit 1
fi

mkdir -p "$bin"
# Install outside the module so that go.mod and go.sum are left alone.
(cd / && GOFLAGS= GOBIN="$bin" go install "google.golang.org/protobuf/cmd/protoc-gen-go@$PROTOC_GEN_GO_VERSION")
(cd / && GOFLAGS= GOBIN="$bin" go install "google.golang.org/grpc/cmd/protoc-gen-go-grpc@$PROTOC_GEN_GO_GRPC_VERSION")

cd "$here"
protoc \
	--plugin=protoc-gen-go="$bin/protoc-gen-go" \
	--plugin=protoc-gen-go-grpc="$bin/protoc-gen-go-grpc" \
	--go_out=. --go_opt=paths=source_relative \
	--go-grpc_out=. --go-grpc_opt=paths=source_relative \
	credential.proto
