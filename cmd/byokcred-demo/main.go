// Command byokcred-demo runs real chat turns through the Copilot CLI runtime
// with credentials from byokcred configs, against model and identity
// endpoints it starts on 127.0.0.1: static keys, Entra ID tokens that rotate
// while you watch, an exec plugin, and one session over several providers.
// No cloud account is needed and nothing is written outside a temporary
// directory. `make demo` builds and runs it.
//
// It is a program of its own, not a command of the shipped byokcred, because
// it carries fake endpoints and points azidentity at one through the process
// environment.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/byokcred/byokcred/internal/scrub"

	// Every kind and store the stock byokcred has.
	_ "github.com/byokcred/byokcred/builtin"
)

func main() {
	// The exec plugin runs this program as the demo's token command.
	if len(os.Args) == 3 && os.Args[1] == mintTokenArg {
		if err := mintToken(os.Stdout, os.Args[2], time.Now()); err != nil {
			fmt.Fprintln(os.Stderr, "byokcred-demo:", err)
			os.Exit(1)
		}
		return
	}
	timeout := flag.Duration("timeout", 3*time.Minute, "give up after this long")
	pluginDir := flag.String("plugins", os.Getenv("BYOKCRED_PLUGIN_DIR"), "directory of the shipped plugins (default: plugins/ beside this program)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	var secrets scrub.Set
	err := run(ctx, os.Stdout, *pluginDir, &secrets, watchingPace)
	cancel()
	stop()
	if err != nil {
		// The runtime's error text may quote a credential.
		fmt.Fprintln(os.Stderr, "byokcred-demo:", secrets.Scrub(err.Error()))
		os.Exit(1)
	}
}
