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
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"

	copilot "github.com/github/copilot-sdk/go"
)

// PathEnv names the variable that overrides where the runtime is: the
// runtime binary, or a directory holding it (an npm --prefix install
// directory, a global node_modules/@github/copilot, or the directory of a
// standalone binary).
const PathEnv = "COPILOT_CLI_PATH"

// PinnedVersion is the @github/copilot version byokcred is tested with
// (the Makefile installs it).
const PinnedVersion = "1.0.102"

// localInstallDir is where `make deps` installs the npm package
// @github/copilot, relative to the byokcred repository's root.
const localInstallDir = ".tools/copilot"

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

// relativeBinary is the runtime binary's path inside an npm install
// directory (npm install --prefix DIR @github/copilot), such as
// localInstallDir.
func relativeBinary() string {
	return filepath.Join("node_modules", "@github", platformPackage(), "copilot")
}

// installHint is the one command that installs the runtime Find looks for.
func installHint() string {
	return "npm install -g @github/copilot@" + PinnedVersion
}

// Find returns the runtime binary, looking in this order:
//
//  1. $COPILOT_CLI_PATH: the binary itself, or a directory holding it;
//  2. a byokcred checkout's local install (.tools/copilot, from `make deps`),
//     walking up from the working directory and from the executable's;
//  3. `copilot` on PATH (a global npm install or a standalone binary).
//
// The npm package's `copilot` command is a Node launcher; Find returns the
// platform binary next to it, so that the SDK starts the runtime directly.
// The error lists every place searched and the command that installs the
// runtime.
func Find() (string, error) {
	return finder{getenv: os.Getenv, getwd: os.Getwd, executable: os.Executable, lookPath: exec.LookPath}.find()
}

type finder struct {
	getenv     func(string) string
	getwd      func() (string, error)
	executable func() (string, error)
	lookPath   func(string) (string, error)
}

func (f finder) find() (string, error) {
	if p := f.getenv(PathEnv); p != "" {
		return fromEnv(p)
	}
	var searched []string
	var starts []string
	if wd, err := f.getwd(); err == nil {
		starts = append(starts, wd)
	}
	if exe, err := f.executable(); err == nil {
		if exe, err = filepath.EvalSymlinks(exe); err == nil {
			starts = append(starts, filepath.Dir(exe))
		}
	}
	for _, dir := range starts {
		searched = append(searched, filepath.Join(dir, localInstallDir)+" and its parents'")
		for {
			p := filepath.Join(dir, localInstallDir, relativeBinary())
			if isExecutable(p) {
				return p, nil
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
	}
	if p, err := f.lookPath("copilot"); err == nil {
		return platformBinary(p), nil
	}
	searched = append(searched, "`copilot` on PATH")
	return "", fmt.Errorf("copilotcli: Copilot CLI runtime not found; searched $%s (unset), %s; install it with `%s`, or set %s to its install directory or binary",
		PathEnv, strings.Join(searched, ", "), installHint(), PathEnv)
}

// fromEnv resolves $COPILOT_CLI_PATH: a binary, or a directory holding one.
func fromEnv(p string) (string, error) {
	fi, err := os.Stat(p)
	if err != nil {
		return "", fmt.Errorf("copilotcli: %s=%s: %w", PathEnv, p, err)
	}
	if !fi.IsDir() {
		if fi.Mode()&0o111 == 0 {
			return "", fmt.Errorf("copilotcli: %s=%s: not executable; point it at the runtime binary or its install directory", PathEnv, p)
		}
		return platformBinary(p), nil
	}
	candidates := []string{
		filepath.Join(p, relativeBinary()),                   // npm --prefix DIR
		filepath.Join(p, "lib", relativeBinary()),            // a global npm prefix
		filepath.Join(p, "..", platformPackage(), "copilot"), // node_modules/@github/copilot
		filepath.Join(p, "copilot"),                          // the platform package, or a standalone binary's directory
	}
	for _, c := range candidates {
		if isExecutable(c) {
			return filepath.Clean(c), nil
		}
	}
	return "", fmt.Errorf("copilotcli: %s=%s is a directory without the runtime; looked for %s; install it with `npm install --prefix %s @github/copilot@%s`",
		PathEnv, p, strings.Join(candidates, ", "), p, PinnedVersion)
}

// platformBinary returns the platform package's binary when p is the npm
// package's Node launcher (as `copilot` on PATH is after npm install -g),
// else p.
func platformBinary(p string) string {
	real, err := filepath.EvalSymlinks(p)
	if err != nil || filepath.Ext(real) != ".js" {
		return p
	}
	bin := filepath.Join(filepath.Dir(real), "..", platformPackage(), "copilot")
	if isExecutable(bin) {
		return filepath.Clean(bin)
	}
	return p
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// byokEnv returns environ without GitHub tokens.
func byokEnv(environ []string) []string {
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
		Connection:      copilot.StdioConnection{Path: opts.Path, Env: byokEnv(opts.Env)},
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
