#!/usr/bin/env bash
# bench/run.sh — `make bench`: run byokcred's benchmarks and write
# BENCHMARKS.md from their raw output.
#
# The suite runs BENCH_RUNS times (default 5), interleaved: each run executes
# every benchmark once, so that drift on a shared machine falls on each
# figure and its baseline alike. The end-to-end benchmark, which needs the
# Copilot CLI runtime (one ~300 MB process), runs last, BENCH_RUNS times in
# one process; it interleaves its two sessions itself.
#
# Raw output: bench/out/raw.txt (git-ignored). Report: BENCHMARKS.md, from
# `go run ./internal/benchreport < bench/out/raw.txt`.
set -euo pipefail
cd "$(dirname "$0")/.."

GO=${GO:-go}
RUNS=${BENCH_RUNS:-5}
OUT=bench/out
RAW=$OUT/raw.txt
mkdir -p "$OUT/bin"
start=$(date +%s)

echo "== building the benchmark binary and helpers"
"$GO" test -c -o "$OUT/bench.test" ./bench
"$GO" test -c -o "$OUT/proxy.test" ./proxy
"$GO" build -o "$OUT/bin/" ./bench/internal/... ./cmd/byokcred
CGO_ENABLED=0 "$GO" build -o "$OUT/bin/" ./cmd/byokcred-credential # as make build does
export BYOKCRED_BENCH_BIN=$PWD/$OUT/bin

{
	echo "started: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "go: $("$GO" env GOVERSION)"
	echo "runs: $RUNS"
} >"$RAW"

# bench runs the benchmark binary in bench/ (as go test would) and appends
# its output to the raw file.
bench() {
	(cd bench && ./out/bench.test -test.run '^$' -test.benchmem "$@") | tee -a "$RAW"
}

for i in $(seq "$RUNS"); do
	echo "== run $i of $RUNS"
	bench -test.bench '^Benchmark(WarmToken|Herd|PluginFetch|BedrockKeyMint|PerUserWarmToken)$' -test.benchtime 1s
	bench -test.bench '^BenchmarkScale$' -test.benchtime 2s
	bench -test.bench '^Benchmark(RefreshStalls|Footprint|OutageLoad|PastRefreshHint|PerUserFootprint|PerUserJunkTokens)$' -test.benchtime 1x
	(cd proxy && ../$OUT/proxy.test -test.run '^$' -test.benchmem -test.bench '^Benchmark(Direct|ViaProxy|BareReverseProxy)$' -test.benchtime 1s) | tee -a "$RAW"
done
# Figure 11 starts about 3,400 processes; its legs alternate within the one run.
echo "== key command (one run, legs interleaved)"
bench -test.bench '^BenchmarkKeyCommand$' -test.benchtime 1x
echo "== end to end ($RUNS runs)"
bench -test.bench '^BenchmarkEndToEnd$' -test.benchtime 25x -test.count "$RUNS"

echo "elapsed: $(($(date +%s) - start))s" >>"$RAW"
"$GO" run ./internal/benchreport <"$RAW" >BENCHMARKS.md
echo "== wrote BENCHMARKS.md from $RAW in $(($(date +%s) - start))s"
