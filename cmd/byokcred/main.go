// Command byokcred gives the GitHub Copilot SDK real credentials for its BYOK
// model providers. See the README for the config file and the commands.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/byokcred/byokcred/internal/cli"

	// The built-in credential kinds. A custom build adds its own here.
	_ "github.com/byokcred/byokcred/auth/aws"
	_ "github.com/byokcred/byokcred/auth/entra"
	_ "github.com/byokcred/byokcred/auth/gcp"
	_ "github.com/byokcred/byokcred/auth/plugin"
	_ "github.com/byokcred/byokcred/auth/static"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// The first signal cancels ctx and every command winds down through it;
	// from then on the default action is back, so a second Ctrl-C ends the
	// process even if something is stuck in a call that ignores ctx.
	go func() {
		<-ctx.Done()
		stop()
	}()
	code := cli.Run(ctx, os.Args[1:], cli.Env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr})
	stop()
	os.Exit(code)
}
