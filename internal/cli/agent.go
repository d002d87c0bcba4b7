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

	"github.com/byokcred/byokcred/credential"
	"github.com/byokcred/byokcred/internal/agent"
	"github.com/byokcred/byokcred/registry"
	"github.com/byokcred/byokcred/session"
)

func (a *app) agentCmd() *cobra.Command {
	var socket, adminAddr string
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
directory; an existing directory that is not ours or not 0700 (or is a link)
is refused, and so is anything at the socket path that is not a stale socket
of ours (it is never removed). A peer of another uid is refused (SO_PEERCRED).
The agent serves only the config it was started with. Without --socket, when
an agent serving another config holds the default socket, it listens on a
socket of its own config instead, agent-HASH.sock next to the default (HASH
from the config's absolute path), where helpers look for it. SIGHUP reloads
the config; SIGINT/SIGTERM stop the agent.`,
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
			adm, err := a.openAdmin(adminAddr)
			if err != nil {
				return err
			}
			ctx, cancel := context.WithCancel(cmd.Context())
			defer adm.stop()
			defer cancel()               // stops the SIGHUP watcher and the admin server too
			live, err := a.loadLive(ctx) // SIGHUP reloads
			if err != nil {
				return err
			}
			defer live.Close()
			ln, err := agent.Listen(socket)
			if errors.Is(err, agent.ErrRunning) && !cmd.Flags().Changed("socket") {
				// The default socket's agent may serve another config:
				// this one gets a socket of its own, where helpers look.
				_, aerr := agent.Ask(ctx, socket, agent.Request{Op: agent.OpToken, Config: cfg})
				if ae := (*agent.Error)(nil); errors.As(aerr, &ae) && ae.Code == agent.CodeConfig {
					socket = agent.ConfigSocket(socket, cfg)
					ln, err = agent.Listen(socket)
				}
			}
			if err != nil {
				return err
			}
			defer ln.Close()
			if err := a.startAdmin(ctx, adm, "agent", live); err != nil {
				return err
			}
			srv := &agent.Server{Config: cfg, Logger: a.logger, Token: agentToken(live)}
			fmt.Fprintf(a.env.Stderr, "byokcred agent: listening on %s (config %s, pid %d)\n", socket, cfg, os.Getpid())
			err = srv.Serve(ctx, ln)
			fmt.Fprintln(a.env.Stderr, "byokcred agent: stopped")
			return err
		},
	}
	cmd.Flags().StringVar(&socket, "socket", "", "socket path (default $"+agent.SocketEnv+", else $XDG_RUNTIME_DIR/byokcred/agent.sock)")
	cmd.Flags().StringVar(&adminAddr, "admin-addr", "", adminAddrUsage)
	return cmd
}

// agentToken answers the agent's requests from live's providers. The set
// is held for the fetch: a reload (SIGHUP) meanwhile must not close the
// source a request waits on.
func agentToken(live registry.Providers) func(ctx context.Context, name string) (*credential.Token, string, error) {
	factory := session.NewFactory(live, session.Options{})
	return func(ctx context.Context, name string) (*credential.Token, string, error) {
		set, release := registry.Acquire(live)
		defer release()
		p, err := set.Provider(name)
		if err != nil {
			return nil, "", &agent.Error{Code: agent.CodeProvider, Msg: err.Error()}
		}
		tok, err := factory.Token(ctx, p)
		return tok, p.Name, err
	}
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
instead of working alone; --agent off never asks. When the agent on the
socket serves another config, the helper asks (and --agent start starts) an
agent of its own config on agent-HASH.sock next to it.

An answer is used only from a socket of ours, in a 0700 directory of ours,
served by a process of our uid (SO_PEERCRED), within 2 s of connecting for
its first byte, and only if the credential fits in a header (at most 64 KiB,
no control characters). An untrusted socket is never sent a request: --agent
auto warns on stderr and works alone; require and start fail.

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
func (a *app) credential(ctx context.Context, set *registry.Set, name, mode, socket string) (credential.Secret, credential.Kind, error) {
	if mode != agentOff {
		if socket == "" {
			socket = agent.DefaultSocket(a.env.LookupEnv)
		}
		cfg, err := filepath.Abs(a.path())
		if err != nil {
			return credential.Secret{}, 0, err
		}
		req := agent.Request{Op: agent.OpToken, Provider: name, Config: cfg}
		resp, err := a.askAgent(ctx, socket, req, mode)
		var ae *agent.Error
		switch {
		case err == nil:
			return credential.NewSecret(resp.Token), parseKind(resp.Kind), nil
		case mode == agentRequire || mode == agentStart:
			return credential.Secret{}, 0, err
		case errors.As(err, &ae) && (ae.Code == agent.CodeProvider || ae.Code == agent.CodeToken):
			// The agent has this config and tried: alone, the helper would
			// ask the same source again and wait as long.
			return credential.Secret{}, 0, err
		case errors.Is(err, agent.ErrUntrusted):
			// Working alone costs another user nothing but the agent's
			// speed; using their answer would cost the credential. Loud,
			// because someone may be squatting the socket's directory.
			a.logger.Warn("credential: not using the agent socket; working without the agent", "err", err)
		default:
			a.logger.Debug("credential: working without the agent", "err", err)
		}
	}
	if set == nil {
		var err error
		if set, err = a.load(); err != nil {
			return credential.Secret{}, 0, err
		}
		defer set.Close()
	}
	p, err := set.Provider(name)
	if err != nil {
		return credential.Secret{}, 0, err
	}
	tok, err := session.NewFactory(set, session.Options{}).Token(ctx, p)
	if err != nil {
		return credential.Secret{}, 0, err
	}
	return tok.Value, tok.Kind, nil
}

// askAgent asks the agent at socket, else the agent of the config's own
// socket (agent.ConfigSocket) when the first serves another config; in
// start mode it starts an agent on whichever of the two has none.
func (a *app) askAgent(ctx context.Context, socket string, req agent.Request, mode string) (*agent.Response, error) {
	socket, resp, err := agent.AskConfig(ctx, socket, req, mode == agentStart)
	if err != nil && mode == agentStart && errors.Is(err, agent.ErrNoAgent) {
		resp, err = a.startAgent(ctx, socket, req)
	}
	return resp, err
}

func parseKind(s string) credential.Kind {
	switch s {
	case credential.KindAPIKey.String():
		return credential.KindAPIKey
	case credential.KindBearer.String():
		return credential.KindBearer
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
	// The same checks as the agent's: the log must not be created in, or
	// through a link planted in, a directory another user controls.
	if err := agent.PrepareDir(filepath.Dir(socket)); err != nil {
		return nil, fmt.Errorf("starting the agent: %w", err)
	}
	logPath := socket + ".log"
	logf, err := agent.OpenPrivate(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND)
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
