// Command byokcred-credential is the key command at a plain Go program's
// start-up cost: `byokcred credential` answered by a running agent, without
// the full binary's initialisation of every credential kind, secret store
// and SDK. The Copilot CLI runs the key command before every model request,
// so `byokcred copilot-env` prints this binary when it sits next to
// byokcred.
//
// It takes byokcred's own arguments (`-c CONFIG credential --agent MODE
// NAME`) and answers only when the agent hands it the credential. In every
// other case — arguments it does not parse itself, --agent off, no agent,
// an agent's error, an untrusted socket, --help — it executes the byokcred
// next to it with the same arguments, so every flag, message and exit code
// is byokcred's own. It links only the agent's client (internal/agent) and
// the standard library.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/byokcred/byokcred/internal/agent"
)

func main() {
	args := os.Args[1:]
	inv, ok := parse(args)
	if ok {
		if token, ok := ask(context.Background(), inv, os.LookupEnv); ok {
			// As `byokcred credential` prints it, and as its Run reports
			// a failed write.
			if _, err := fmt.Fprintln(os.Stdout, token); err != nil {
				fmt.Fprintln(os.Stderr, "byokcred:", err)
				os.Exit(1)
			}
			return
		}
	}
	full, err := fullBinary()
	if err == nil {
		err = execFull(full, args)
		err = fmt.Errorf("%s: %w", full, err)
	}
	// One line, as every failure of the key command: the CLI shows it.
	fmt.Fprintf(os.Stderr, "byokcred credential: cannot run the full byokcred: %v; byokcred-credential hands it every case but an agent's answer, so install the two in one directory (make build puts both in bin/)\n", err)
	os.Exit(1)
}

// invocation is a `credential` command line this binary answers itself.
type invocation struct {
	config, logLevel, logFormat, output string // byokcred's global flags
	mode, socket, name                  string // credential's flags and argument
}

// parse reads args as byokcred's command line and returns the credential
// invocation they are, or false when they hold anything else: another
// command, a flag it does not know, a form of one it does not read (-cFILE,
// --), a value byokcred would refuse. The full binary then gives the answer
// (or the error) it always gives. Flags follow cobra's and pflag's rules
// for what is accepted: anywhere, before or after the command (cobra parses
// the command's flags over every argument), --flag VALUE or --flag=VALUE,
// the last of a repeated flag wins.
func parse(args []string) (invocation, bool) {
	inv := invocation{logLevel: "warn", logFormat: "text", output: "text", mode: "auto"}
	sub, names := false, 0
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "" || a == "-" || a[0] != '-' {
			switch {
			case !sub && a == "credential":
				sub = true
			case !sub:
				return inv, false
			default:
				if names++; names > 1 {
					return inv, false
				}
				inv.name = a
			}
			continue
		}
		flag, value, inline := strings.Cut(a, "=")
		var dst *string
		switch {
		case flag == "--config" || flag == "-c" && !inline:
			dst = &inv.config
		case flag == "--log-level":
			dst = &inv.logLevel
		case flag == "--log-format":
			dst = &inv.logFormat
		case flag == "--output" || flag == "-o" && !inline:
			dst = &inv.output
		case flag == "--agent":
			dst = &inv.mode
		case flag == "--socket":
			dst = &inv.socket
		default:
			return inv, false
		}
		if !inline {
			if i+1 == len(args) {
				return inv, false
			}
			i++
			value = args[i]
		}
		*dst = value
	}
	var level slog.Level
	switch {
	case !sub, level.UnmarshalText([]byte(inv.logLevel)) != nil,
		inv.logFormat != "text" && inv.logFormat != "json",
		inv.output != "text": // -o json is byokcred's usage error for credential
		return inv, false
	}
	switch inv.mode {
	case "auto", "require", "start":
		return inv, true
	}
	return inv, false // off works alone; anything else is byokcred's usage error
}

// ask returns the credential the agent answers inv with, as `byokcred
// credential` asks for it: the same socket, config path and request.
func ask(ctx context.Context, inv invocation, lookupEnv func(string) (string, bool)) (string, bool) {
	socket := inv.socket
	if socket == "" {
		socket = agent.DefaultSocket(lookupEnv)
	}
	cfg, err := filepath.Abs(agent.ConfigPath(inv.config, lookupEnv))
	if err != nil {
		return "", false
	}
	req := agent.Request{Op: agent.OpToken, Provider: inv.name, Config: cfg}
	_, resp, err := agent.AskConfig(ctx, socket, req, inv.mode == "start")
	if err != nil {
		return "", false
	}
	return resp.Token, true
}

// fullBinary is the byokcred next to this binary: NAME for NAME-credential
// (a custom build ships its own pair), else byokcred.
func fullBinary() (string, error) {
	self, err := os.Executable()
	if err != nil {
		return "", err
	}
	if resolved, err := filepath.EvalSymlinks(self); err == nil {
		self = resolved
	}
	return fullBinaryOf(self), nil
}

// fullBinaryOf is fullBinary for the small binary at self.
func fullBinaryOf(self string) string {
	dir, base := filepath.Split(self)
	base, exeSuffix := strings.CutSuffix(base, ".exe")
	name, ok := strings.CutSuffix(base, "-credential")
	if !ok || name == "" {
		name = "byokcred"
	}
	if exeSuffix {
		name += ".exe"
	}
	return filepath.Join(dir, name)
}
