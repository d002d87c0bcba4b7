package readmetest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/byokcred/byokcred/internal/cli"
)

// help is what `byokcred PATH --help` says about a command: its
// subcommands and its flags (its own and the global ones), each with
// whether it takes a value.
type help struct {
	subs  map[string]bool
	flags map[string]bool // "--name" and "-n" → takes a value
}

var (
	helpMu    sync.Mutex
	helpCache = map[string]*help{}
	flagLine  = regexp.MustCompile(`^\s+(?:(-[A-Za-z]), )?(--[a-z][a-z0-9-]*)(?: ([a-z]+))?(?:\s|$)`)
	cmdLine   = regexp.MustCompile(`^\s+([a-z][a-z0-9-]*)\s`)
)

// helpOf runs `byokcred PATH --help` in process, as the README's reader
// would run it.
func helpOf(t *testing.T, path []string) *help {
	t.Helper()
	key := strings.Join(path, " ")
	helpMu.Lock()
	defer helpMu.Unlock()
	if h, ok := helpCache[key]; ok {
		return h
	}
	var out, errb bytes.Buffer
	code := cli.Run(context.Background(), append(append([]string{}, path...), "--help"), cli.Env{Stdout: &out, Stderr: &errb, LookupEnv: func(string) (string, bool) { return "", false }})
	if code != 0 {
		t.Fatalf("byokcred %s --help: exit %d: %s", key, code, errb.String())
	}
	h := &help{subs: map[string]bool{}, flags: map[string]bool{}}
	section := ""
	for _, line := range strings.Split(out.String(), "\n") {
		if strings.HasSuffix(line, ":") && !strings.HasPrefix(line, " ") {
			section = line
			continue
		}
		switch section {
		case "Available Commands:", "Additional Commands:":
			if m := cmdLine.FindStringSubmatch(line); m != nil {
				h.subs[m[1]] = true
			}
		case "Flags:", "Global Flags:":
			if m := flagLine.FindStringSubmatch(line); m != nil {
				value := m[3] != ""
				h.flags[m[2]] = value
				if m[1] != "" {
					h.flags[m[1]] = value
				}
			}
		}
	}
	helpCache[key] = h
	return h
}

// invocation is one `byokcred …` the README shows, from its line.
type invocation struct {
	line int
	args []string
}

// documentedInvocations returns every `byokcred …` of the README's shell
// blocks and inline code, cut at a shell operator, a comment or the end of
// the code span.
func documentedInvocations(readme string) []invocation {
	start := regexp.MustCompile(`(?:^|[\s"(/$])byokcred ((?:-|[a-z])[^|&;#)\x60"<>]*)`)
	var out []invocation
	inSh, inOther := false, false
	for i, line := range strings.Split(readme, "\n") {
		if strings.HasPrefix(line, "```") {
			switch {
			case inSh || inOther:
				inSh, inOther = false, false
			case line == "```sh" || line == "```bash" || line == "```console":
				inSh = true
			default:
				inOther = true
			}
			continue
		}
		var texts []string
		switch {
		case inSh:
			if i := strings.Index(line, " #"); i >= 0 {
				line = line[:i] // a comment
			}
			texts = []string{line}
		case inOther:
			continue
		default:
			// Inline code spans of prose.
			for j, part := range strings.Split(line, "`") {
				if j%2 == 1 {
					texts = append(texts, part)
				}
			}
		}
		for _, text := range texts {
			for _, m := range start.FindAllStringSubmatch(text, -1) {
				out = append(out, invocation{line: i + 1, args: strings.Fields(m[1])})
			}
		}
	}
	return out
}

// TestDocumentedCommandsAndFlagsExist: every command and flag the README
// shows in a `byokcred …` is one the command line has (its help lists it).
func TestDocumentedCommandsAndFlagsExist(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	invs := documentedInvocations(string(b))
	if len(invs) < 40 {
		t.Fatalf("found %d byokcred invocations in the README; the parser is broken", len(invs))
	}
	for _, p := range undocumentedParts(t, invs) {
		t.Errorf("README.md:%s", p)
	}
}

// The check itself finds a command or a flag that does not exist, in a
// shell block and in prose, and reads values and placeholders as such.
func TestUndocumentedParts(t *testing.T) {
	readme := "Run `byokcred frobnicate` or\n\n```sh\nbin/byokcred -c x.yaml validate --offline --nope  # comment --gone\n" +
		"byokcred chat -m openai \"Hello\" && copilot -p hi\nbyokcred completion bash\n```\n\n`byokcred token --show PROVIDER`, `byokcred --FLAG`\n"
	got := undocumentedParts(t, documentedInvocations(readme))
	want := []string{
		`1: byokcred frobnicate: no command "frobnicate"`,
		`4: byokcred -c x.yaml validate --offline --nope: byokcred validate has no flag --nope`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// undocumentedParts returns, as LINE: message, each command or flag of invs
// the command line does not have.
func undocumentedParts(t *testing.T, invs []invocation) []string {
	var out []string
	word := regexp.MustCompile(`^[a-z][a-z-]*$`)
	for _, inv := range invs {
		var path []string
		h := helpOf(t, nil)
		args := inv.args
		shown := strings.Join(args, " ")
		for i := 0; i < len(args); i++ {
			tok := args[i]
			switch {
			case strings.HasPrefix(tok, "-"):
				name, _, hasValue := strings.Cut(tok, "=")
				if strings.ToUpper(name) == name && len(name) > 2 {
					continue // a placeholder such as --FLAG
				}
				takes, ok := h.flags[name]
				if !ok {
					out = append(out, fmt.Sprintf("%d: byokcred %s: %s has no flag %s", inv.line, shown, strings.Join(append([]string{"byokcred"}, path...), " "), name))
					continue
				}
				if takes && !hasValue {
					i++ // its value
				}
			case len(h.subs) > 0 && h.subs[tok]:
				path = append(path, tok)
				h = helpOf(t, path)
			case len(path) == 0:
				if word.MatchString(tok) {
					out = append(out, fmt.Sprintf("%d: byokcred %s: no command %q", inv.line, shown, tok))
				}
				i = len(args)
			}
		}
	}
	return out
}
