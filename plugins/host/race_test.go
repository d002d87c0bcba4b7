//go:build race

package host

// raceEnabled makes TestMain build the plugins with -race too, so that they
// reuse the packages already compiled for this test binary instead of
// compiling grpc and friends a second time.
const raceEnabled = true
