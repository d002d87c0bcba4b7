// Package bench holds byokcred's benchmarks (issue 6): each figure is
// measured against a baseline in the same run, because the machines it runs
// on are shared and noisy. `make bench` runs them with several counts and
// turns the raw `go test -bench` output into BENCHMARKS.md
// (internal/benchreport); `make bench-smoke` runs each once, tiny, so they
// never rot.
//
// Every endpoint the benchmarks talk to is on 127.0.0.1: the fake identity
// endpoint (internal/testkit/fakeidentity), the fake model endpoint
// (internal/testkit/fakemodel), the Copilot CLI runtime started by copilotcli, and
// plugin processes built from bench/internal/tokenprog.
//
// The figures, their benchmarks and baselines:
//
//  1. BenchmarkWarmToken: the token callback the runtime calls before every
//     model request, warm, on all cores, against azidentity's cached
//     GetToken and x/oauth2's ReuseTokenSource.
//  2. BenchmarkHerd: 10,000 callers on a cold cache, against no cache.
//  3. BenchmarkRefreshStalls: a simulated day of requests across token
//     refreshes, against x/oauth2's ReuseTokenSource and azcore's
//     BearerTokenPolicy refresh logic.
//  4. BenchmarkPluginFetch: one token through a long-lived plugin process,
//     against exec-per-fetch of the same program.
//  5. BenchmarkEndToEnd: turns per second through the real runtime, Entra
//     via the callback against a static API key.
//  6. BenchmarkScale: load, validate and build session configs for 10 to
//     10,000 providers.
//  7. BenchmarkFootprint: RSS of a byokcred process with 100 providers and
//     two plugins, and the number of plugin processes.
//  9. BenchmarkOutageLoad: identity fetch attempts while the identity
//     provider is down after the token expired, 100 callers, in simulated
//     time, against x/oauth2's ReuseTokenSource (and the azcore model).
//  10. BenchmarkPastRefreshHint: identity fetches per simulated minute from
//     an MSAL-style source returning a past refresh hint, against asking
//     the source per request.
//  11. BenchmarkKeyCommand: the Copilot CLI's key command as whole processes
//     (byokcred-credential answered by a running agent, and with no agent),
//     and byokcred --version, against a minimal Go program built in the
//     same run; identity fetches with and without the agent.
package bench
