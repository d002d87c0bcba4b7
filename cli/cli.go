// Package cli is the byokcred command line, for custom builds: a team that
// writes its own credential kinds (auth types) builds a byokcred that
// accepts them with a main package that imports the kinds it wants (package
// builtin has every built-in kind and store) and calls Main, the way
// cmd/byokcred does:
//
//	package main
//
//	import (
//		"github.com/byokcred/byokcred/cli"
//
//		_ "github.com/byokcred/byokcred/builtin"
//		_ "example.com/team/gatewayauth" // the team's own kind
//	)
//
//	func main() { cli.Main() }
//
// Every command then knows the extra kinds: `validate` checks their keys,
// and `schema` prints a JSON Schema that includes them.
package cli

import (
	"context"
	"io"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	internalcli "github.com/byokcred/byokcred/internal/cli"
)

// Exit codes of Run.
const (
	ExitOK      = internalcli.ExitOK
	ExitFailure = internalcli.ExitFailure // the command ran and failed
	ExitUsage   = internalcli.ExitUsage   // bad flags, arguments or config
)

// Env is the world a command runs in. Zero fields get the process's own:
// nil streams are discarded (Stdin reads as empty), a nil LookupEnv reads
// the process environment, a nil HTTPClient leaves each SDK its own client.
type Env struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	LookupEnv      func(string) (string, bool)
	// HTTPClient carries the requests of the credential kinds and secret
	// stores (registry.Options.HTTPClient).
	HTTPClient *http.Client
}

// Run runs byokcred with args (without the program name) and returns the
// exit code. Cancelling ctx winds the running command down.
func Run(ctx context.Context, args []string, env Env) int {
	return internalcli.Run(ctx, args, internalcli.Env(env))
}

// Main runs byokcred with the process's arguments, streams and environment,
// and exits with its exit code. The first SIGINT or SIGTERM cancels the
// command; a second one ends the process.
func Main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// From the first signal on, the default action is back, so a second
	// Ctrl-C ends the process even if something is stuck in a call that
	// ignores ctx.
	go func() {
		<-ctx.Done()
		stop()
	}()
	code := Run(ctx, os.Args[1:], Env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr})
	stop()
	os.Exit(code)
}
