// Package copilotcli owns the Copilot CLI runtime process for byokcred: where
// the runtime binary is, which environment it gets, and where it keeps state.
//
// One runtime process costs about 300 MB of memory, so a program should start
// one Runtime and share its Client across sessions.
package copilotcli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	copilot "github.com/github/copilot-sdk/go"
)

// PathEnv names the variable that overrides where the runtime binary is.
const PathEnv = "COPILOT_CLI_PATH"

// LocalInstallDir is where `make deps` installs the npm package
// @github/copilot, relative to the repository root.
const LocalInstallDir = ".tools/copilot"

// githubTokenVars are kept out of the runtime's environment: in BYOK mode the
// runtime needs no GitHub identity, and with one present it calls
// api.github.com (on a network that drops packets, Start then takes minutes).
var githubTokenVars = []string{"GH_TOKEN", "GITHUB_TOKEN", "COPILOT_GITHUB_TOKEN", "GH_ENTERPRISE_TOKEN", "GITHUB_ENTERPRISE_TOKEN"}

// platformPackage is the npm package that carries the runtime binary for this
// platform (npm's names, not Go's).
func platformPackage() string {
	arch := runtime.GOARCH
	switch arch {
	case "amd64":
		arch = "x64"
	}
	return "copilot-" + runtime.GOOS + "-" + arch
}

// RelativeBinary is the runtime binary's path inside LocalInstallDir.
func RelativeBinary() string {
	return filepath.Join("node_modules", "@github", platformPackage(), "copilot")
}

// Find returns the runtime binary: $COPILOT_CLI_PATH, else the local install
// found by walking up from the working directory and from the running
// executable's directory.
func Find() (string, error) {
	if p := os.Getenv(PathEnv); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("copilotcli: %s=%s: %w", PathEnv, p, err)
		}
		return p, nil
	}
	var starts []string
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	if exe, err := os.Executable(); err == nil {
		if exe, err = filepath.EvalSymlinks(exe); err == nil {
			starts = append(starts, filepath.Dir(exe))
		}
	}
	for _, dir := range starts {
		for {
			p := filepath.Join(dir, LocalInstallDir, RelativeBinary())
			if _, err := os.Stat(p); err == nil {
				return p, nil
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
	}
	return "", errors.New("copilotcli: Copilot CLI runtime not found; run `make deps` (installs @github/copilot into " + LocalInstallDir + ") or set " + PathEnv)
}

// BYOKEnv returns environ without GitHub tokens.
func BYOKEnv(environ []string) []string {
	out := make([]string, 0, len(environ))
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		drop := false
		for _, v := range githubTokenVars {
			if name == v {
				drop = true
			}
		}
		if !drop {
			out = append(out, kv)
		}
	}
	return out
}

// Options configure a Runtime.
type Options struct {
	// Path is the runtime binary. Default: Find().
	Path string
	// BaseDirectory holds the runtime's session state. Default: a new
	// temporary directory, removed by Close.
	BaseDirectory string
	// Env is the runtime's environment before GitHub tokens are removed.
	// Default: os.Environ().
	Env []string
	// LogLevel is the runtime's log level (none, error, warning, info, debug).
	LogLevel string
	// RequestHandler routes the runtime's model HTTP through Go (optional).
	RequestHandler *copilot.CopilotRequestHandler
	// FullAgent keeps the runtime's default coding-agent mode. By default the
	// client runs in ModeEmpty: sessions have no tools unless the caller adds
	// them, because a credential tool must not hand a model a shell.
	FullAgent bool
}

// Runtime is a started Copilot CLI runtime and the SDK client talking to it.
type Runtime struct {
	Client  *copilot.Client
	tempDir string
}

// Start starts the runtime in BYOK mode: no logged-in user, no GitHub
// tokens in its environment, state in its own directory.
func Start(ctx context.Context, opts Options) (*Runtime, error) {
	if opts.Path == "" {
		p, err := Find()
		if err != nil {
			return nil, err
		}
		opts.Path = p
	}
	r := &Runtime{}
	if opts.BaseDirectory == "" {
		dir, err := os.MkdirTemp("", "byokcred-copilot-")
		if err != nil {
			return nil, fmt.Errorf("copilotcli: %w", err)
		}
		opts.BaseDirectory, r.tempDir = dir, dir
	}
	if opts.Env == nil {
		opts.Env = os.Environ()
	}
	mode := copilot.ModeEmpty
	if opts.FullAgent {
		mode = copilot.ModeCopilotCli
	}
	r.Client = copilot.NewClient(&copilot.ClientOptions{
		Connection:      copilot.StdioConnection{Path: opts.Path, Env: BYOKEnv(opts.Env)},
		BaseDirectory:   opts.BaseDirectory,
		UseLoggedInUser: copilot.Bool(false),
		LogLevel:        opts.LogLevel,
		RequestHandler:  opts.RequestHandler,
		Mode:            mode,
	})
	if err := r.Client.Start(ctx); err != nil {
		r.Close()
		return nil, fmt.Errorf("copilotcli: starting runtime %s: %w", opts.Path, err)
	}
	return r, nil
}

// Close stops the runtime and removes its temporary state directory.
func (r *Runtime) Close() error {
	var err error
	if r.Client != nil {
		err = r.Client.Stop()
	}
	if r.tempDir != "" {
		err = errors.Join(err, os.RemoveAll(r.tempDir))
	}
	return err
}
