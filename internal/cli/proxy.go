package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/byokcred/byokcred/credential"
	"github.com/byokcred/byokcred/endpoint"
	"github.com/byokcred/byokcred/proxy"
	"github.com/byokcred/byokcred/registry"
)

// defaultProxyListen is the proxy's default address: loopback only.
const defaultProxyListen = "127.0.0.1:7787"

// minClientToken is the shortest client token accepted: it guards real
// credentials, so it must not be guessable.
const minClientToken = 16

func (a *app) proxyCmd() *cobra.Command {
	var (
		listen, def, tokenEnv, readyFile string
		adminAddr                        string
		allowRemote                      bool
		allowOrigins                     []string
		drain                            time.Duration
	)
	cmd := &cobra.Command{
		Use:   "proxy [--listen 127.0.0.1:PORT] [--default PROVIDER]",
		Short: "Serve the providers on loopback, putting a fresh credential on every request",
		Long: `Run a local gateway for clients that are not the Go SDK: tools that read
a key once at start, and the Copilot CLI where its key command cannot put the
credential in the right header (see byokcred copilot-env).

A request to http://LISTEN/PROVIDER/REST goes to PROVIDER's base_url + /REST
(query kept) with the client's credential headers removed and the provider's
current credential set in the header its type expects. Point a client at
http://LISTEN/PROVIDER wherever it would take the provider's base_url.
--default PROVIDER also serves paths without a provider prefix, for clients
that cannot add one (the Copilot CLI with type azure keeps only the host of
its base URL); that provider's own API paths, such as /openai/... for azure,
then always go to it.

Entra tokens are refreshed ahead of expiry, so a client that runs for days
never sees one expire; a 401 from the provider drops the token and retries
once with a fresh one. SIGHUP reloads the config file. SIGINT/SIGTERM stop
accepting and let streaming responses finish (--drain-timeout).

The proxy listens on loopback only, unless --allow-remote is given together
with --client-token-env NAME: clients must then send the token in $NAME as
X-Byokcred-Token, Authorization: Bearer, api-key or x-api-key (so a client's
own API-key setting can carry it; for a provider that acts on behalf of each
user, Authorization: Bearer carries the user's own token, and the client token
sent there is refused). Requests from web pages are refused (their
Origin, or a browser's Sec-Fetch-Site), pages on other loopback ports
included, unless --allow-origin names the page's origin.

--admin-addr HOST:PORT serves /healthz, /readyz (every provider can produce
a credential now) and /metrics (Prometheus) on an address of its own, for a
load balancer's probes and a scraper; it never serves a credential. With
--log-level info each request gets one log line: provider, status, bytes,
duration and, for a provider acting on behalf of users, the user's oid and
tid.`,
		Example: `  # The Copilot CLI against an Entra-protected Azure provider named foundry:
  byokcred proxy --default foundry
  # (COPILOT_PROVIDER_API_KEY is required by the CLI with type azure; any
  # value, or the client token with --client-token-env)
  COPILOT_PROVIDER_TYPE=azure COPILOT_PROVIDER_BASE_URL=http://127.0.0.1:7787 \
    COPILOT_PROVIDER_API_KEY=unused COPILOT_MODEL=gpt-4.1 COPILOT_OFFLINE=true copilot

  # Any OpenAI-compatible client, by provider prefix:
  OPENAI_BASE_URL=http://127.0.0.1:7787/openai OPENAI_API_KEY=unused my-client`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !proxy.LoopbackAddr(listen) && !allowRemote {
				return usagef("--listen %s is not a loopback address: the proxy hands out real credentials, so remote listening needs --allow-remote and --client-token-env", listen)
			}
			var clientToken credential.Secret
			if tokenEnv != "" {
				v, _ := a.env.LookupEnv(tokenEnv)
				switch {
				case v == "":
					return usagef("--client-token-env %s: the variable is not set or empty", tokenEnv)
				case len(v) < minClientToken:
					return usagef("--client-token-env %s: the token has %d characters; use at least %d (for example: openssl rand -hex 32)", tokenEnv, len(v), minClientToken)
				}
				clientToken = credential.NewSecret(v)
			}
			if allowRemote && clientToken.IsZero() {
				return usagef("--allow-remote needs --client-token-env: without a client token anyone who reaches the port uses the providers' credentials")
			}
			adm, err := a.openAdmin(adminAddr)
			if err != nil {
				return err
			}
			ctx, cancel := context.WithCancel(cmd.Context())
			defer adm.stop()
			defer cancel() // stops the SIGHUP watcher and the admin server too
			// Per-user credentials take each client's own bearer token
			// as the user.
			a.perUserProxy = true
			live, err := a.loadLive(ctx) // SIGHUP reloads
			if err != nil {
				return err
			}
			defer live.Close()
			opts := proxy.Options{
				Providers:    live,
				Default:      def,
				ClientToken:  clientToken,
				AllowRemote:  allowRemote,
				AllowOrigins: allowOrigins,
				Logger:       a.logger,
				DrainTimeout: drain,
			}
			if adm != nil {
				opts.Metrics = adm.metrics
			}
			srv, err := proxy.New(opts)
			if err != nil {
				return usageError{err}
			}
			ln, err := srv.Listen(listen)
			if err != nil {
				return err
			}
			if adm != nil {
				if err := adm.observe(adm.metrics.ObserveReplayMemory(srv.ReplayMemory)); err != nil {
					ln.Close()
					return err
				}
			}
			if err := a.startAdmin(ctx, adm, "proxy", live); err != nil {
				ln.Close()
				return err
			}
			a.printRoutes("http://"+ln.Addr().String(), live.Current(), def)
			if readyFile != "" {
				if err := writeReadyFile(readyFile, "http://"+ln.Addr().String()); err != nil {
					ln.Close()
					return err
				}
				defer os.Remove(readyFile)
			}
			err = srv.Serve(ctx, ln)
			fmt.Fprintln(a.env.Stderr, "byokcred proxy: stopped")
			return err
		},
	}
	cmd.Flags().StringVar(&listen, "listen", defaultProxyListen, "address to listen on (host:port; port 0 picks a free one)")
	cmd.Flags().StringVar(&def, "default", "", "provider that also serves paths without a /PROVIDER prefix")
	cmd.Flags().BoolVar(&allowRemote, "allow-remote", false, "allow a non-loopback --listen address (requires --client-token-env)")
	cmd.Flags().StringArrayVar(&allowOrigins, "allow-origin", nil, "web origin (scheme://host:port) whose pages may use the proxy, e.g. a local web UI; repeatable")
	cmd.Flags().StringVar(&tokenEnv, "client-token-env", "", "environment variable holding the token clients must send")
	cmd.Flags().StringVar(&readyFile, "ready-file", "", "write the proxy's URL to this file once it is listening (removed on exit)")
	cmd.Flags().DurationVar(&drain, "drain-timeout", proxy.DefaultDrainTimeout, "on shutdown, how long in-flight responses may take to finish")
	cmd.Flags().StringVar(&adminAddr, "admin-addr", "", adminAddrUsage)
	return cmd
}

// printRoutes tells the user, on stderr, where to point clients. The first
// line is fixed so that scripts can read the address.
func (a *app) printRoutes(base string, set *registry.Set, def string) {
	fmt.Fprintf(a.env.Stderr, "byokcred proxy: listening on %s\n", base)
	for _, name := range set.Names() {
		p, _ := set.Provider(name)
		fmt.Fprintf(a.env.Stderr, "  %s/%s → %s (%s, %s)\n", base, name, endpoint.RedactVars(p.BaseURL, p.BaseURLVars()), p.Type, p.AuthType)
	}
	if def != "" {
		fmt.Fprintf(a.env.Stderr, "  %s → provider %s (--default)\n", base, def)
	}
}

// writeReadyFile writes url to path atomically, so a reader never sees a
// partial address.
func writeReadyFile(path, url string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".byokcred-ready-*")
	if err != nil {
		return fmt.Errorf("--ready-file: %w", err)
	}
	_, werr := tmp.WriteString(url + "\n")
	cerr := tmp.Close()
	if err := errors.Join(werr, cerr); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("--ready-file: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("--ready-file: %w", err)
	}
	return nil
}
