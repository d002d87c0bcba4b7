# byokcred — `make demo` runs the main job, `make test` runs the tests.
# Both work on a fresh clone: they install what they need first.

GO            ?= go
COPILOT_CLI_VERSION := 1.0.102
TOOLS         := .tools
COPILOT_DIR   := $(TOOLS)/copilot
COPILOT_STAMP := $(COPILOT_DIR)/.installed-$(COPILOT_CLI_VERSION)
NODE_CLIENT   := clients/node
NODE_STAMP    := $(NODE_CLIENT)/node_modules/.installed
GOFILES       := $(shell find . -name '*.go' -not -path './$(TOOLS)/*' 2>/dev/null)
PLUGINS       := exec file oauth2

.PHONY: all deps build demo test test-short lint check check-generated bench soak schema proto clean
.PHONY: node-deps node-test

all: build

## deps: Go modules, the Copilot CLI runtime (npm, installed locally into .tools/)
## and the TypeScript client's dev dependencies (node-deps)
deps: $(COPILOT_STAMP) $(NODE_STAMP)
	$(GO) mod download

$(COPILOT_STAMP):
	@mkdir -p $(COPILOT_DIR)
	npm install --prefix $(COPILOT_DIR) --no-audit --no-fund --no-save --loglevel=error @github/copilot@$(COPILOT_CLI_VERSION)
	@# The first start unpacks ~200 MB into the user cache; do it once here,
	@# not in several test packages starting the runtime at the same time.
	env -u GH_TOKEN -u GITHUB_TOKEN -u COPILOT_GITHUB_TOKEN $(COPILOT_DIR)/node_modules/.bin/copilot --version
	@touch $@

## build: bin/byokcred, its key command bin/byokcred-credential and the
## shipped plugins in bin/plugins/
build: bin/byokcred bin/byokcred-credential $(addprefix bin/plugins/byokcred-plugin-,$(PLUGINS))

## node-deps: the TypeScript client's pinned dev dependencies (typescript,
## @types/node, @github/copilot-sdk and its runtime) into clients/node/node_modules
node-deps: $(NODE_STAMP)

$(NODE_STAMP): $(NODE_CLIENT)/package.json $(NODE_CLIENT)/package-lock.json
	@# install, not ci: the lock holds only the platforms the registry served
	@# (the SDK's runtime is an optional dependency per platform); --no-save
	@# leaves the lock as committed.
	cd $(NODE_CLIENT) && npm install --no-audit --no-fund --no-save --loglevel=error
	@touch $@

## node-test: the TypeScript client's unit tests and its end-to-end test
## through the SDK (both also run in make test, from internal/cli)
node-test: node-deps
	$(GO) test -count=1 -run 'TestNodeClientUnit|TestTypeScriptSDKThroughAgent' ./internal/cli

bin/byokcred: $(GOFILES) go.mod go.sum
	$(GO) build -o $@ ./cmd/byokcred

# No cgo: its one socket is a unix socket (nothing for cgo's DNS resolver to
# do), and a static binary starts without the dynamic loader, which cost
# about 1.5 ms of every model request on the 2-core machine.
bin/byokcred-credential: $(GOFILES) go.mod go.sum
	CGO_ENABLED=0 $(GO) build -o $@ ./cmd/byokcred-credential

bin/byokcred-demo: $(GOFILES) go.mod go.sum
	$(GO) build -o $@ ./cmd/byokcred-demo

bin/plugins/byokcred-plugin-%: $(GOFILES) go.mod go.sum
	$(GO) build -o $@ ./plugins/$*/cmd/byokcred-plugin-$*

## demo: real chat turns through the Copilot runtime against loopback endpoints
demo: deps build bin/byokcred-demo
	./bin/byokcred-demo

## test: every test, including end-to-end tests against the real runtime,
## the short soak, and short fuzz runs of the config loader
## (bin/byokcred and bin/plugins are built once here for every test package
## that runs them; each package copies them instead of linking its own.
## XDG_CACHE_HOME is pinned because tests that give the cloud SDKs an empty
## HOME would otherwise make the runtime unpack itself again, ~6 s each.)
test: deps build
	XDG_CACHE_HOME=$${XDG_CACHE_HOME:-$$HOME/.cache} \
	BYOKCRED_TEST_BIN=$(CURDIR)/bin/byokcred BYOKCRED_TEST_PLUGINS=$(CURDIR)/bin/plugins \
	  $(GO) test -race -count=1 -timeout 15m ./...
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime 10s ./config
	$(GO) test -run '^$$' -fuzz '^FuzzExpand$$' -fuzztime 5s ./config
	$(MAKE) bench-smoke

## soak: the long soak (minutes): 8 sessions, rotating tokens, identity faults and an outage
soak: deps
	$(GO) test -count=1 -timeout 20m -run TestSoak -v ./soak -soak.long

## test-short: unit tests only (no runtime)
test-short:
	$(GO) test -short -count=1 ./...

## lint: gofmt, go vet and staticcheck (the version go.mod's tool directive
## pins), each with zero findings
lint:
	@out=$$(gofmt -l $(GOFILES)); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) tool staticcheck ./...

## check-generated: go.mod/go.sum as go mod tidy leaves them, and the field
## docs, byokcred.schema.json and the protobuf code as their generators make
## them (run on a copy; needs protoc); prints each drift and its fix
check-generated:
	GO=$(GO) ./.ci/check-generated

## check: lint and check-generated (CI runs it before the tests)
check: lint check-generated

## bench: the benchmarks of issue 6, interleaved runs (BENCH_RUNS, default 5);
## raw output in bench/out/raw.txt, the report in BENCHMARKS.md (< 10 min on 2 cores)
bench: deps
	GO=$(GO) ./bench/run.sh

## bench-smoke: every benchmark once, tiny (-short: a 3-hour simulated day), so they never rot
.PHONY: bench-smoke
bench-smoke: deps
	@mkdir -p bench/out
	$(GO) test -short -run '^$$' -bench . -benchtime 1x ./bench/ > bench/out/smoke.txt || { cat bench/out/smoke.txt; exit 1; }
	$(GO) test -run '^$$' -bench . -benchtime 1x ./proxy/ >> bench/out/smoke.txt || { cat bench/out/smoke.txt; exit 1; }
	$(GO) run ./internal/benchreport -check < bench/out/smoke.txt

## schema: regenerate the compiled-in field docs and the built-ins' package
## names (go generate) and byokcred.schema.json from the Go config types
schema:
	$(GO) generate ./schema ./auth/... ./secretstore/... ./examples/custom-auth/... ./internal/unknownkind
	$(GO) test -count=1 ./schema -run TestSchemaIsCurrent -update

## image: the container image (Dockerfile: the static binary on
## distroless/static, uid 65532, no shell) as $(IMAGE); needs docker (CI has
## none: deploy's tests check what can be checked without it)
IMAGE   ?= byokcred:dev
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
.PHONY: image
image:
	docker build --build-arg GO_VERSION=$$(sed -n 's/^go //p' go.mod) --build-arg VERSION=$(VERSION) -t $(IMAGE) .

## proto: regenerate the plugin protocol's Go code
proto:
	./plugins/proto/gen.sh

clean:
	rm -rf bin
