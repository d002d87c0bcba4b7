//go:build linux

package cli

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/byokcred/byokcred/internal/agent"
)

// keyCommandBinaries are cmd/byokcred-credential built once, as make build
// builds it (no cgo), in two directories: next to byokcred (a hard link to,
// or copy of, the tests' binary), as installed, and alone, to show which
// cases it answers without the full binary.
var keyCommandBinaries struct {
	once         sync.Once
	paired, bare string
	err          error
}

func keyCommandBinary(t *testing.T) (paired, bare string) {
	t.Helper()
	full := byokcredBinary(t)
	kb := &keyCommandBinaries
	kb.once.Do(func() {
		dir := filepath.Join(filepath.Dir(full), "keycmd")
		if kb.err = os.MkdirAll(filepath.Join(dir, "bare"), 0o755); kb.err != nil {
			return
		}
		kb.paired = filepath.Join(dir, "byokcred-credential")
		kb.bare = filepath.Join(dir, "bare", "byokcred-credential")
		cmd := exec.Command("go", "build", "-o", kb.paired, "../../cmd/byokcred-credential")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			kb.err = fmt.Errorf("go build: %v\n%s", err, out)
			return
		}
		if kb.err = copyExecutable(kb.bare, kb.paired); kb.err != nil {
			return
		}
		// Not a symbolic link: copilot-env resolves its own path, and must
		// find the small binary next to it.
		if err := os.Link(full, filepath.Join(dir, "byokcred")); err != nil {
			kb.err = copyExecutable(filepath.Join(dir, "byokcred"), full)
		}
	})
	if kb.err != nil {
		t.Fatal(kb.err)
	}
	return kb.paired, kb.bare
}

// slogTime is the time attribute of a log line: the one part of the two
// runs' output that may differ.
var slogTime = regexp.MustCompile(`time=\S+ `)

// TestKeyCommandBinaryIsByokcredCredential: cmd/byokcred-credential, which
// copilot-env prints as the key command when it sits next to byokcred,
// prints byte for byte what `byokcred credential` prints, on stdout and
// stderr, with the same exit code: answered by the agent itself, every
// other case (no agent, another config, an untrusted socket, --agent off,
// usage errors, help) by the byokcred next to it. Alone (no byokcred next
// to it), it answers exactly the agent's cases.
func TestKeyCommandBinaryIsByokcredCredential(t *testing.T) {
	t.Parallel() // sets no process env, cwd or signal
	full, dir, cfg, socket, env := agentSetup(t)
	small, bare := keyCommandBinary(t)
	startAgentProc(t, full, env, socket, "-c", cfg)
	cfgB := filepath.Join(dir, "b.yaml")
	if err := os.WriteFile(cfgB, []byte(staticConfig(agentKeyB)), 0o600); err != nil {
		t.Fatal(err)
	}
	// A socket in a directory others can write into: never used.
	open := filepath.Join(dir, "open")
	if err := os.Mkdir(open, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(open, "agent.sock"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	untrusted := filepath.Join(open, "agent.sock")
	none := filepath.Join(dir, "none", "agent.sock")
	withEnv := func(extra ...string) []string { return append(append([]string{}, env...), extra...) }

	tests := []struct {
		name   string
		args   []string
		env    []string // default env
		stdout string
		code   int
		// alone: the small binary answers without the full one.
		alone bool
	}{
		{name: "agent, require", args: []string{"-c", cfg, "credential", "--socket", socket, "--agent", "require", "gw"}, stdout: agentKeyA + "\n", alone: true},
		{name: "agent, auto, default provider", args: []string{"-c", cfg, "credential", "--socket", socket}, stdout: agentKeyA + "\n", alone: true},
		{name: "agent, start", args: []string{"-c", cfg, "credential", "--socket", socket, "--agent", "start", "gw"}, stdout: agentKeyA + "\n", alone: true},
		{name: "agent, flags in = form, after the name", args: []string{"credential", "gw", "--config=" + cfg, "--socket=" + socket, "--log-level=debug", "--log-format", "json", "-o", "text"}, stdout: agentKeyA + "\n", alone: true},
		{name: "-o json: byokcred's usage error", args: []string{"-c", cfg, "credential", "--socket", socket, "-o", "json", "gw"}, code: 2},
		{name: "agent, config and socket from the environment", args: []string{"credential", "gw"}, env: withEnv("BYOKCRED_CONFIG="+cfg, agent.SocketEnv+"="+socket), stdout: agentKeyA + "\n", alone: true},
		{name: "agent, unknown provider", args: []string{"-c", cfg, "credential", "--socket", socket, "--agent", "require", "nope"}, code: 1},
		{name: "agent of another config, auto: alone", args: []string{"-c", cfgB, "credential", "--socket", socket, "gw"}, stdout: agentKeyB + "\n"},
		{name: "agent of another config, require", args: []string{"-c", cfgB, "credential", "--socket", socket, "--agent", "require", "gw"}, code: 1},
		{name: "no agent, auto: alone", args: []string{"-c", cfg, "credential", "--socket", none, "gw"}, stdout: agentKeyA + "\n"},
		{name: "no agent, require", args: []string{"-c", cfg, "credential", "--socket", none, "--agent", "require", "gw"}, code: 1},
		{name: "untrusted socket, auto: warns, alone", args: []string{"-c", cfg, "credential", "--socket", untrusted, "gw"}, stdout: agentKeyA + "\n"},
		{name: "untrusted socket, require", args: []string{"-c", cfg, "credential", "--socket", untrusted, "--agent", "require", "gw"}, code: 1},
		{name: "--agent off", args: []string{"-c", cfg, "credential", "--socket", socket, "--agent", "off", "gw"}, stdout: agentKeyA + "\n"},
		{name: "-cFILE form", args: []string{"-c" + cfg, "credential", "--socket", socket, "gw"}, stdout: agentKeyA + "\n"},
		{name: "bad --agent", args: []string{"-c", cfg, "credential", "--socket", socket, "--agent", "sometimes", "gw"}, code: 2},
		{name: "bad --log-level", args: []string{"-c", cfg, "--log-level", "loud", "credential", "--socket", socket, "gw"}, code: 2},
		{name: "bad --output", args: []string{"-c", cfg, "-o", "yaml", "credential", "--socket", socket, "gw"}, code: 2},
		{name: "two providers", args: []string{"-c", cfg, "credential", "--socket", socket, "gw", "gw"}, code: 2},
		{name: "unknown flag", args: []string{"-c", cfg, "credential", "--socket", socket, "--verbose", "gw"}, code: 2},
		{name: "flag without its value", args: []string{"-c", cfg, "credential", "--socket"}, code: 2},
		{name: "agent, its flags before the command", args: []string{"-c", cfg, "--agent", "require", "--socket", socket, "credential", "gw"}, stdout: agentKeyA + "\n", alone: true},
		{name: "help", args: []string{"credential", "--help"}},
		{name: "another command", args: []string{"--version"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			run := func(bin string) procResult {
				cmd := exec.Command(bin, tt.args...)
				cmd.Env = env
				if tt.env != nil {
					cmd.Env = tt.env
				}
				r := runProc(t, cmd)
				r.stderr = slogTime.ReplaceAllString(r.stderr, "time=T ")
				return r
			}
			want, got := run(full), run(small)
			if diff := cmp.Diff(want, got, cmp.AllowUnexported(procResult{})); diff != "" {
				t.Errorf("byokcred-credential %v differs from byokcred (-byokcred +byokcred-credential):\n%s", tt.args, diff)
			}
			if tt.stdout != "" && (want.stdout != tt.stdout || want.code != tt.code) {
				t.Errorf("byokcred: exit %d, stdout %q, stderr %q; want exit %d, stdout %q", want.code, want.stdout, want.stderr, tt.code, tt.stdout)
			}
			if tt.stdout == "" && want.code != tt.code {
				t.Errorf("byokcred: exit %d, stderr %q; want exit %d", want.code, want.stderr, tt.code)
			}
			// Alone, it answers the agent's cases and hands the rest over.
			alone := run(bare)
			if tt.alone {
				if diff := cmp.Diff(want, alone, cmp.AllowUnexported(procResult{})); diff != "" {
					t.Errorf("byokcred-credential alone %v (-byokcred +alone):\n%s", tt.args, diff)
				}
			} else if alone.code != 1 || alone.stdout != "" || !regexp.MustCompile(`^byokcred credential: cannot run the full byokcred: .*/bare/byokcred: no such file or directory; .*\n$`).MatchString(alone.stderr) {
				t.Errorf("byokcred-credential alone %v: exit %d, stdout %q, stderr %q; want it to hand the case to byokcred and say it is missing", tt.args, alone.code, alone.stdout, alone.stderr)
			}
		})
	}
}

// TestKeyCommandChoice: copilot-env prints the small EXE-credential as the
// key command only when an executable file of that name is next to exe.
func TestKeyCommandChoice(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		setup func(small string) error
		want  string // "small" or "exe"
	}{
		{name: "none", setup: func(string) error { return nil }, want: "exe"},
		{name: "executable", setup: func(small string) error { return os.WriteFile(small, nil, 0o755) }, want: "small"},
		{name: "not executable", setup: func(small string) error { return os.WriteFile(small, nil, 0o644) }, want: "exe"},
		{name: "a directory", setup: func(small string) error { return os.Mkdir(small, 0o755) }, want: "exe"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			exe := filepath.Join(dir, "byokcred")
			small := filepath.Join(dir, "byokcred-credential")
			if err := tt.setup(small); err != nil {
				t.Fatal(err)
			}
			want := map[string]string{"small": small, "exe": exe}[tt.want]
			if got := keyCommand(exe); got != want {
				t.Errorf("keyCommand(%s) = %s, want %s", exe, got, want)
			}
		})
	}
}

// TestCopilotEnvPrintsTheKeyCommandBinary: a byokcred with
// byokcred-credential next to it prints that binary as the key command,
// with byokcred credential's arguments, and the line, run by a shell as the
// Copilot CLI runs it, prints the agent's credential.
func TestCopilotEnvPrintsTheKeyCommandBinary(t *testing.T) {
	t.Parallel() // sets no process env, cwd or signal
	_, _, cfg, socket, env := agentSetup(t)
	small, _ := keyCommandBinary(t)
	paired := filepath.Join(filepath.Dir(small), "byokcred")
	startAgentProc(t, paired, env, socket, "-c", cfg)
	cmd := exec.Command(paired, "-c", cfg, "copilot-env", "--socket", socket, "gw")
	cmd.Env = env
	r := runProc(t, cmd)
	if r.code != 0 {
		t.Fatalf("copilot-env: exit %d, stderr %q", r.code, r.stderr)
	}
	want := "export COPILOT_PROVIDER_API_KEY_COMMAND=" + shellQuote(shellWord(small)+" -c "+shellWord(cfg)+" credential --agent auto --socket "+shellWord(socket)+" gw") + "\n"
	if !strings.Contains(r.stdout, want) {
		t.Fatalf("copilot-env printed no key command line %q:\n%s", want, r.stdout)
	}
	sh := exec.Command("sh", "-c", `eval "$1" && sh -c "$COPILOT_PROVIDER_API_KEY_COMMAND"`, "sh", r.stdout)
	sh.Env = env
	if got := runProc(t, sh); got.code != 0 || got.stdout != agentKeyA+"\n" || got.stderr != "" {
		t.Errorf("the printed key command: exit %d, stdout %q, stderr %q; want the agent's key", got.code, got.stdout, got.stderr)
	}
}
