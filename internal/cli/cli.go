// Package cli implements the byokcred command line. It is a package of its
// own, with its streams and environment injected, so that tests can run every
// command in process and check what it prints.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/byokcred/byokcred/config"
	"github.com/byokcred/byokcred/credential"
	"github.com/byokcred/byokcred/internal/agent"
	"github.com/byokcred/byokcred/internal/scrub"
	"github.com/byokcred/byokcred/registry"
)

// Exit codes.
const (
	ExitOK      = 0
	ExitFailure = 1 // the command ran and failed
	ExitUsage   = 2 // bad flags, arguments or config
)

// Version is set at build time with -ldflags "-X ...cli.Version=...". When
// it is not, --version prints the module version the binary was built from
// (go install …@v1.2.3), or "dev" for a build from a checkout.
var Version = ""

// version returns Version, else the main module's version from the build
// info: a `go install` of a tagged version knows it; a checkout's build
// says "(devel)", printed as dev.
func version() string { return versionFrom(Version, debug.ReadBuildInfo) }

func versionFrom(set string, buildInfo func() (*debug.BuildInfo, bool)) string {
	if set != "" {
		return set
	}
	if bi, ok := buildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

// Env is the world a command runs in. Every field may be left nil: Run
// then reads no input (Stdin), discards output (Stdout, Stderr), reads the
// process's environment (LookupEnv) and leaves each SDK its own HTTP client.
type Env struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// LookupEnv reads the environment: ${VAR} references, *_env keys and
	// BYOKCRED_CONFIG.
	LookupEnv func(string) (string, bool)
	// HTTPClient carries the credential kinds' and stores' requests
	// (registry.Options.HTTPClient; default: each SDK's own).
	HTTPClient *http.Client
}

// usageError marks errors that exit with ExitUsage.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

type app struct {
	env        *Env
	configPath string
	logLevel   string
	logFormat  string
	output     string
	logger     *slog.Logger
	// secrets are the credentials handed to the Copilot runtime in this
	// run; its error text is scrubbed of them before it is printed.
	secrets scrub.Set
	// user is the user a chat acts for (--user-token-env), nil otherwise.
	user credential.TokenSource
	// perUserProxy: the proxy serves per-user credentials with each
	// client's bearer token as the user.
	perUserProxy bool
	// checkOnly: the command checks the config and acts for nobody
	// (validate), so per-user providers are accepted.
	checkOnly bool
	// onFetch times the registry's fetches for the admin address's
	// metrics (--admin-addr); nil without one.
	onFetch func(provider string, took time.Duration, err error)
}

// scrub removes every credential handed to the runtime from text.
func (a *app) scrub(text string) string { return a.secrets.Scrub(text) }

// Run runs byokcred with args (without the program name) and returns the
// exit code.
func Run(ctx context.Context, args []string, env Env) (code int) {
	if env.Stdout == nil {
		env.Stdout = io.Discard
	}
	if env.Stderr == nil {
		env.Stderr = io.Discard
	}
	if env.Stdin == nil {
		env.Stdin = strings.NewReader("")
	}
	if env.LookupEnv == nil {
		env.LookupEnv = os.LookupEnv
	}
	a := &app{env: &env}
	// A panic must not escape with a partial stack of values: report it as
	// an internal error (every secret type formats as [REDACTED]).
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(env.Stderr, "byokcred: internal error: %s\n", a.scrub(fmt.Sprint(r)))
			code = ExitFailure
		}
	}()
	root := a.rootCmd()
	root.SetArgs(args)
	root.SetIn(env.Stdin)
	root.SetOut(env.Stdout)
	root.SetErr(env.Stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	if ctx.Err() != nil {
		// Stopped by SIGINT or SIGTERM (cli.Main cancels ctx) or by the
		// caller: one line that says so first, not a "context canceled"
		// at the end of a chain of wrappers.
		msg := "stopped: " + context.Cause(ctx).Error()
		if e := err.Error(); e != "" {
			msg += " (" + strings.ReplaceAll(a.scrub(e), "\n", "; ") + ")"
		}
		fmt.Fprintln(env.Stderr, "byokcred:", msg)
		return ExitFailure
	}
	if err.Error() != "" {
		// Scrubbed before the newlines are indented: a credential may
		// hold one.
		fmt.Fprintln(env.Stderr, "byokcred:", strings.ReplaceAll(a.scrub(err.Error()), "\n", "\n  "))
	}
	if next := advice(err); next != "" {
		fmt.Fprintln(env.Stderr, "byokcred:", next)
	}
	var ue usageError
	var el config.ErrorList
	var ce *config.Error
	switch {
	case errors.As(err, &ue), errors.As(err, &el), errors.As(err, &ce), isCobraUsage(err):
		return ExitUsage
	}
	return ExitFailure
}

// advice is the command line's next step after a library error: the
// library's messages say what to change in a program or its config, and
// only the CLI knows which of its commands and flags would help. "" when
// there is none. doctor (the advice itself) and the key command (one line,
// its contract with the Copilot CLI) print their own failure and end in
// silentFailure, so nothing is added to theirs.
func advice(err error) string {
	if errors.Is(err, registry.ErrNeedsUser) {
		return "byokcred chat --user-token-env NAME acts for the user whose access token is in $NAME; byokcred proxy acts for each client's user"
	}
	var te *credential.TokenError
	if errors.As(err, &te) {
		if te.Provider == "" {
			return "byokcred doctor shows how each credential is found"
		}
		return "byokcred doctor " + te.Provider + " shows how its credential is found"
	}
	return ""
}

// isCobraUsage recognises cobra's own command and argument errors, which it
// returns as plain errors (flag errors come through the FlagErrorFunc as
// usageError). Only a message that starts like cobra's counts: a runtime
// failure that merely contains such words (EINVAL's "invalid argument")
// is a failure, exit 1.
func isCobraUsage(err error) bool {
	msg := err.Error()
	for _, p := range []string{`unknown command "`, "accepts ", "requires at least ", "requires at most ", `invalid argument "`} {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return false
}

func (a *app) rootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "byokcred",
		Short: "Real credentials for Copilot SDK BYOK providers",
		Long: `byokcred gives the GitHub Copilot SDK real credentials for its BYOK model
providers: static keys, Entra ID bearer tokens refreshed ahead of expiry, and
external credential plugins, chosen per provider in one YAML file.

The config file is -c FILE, else $BYOKCRED_CONFIG, else ./byokcred.yaml.`,
		Version:       version(),
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			if err := a.setupLogging(); err != nil {
				return err
			}
			return a.checkOutputFlag(cmd)
		},
	}
	root.PersistentFlags().StringVarP(&a.configPath, "config", "c", "", "config file (default $BYOKCRED_CONFIG, else ./byokcred.yaml)")
	root.PersistentFlags().StringVar(&a.logLevel, "log-level", "warn", "log level: debug, info, warn, error")
	root.PersistentFlags().StringVar(&a.logFormat, "log-format", "text", "log format: text or json")
	root.PersistentFlags().StringVarP(&a.output, "output", "o", "text", "output format for data: text or json")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(a.validateCmd(), a.providersCmd(), a.modelsCmd(), a.tokenCmd(), a.chatCmd(), a.doctorCmd(), a.proxyCmd(), a.agentCmd(), a.credentialCmd(), a.copilotEnvCmd(), a.schemaCmd())
	return root
}

// checkOutputFlag refuses -o json for a command that prints no data as
// JSON: silently printing text to a script that asked for JSON would break
// it later and less clearly.
func (a *app) checkOutputFlag(cmd *cobra.Command) error {
	if a.output != "json" {
		return nil
	}
	switch cmd.Name() {
	case "chat", "proxy", "agent", "credential", "copilot-env", "schema":
		return usagef("-o json: %s prints no JSON (validate, providers, models, token and doctor do); drop -o", cmd.Name())
	}
	return nil
}

func (a *app) setupLogging() error {
	var level slog.Level
	if err := level.UnmarshalText([]byte(a.logLevel)); err != nil {
		return usagef("--log-level %q: want debug, info, warn or error", a.logLevel)
	}
	opts := &slog.HandlerOptions{Level: level}
	if a.output != "text" && a.output != "json" {
		return usagef("--output %q: want text or json", a.output)
	}
	switch a.logFormat {
	case "text":
		a.logger = slog.New(slog.NewTextHandler(a.env.Stderr, opts))
	case "json":
		a.logger = slog.New(slog.NewJSONHandler(a.env.Stderr, opts))
	default:
		return usagef("--log-format %q: want text or json", a.logFormat)
	}
	return nil
}

func (a *app) path() string { return agent.ConfigPath(a.configPath, a.env.LookupEnv) }

// load reads the config and builds its providers.
func (a *app) load() (*registry.Set, error) {
	set, err := registry.Load(a.path(), a.registryOptions())
	return set, loadError(err)
}

// loadLive loads the config for a long-running command: SIGHUP reloads it
// (an invalid new file is logged and the old config keeps serving).
func (a *app) loadLive(ctx context.Context) (*registry.Live, error) {
	live, err := registry.NewLive(a.path(), a.registryOptions())
	if err != nil {
		return nil, loadError(err)
	}
	live.ReloadOnSignal(ctx)
	return live, nil
}

func (a *app) registryOptions() registry.Options {
	return registry.Options{LookupEnv: a.env.LookupEnv, HTTPClient: a.env.HTTPClient, Logger: a.logger, PerUser: a.user != nil || a.perUserProxy || a.checkOnly, OnFetch: a.onFetch}
}

// loadError keeps a config's problem list as it is (exit 2 either way).
func loadError(err error) error {
	if err == nil {
		return nil
	}
	var el config.ErrorList
	if errors.As(err, &el) {
		return err
	}
	if errors.Is(err, fs.ErrNotExist) {
		// The library says the file is missing; which flag and variable
		// name it is the command line's to say.
		return usageError{fmt.Errorf("%w; pass -c FILE or set BYOKCRED_CONFIG (config.example.yaml is a start)", err)}
	}
	return usageError{err}
}
