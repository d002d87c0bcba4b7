package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/byokcred/byokcred/internal/agent"
	"github.com/byokcred/byokcred/provider"
	"github.com/byokcred/byokcred/registry"
	"github.com/byokcred/byokcred/session"
)

func (a *app) agentCmd() *cobra.Command {
	var socket string
	cmd := &cobra.Command{
		Use:   "agent [--socket PATH]",
		Short: "Hold the config's token caches and hand credentials to helpers on a unix socket",
		Long: `Run a credential agent, like ssh-agent: it loads the config once, keeps each
provider's token cache warm (Entra tokens are refreshed ahead of expiry, in the
background) and answers ` + "`byokcred credential`" + ` on a unix socket, so that a helper
run before every model request costs a socket round trip instead of a config
load and an identity request.

The socket is ` + "$" + agent.SocketEnv + `, else $XDG_RUNTIME_DIR/byokcred/agent.sock, else
a per-user directory in the temporary directory. It is created 0600 in a 0700
directory, and a peer of another uid is refused (SO_PEERCRED). The agent serves
only the config it was started with: a helper naming another config file
works alone. SIGHUP reloads the config; SIGINT/SIGTERM stop the agent.`,
		Example: `  byokcred -c ~/.config/byokcred.yaml agent &
  eval "$(byokcred -c ~/.config/byokcred.yaml copilot-env foundry)"
  copilot -p "Hello"`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if socket == "" {
				socket = agent.DefaultSocket(a.env.LookupEnv)
			}
			cfg, err := filepath.Abs(a.path())
			if err != nil {
				return usageError{err}
			}
			ctx, cancel := context.WithCancel(cmd.Context())
			defer cancel()               // stops the SIGHUP watcher too
			live, err := a.loadLive(ctx) // SIGHUP reloads
			if err != nil {
				return err
			}
			defer live.Close()
			ln, err := agent.Listen(socket)
			if err != nil {
				return err
			}
			defer ln.Close()
			factory := session.NewFactory(live, session.Options{})
			srv := &agent.Server{Config: cfg, Logger: a.logger, Token: func(ctx context.Context, name string) (*provider.Token, string, error) {
				p, err := live.Current().Provider(name)
				if err != nil {
					return nil, "", &agent.Error{Code: agent.CodeProvider, Msg: err.Error()}
				}
				tok, err := factory.Token(ctx, p)
				return tok, p.Name, err
			}}
			fmt.Fprintf(a.env.Stderr, "byokcred agent: listening on %s (config %s, pid %d)\n", socket, cfg, os.Getpid())
			err = srv.Serve(ctx, ln)
			fmt.Fprintln(a.env.Stderr, "byokcred agent: stopped")
			return err
		},
	}
	cmd.Flags().StringVar(&socket, "socket", "", "socket path (default $"+agent.SocketEnv+", else $XDG_RUNTIME_DIR/byokcred/agent.sock)")
	return cmd
}

// Agent modes of `credential --agent`.
const (
	agentAuto    = "auto"    // ask the agent; if none runs, work alone
	agentRequire = "require" // ask the agent; fail if none runs
	agentStart   = "start"   // ask the agent; if none runs, start one and ask it
	agentOff     = "off"     // work alone
)

func (a *app) credentialCmd() *cobra.Command {
	var mode, socket string
	cmd := &cobra.Command{
		Use:   "credential [PROVIDER]",
		Short: "Print only a provider's current credential, from the agent when one runs",
		Long: `Print the provider's current credential and nothing else: the command for
the Copilot CLI's COPILOT_PROVIDER_API_KEY_COMMAND, which runs it before every
model request (` + "`byokcred copilot-env`" + ` sets it up).

It asks a running ` + "`byokcred agent`" + ` first (--agent auto), which answers from
its warm cache; with no agent it loads the config and fetches the credential
itself, as ` + "`token --show`" + ` does. --agent start starts an agent in the
background when none runs (its log goes to SOCKET.log); --agent require fails
instead of working alone; --agent off never asks.

On failure nothing is printed on stdout, one line on stderr, and the exit code
is non-zero.`,
		Args:              cobra.MaximumNArgs(1),
		ValidArgsFunction: a.completeProviders,
		RunE: func(cmd *cobra.Command, args []string) error {
			name := ""
			if len(args) == 1 {
				name = args[0]
			}
			if err := checkAgentMode(mode); err != nil {
				return err
			}
			secret, _, err := a.credential(cmd.Context(), nil, name, mode, socket)
			if err != nil {
				// One line: the CLI shows a helper's stderr to its user.
				fmt.Fprintln(a.env.Stderr, "byokcred credential:", oneLine(err.Error()))
				return silentFailure{}
			}
			_, err = fmt.Fprintln(a.env.Stdout, secret.Reveal())
			return err
		},
	}
	cmd.Flags().StringVar(&mode, "agent", agentAuto, "auto, require, start or off (see above)")
	cmd.Flags().StringVar(&socket, "socket", "", "agent socket (default $"+agent.SocketEnv+", else $XDG_RUNTIME_DIR/byokcred/agent.sock)")
	return cmd
}

func checkAgentMode(mode string) error {
	switch mode {
	case agentAuto, agentRequire, agentStart, agentOff:
		return nil
	}
	return usagef("--agent %q: want auto, require, start or off", mode)
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", "; ")), " ")
}

// credential returns the named provider's credential, from the agent when
// mode allows and one answers, else from set (loaded here when nil).
// Asking the agent reads no config: that keeps a helper cheap.
func (a *app) credential(ctx context.Context, set *registry.Set, name, mode, socket string) (provider.Secret, provider.Kind, error) {
	if mode != agentOff {
		if socket == "" {
			socket = agent.DefaultSocket(a.env.LookupEnv)
		}
		cfg, err := filepath.Abs(a.path())
		if err != nil {
			return provider.Secret{}, 0, err
		}
		req := agent.Request{Op: agent.OpToken, Provider: name, Config: cfg}
		resp, err := agent.Ask(ctx, socket, req)
		if err != nil && mode == agentStart && errors.Is(err, agent.ErrNoAgent) {
			resp, err = a.startAgent(ctx, socket, req)
		}
		var ae *agent.Error
		switch {
		case err == nil:
			return provider.NewSecret(resp.Token), parseKind(resp.Kind), nil
		case mode == agentRequire || mode == agentStart:
			return provider.Secret{}, 0, err
		case errors.As(err, &ae) && (ae.Code == agent.CodeProvider || ae.Code == agent.CodeToken):
			// The agent has this config and tried: alone, the helper would
			// ask the same source again and wait as long.
			return provider.Secret{}, 0, err
		}
		a.logger.Debug("credential: working without the agent", "err", err)
	}
	if set == nil {
		var err error
		if set, err = a.load(); err != nil {
			return provider.Secret{}, 0, err
		}
		defer set.Close()
	}
	p, err := set.Provider(name)
	if err != nil {
		return provider.Secret{}, 0, err
	}
	tok, err := session.NewFactory(set, session.Options{}).Token(ctx, p)
	if err != nil {
		return provider.Secret{}, 0, err
	}
	return tok.Value, tok.Kind, nil
}

func parseKind(s string) provider.Kind {
	switch s {
	case provider.KindAPIKey.String():
		return provider.KindAPIKey
	case provider.KindBearer.String():
		return provider.KindBearer
	}
	return 0
}

// agentStartTimeout bounds how long a helper waits for the agent it
// started to answer (it loads the config and fetches the first token).
const agentStartTimeout = 30 * time.Second

// startAgent starts `byokcred agent` in a session of its own, logging to
// SOCKET.log, and asks it once it listens.
func (a *app) startAgent(ctx context.Context, socket string, req agent.Request) (*agent.Response, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("starting the agent: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(socket), 0o700); err != nil {
		return nil, fmt.Errorf("starting the agent: %w", err)
	}
	logPath := socket + ".log"
	logf, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("starting the agent: %w", err)
	}
	defer logf.Close()
	cmd := exec.Command(exe, "-c", req.Config, "--log-level", a.logLevel, "agent", "--socket", socket)
	cmd.Stdout, cmd.Stderr = logf, logf
	detach(cmd)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting the agent: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.Now().Add(agentStartTimeout)
	for {
		resp, err := agent.Ask(ctx, socket, req)
		if !errors.Is(err, agent.ErrNoAgent) {
			return resp, err
		}
		select {
		case err := <-exited:
			// Another helper's agent may have won the socket's lock.
			if resp, aerr := agent.Ask(ctx, socket, req); !errors.Is(aerr, agent.ErrNoAgent) {
				return resp, aerr
			}
			return nil, fmt.Errorf("the agent it started exited (%v); see %s", err, logPath)
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("the agent it started did not listen on %s within %s; see %s", socket, agentStartTimeout, logPath)
		}
	}
}
