package config

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// parseProblems parses src with env and returns its problems, one a line.
func parseProblems(t *testing.T, src string, env map[string]string) []string {
	t.Helper()
	cfg, err := Parse("h.yaml", []byte(src), lookupFrom(env))
	if err == nil && cfg != nil {
		err = cfg.Doc.Err()
	}
	if err == nil {
		return nil
	}
	return strings.Split(err.Error(), "\n")
}

// TestValuesThatReachCopilotEnvAreChecked is finding 1 and 14 of issue 23
// at the loader: api_version has Azure's shape, model names are single
// words, header names are HTTP tokens and header values (after ${VAR}
// expansion) are valid field values. A refused value from a variable is
// named by its variable, never shown.
func TestValuesThatReachCopilotEnvAreChecked(t *testing.T) {
	env := map[string]string{
		"CRLF":  "CANARY-a\r\nX-Injected: 1",
		"ZW":    "CANARY-\u200bzw",
		"SPACE": " CANARY-lead",
		"GOOD":  "CANARY-good value",
	}
	provider := func(extra string) string {
		return "providers:\n  az:\n    type: azure\n    base_url: https://r.example\n    model: gpt-4.1\n    auth: {type: static, api_key: k}\n" + extra
	}
	tests := []struct {
		name, src string
		want      []string
	}{
		{"dated api_version", provider("    api_version: 2024-10-21\n"), nil},
		{"preview api_version", provider("    api_version: 2025-04-01-preview\n"), nil},
		{"v1 preview", provider("    api_version: preview\n"), nil},
		{"v1 latest", provider("    api_version: latest\n"), nil},
		{"api_version with a newline and a command (the reported case)", provider(`    api_version: "2024-10-21\ntouch /tmp/x #"` + "\n"),
			[]string{`h.yaml:7:18: providers.az.api_version: api_version "2024-10-21\ntouch /tmp/x #" is not an Azure OpenAI API version: use a date such as 2024-10-21 or 2025-04-01-preview, or preview or latest`}},
		{"api_version with a command substitution", provider(`    api_version: "$(id)"` + "\n"),
			[]string{`h.yaml:7:18: providers.az.api_version: api_version "$(id)" is not an Azure OpenAI API version: use a date such as 2024-10-21 or 2025-04-01-preview, or preview or latest`}},
		{"api_version, another suffix", provider("    api_version: 2024-10-21-beta\n"),
			[]string{`h.yaml:7:18: providers.az.api_version: api_version "2024-10-21-beta" is not an Azure OpenAI API version: use a date such as 2024-10-21 or 2025-04-01-preview, or preview or latest`}},
		{"model with a newline", strings.Replace(provider(""), "model: gpt-4.1", `model: "gpt\n4"`, 1),
			[]string{`h.yaml:5:12: providers.az.model: model "gpt\n4" holds a space, a control or an invisible character; model names are single words such as gpt-4.1`}},
		{"wire_model with a zero-width space", provider("    wire_model: \"dep\u200b\"\n"),
			[]string{`h.yaml:7:17: providers.az.wire_model: wire_model "dep\u200b" holds a space, a control or an invisible character; model names are single words such as gpt-4.1`}},
		{"models[] id and wire_model", provider("models:\n  - {id: \"a b\", provider: az, wire_model: \"w\\x1b\"}\n"),
			[]string{
				`h.yaml:8:10: models[0].id: id "a b" holds a space, a control or an invisible character; model names are single words such as gpt-4.1`,
				`h.yaml:8:43: models[0].wire_model: wire_model "w\x1b" holds a space, a control or an invisible character; model names are single words such as gpt-4.1`,
			}},
		{"models[] display name with an escape sequence", provider("models:\n  - {id: a, provider: az, name: \"A \\e[2J model\"}\n"),
			[]string{`h.yaml:8:33: models[0].name: name "A \x1b[2J model" holds a control or an invisible character; remove it`}},
		{"models[] display name with spaces", provider("models:\n  - {id: a, provider: az, name: GPT 4.1 (Azure)}\n"), nil},
		{"model names with slashes, dots, colons", strings.Replace(provider("    wire_model: anthropic.claude-3-5-sonnet-20241022-v2:0\n"), "model: gpt-4.1", "model: meta-llama/Llama-3.1-70B", 1), nil},
		{"header name with a space", provider("    headers: {\"X-Bad Name\": v}\n"),
			[]string{`h.yaml:7:29: providers.az.headers.X-Bad Name: header name "X-Bad Name" is not an HTTP header name: use letters, digits and !#$%&'*+-.^_` + "`" + `|~ (no spaces)`}},
		{"header name with a newline", provider("    headers: {\"X-A\\nB\": v}\n"),
			[]string{`h.yaml:7:25: "providers.az.headers.X-A\nB": header name "X-A\nB" is not an HTTP header name: use letters, digits and !#$%&'*+-.^_` + "`" + `|~ (no spaces)`}},
		{"header value with CRLF from a variable", provider("    headers: {X-Gw: \"${CRLF}\"}\n"),
			[]string{`h.yaml:7:21: providers.az.headers.X-Gw: value of header X-Gw (from ${CRLF}): byte 8 of 23 is a carriage return (0x0d), which an HTTP header cannot carry; header values are visible ASCII with spaces inside only`}},
		{"header value with a zero-width character from a variable", provider("    headers: {X-Gw: \"k=${ZW}\"}\n"),
			[]string{`h.yaml:7:21: providers.az.headers.X-Gw: value of header X-Gw (from ${ZW}): byte 9 of 14 is a non-ASCII byte, which an HTTP header cannot carry; header values are visible ASCII with spaces inside only`}},
		{"header value with leading space", provider("    headers: {X-Gw: \"${SPACE}\"}\n"),
			[]string{`h.yaml:7:21: providers.az.headers.X-Gw: value of header X-Gw (from ${SPACE}): byte 0 of 12 is a space, which an HTTP header cannot carry; header values are visible ASCII with spaces inside only`}},
		{"header value written with a tab at the end", provider("    headers: {X-Team: \"a\\t\"}\n"),
			[]string{`h.yaml:7:23: providers.az.headers.X-Team: value of header X-Team: byte 1 of 2 is a tab (0x09), which an HTTP header cannot carry (trailing whitespace or an extra newline: remove it where the credential is written); header values are visible ASCII with spaces inside only`}},
		{"good header values", provider("    headers: {X-Gw: \"${GOOD}\", X-Team: \"a 'b' \\\"c\\\" $(x) `y` ; \\\\\", X-Empty: \"\"}\n"), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := parseProblems(t, tc.src, env)
			// The position and the hint vary a little by value; the
			// message must match and never hold a variable's value.
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
			if strings.Contains(strings.Join(got, "\n"), "CANARY") {
				t.Errorf("a variable's value is in the problems: %q", got)
			}
		})
	}
}

// TestSecondDocumentIsRefused: YAML after a `---` used to be ignored.
func TestSecondDocumentIsRefused(t *testing.T) {
	const one = "providers:\n  p: {type: openai, base_url: https://x, model: m, auth: {type: static, api_key: k}}\n"
	tests := []struct{ name, src, wantErr string }{
		{"leading --- is one document", "---\n" + one, ""},
		{"trailing --- with nothing after", one + "---\n", ""},
		{"document end marker", one + "...\n", ""},
		{"second document", one + "---\nproviders:\n  q: {type: openai}\n", "h.yaml:3:1: a second YAML document starts here (---); byokcred reads one document per file: merge it into the first or remove it"},
		{"second document after ...", one + "...\n---\ndefault_provider: q\n", "h.yaml:4:1: a second YAML document starts here (---); byokcred reads one document per file: merge it into the first or remove it"},
		{"second document that does not parse", one + "---\nproviders: [\n", "h.yaml:4:1: did not find expected node content"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("h.yaml", []byte(tc.src), lookupFrom(nil))
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tc.wantErr {
				t.Errorf("err = %q, want %q", got, tc.wantErr)
			}
		})
	}
}

// TestExpansionIsBounded: a large variable referred to from many keys (or
// through aliases) used to take validate to a gigabyte.
func TestExpansionIsBounded(t *testing.T) {
	big := strings.Repeat("CANARY-big", 10_000) // 100 KB
	half := strings.Repeat("x", 40<<10)         // 40 KiB, under the per-value bound
	var many strings.Builder
	many.WriteString("providers:\n  p:\n    type: openai\n    base_url: https://x\n    model: m\n    headers:\n")
	for i := range 40 {
		fmt.Fprintf(&many, "      X-%d: ${HALF}\n", i)
	}
	many.WriteString("    auth: {type: static, api_key: k}\n")
	aliased := "plugins:\n  a:\n    command: /bin/true\n    env: &e {A: \"${HALF}\", B: \"${HALF}\", C: \"${HALF}\", D: \"${HALF}\"}\n"
	for i := range 10 {
		aliased += fmt.Sprintf("  p%d: {command: /bin/true, env: *e}\n", i)
	}
	aliased += "providers:\n  p: {type: openai, base_url: https://x, model: m, auth: {type: static, api_key: k}}\n"
	tests := []struct {
		name, src string
		want      []string
	}{
		{"one value over 64 KiB", "providers:\n  p: {type: openai, base_url: \"https://x/${BIG}\", model: m, auth: {type: static, api_key: k}}\n",
			[]string{`h.yaml:2:31: providers.p.base_url: value would exceed 65536 bytes, the most a value may hold, once ${BIG} is expanded; check what the variable holds`}},
		{"a value naming a variable many times", "providers:\n  p: {type: openai, base_url: \"https://x/" + strings.Repeat("${HALF}", 1000) + "\", model: m, auth: {type: static, api_key: k}}\n",
			[]string{`h.yaml:2:31: providers.p.base_url: value would exceed 65536 bytes, the most a value may hold, once ${HALF} is expanded; check what the variable holds`}},
		{"through a default", "providers:\n  p: {type: openai, base_url: \"https://x/${HALF}${NOPE:-${HALF}}\", model: m, auth: {type: static, api_key: k}}\n",
			[]string{`h.yaml:2:31: providers.p.base_url: value would exceed 65536 bytes, the most a value may hold, once ${NOPE:-…} is expanded; check what the variables hold`}},
		{"many values over 1 MiB in all", many.String(),
			[]string{`h.yaml:32:13: providers.p.headers.X-25: variables (here ${HALF}) add more than 1048576 bytes to the file in all, counting every use through an alias; refusing to expand more: check what they hold and how often the file refers to them`}},
		{"aliases count at every use", aliased,
			[]string{`h.yaml:4:31: plugins.p5.env.B: variables (here ${HALF}) add more than 1048576 bytes to the file in all, counting every use through an alias; refusing to expand more: check what they hold and how often the file refers to them`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := parseProblems(t, tc.src, map[string]string{"BIG": big, "HALF": half})
			// Header-value problems of the 40 KiB values are not what this
			// test is about; keep the expansion problems.
			var kept []string
			for _, l := range got {
				if strings.Contains(l, "expand") {
					kept = append(kept, l)
				}
			}
			if diff := cmp.Diff(tc.want, kept); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
			if strings.Contains(strings.Join(got, "\n"), "CANARY") {
				t.Error("a variable's value is in the problems")
			}
		})
	}
}

// TestProblemListIsCapped: a large file with the same mistake everywhere
// (merge keys made one 369 KB config yield 11 MB of problems) reports the
// first MaxProblems and how many more there are; a problem of the file
// beyond the cap still fails validate --offline, which drops those of the
// environment.
func TestProblemListIsCapped(t *testing.T) {
	var src strings.Builder
	src.WriteString("base: &b {type: openai, base_url: https://x, model: m, auth: {type: static, api_key: k}, bogus: 1}\nproviders:\n")
	for i := range 500 {
		fmt.Fprintf(&src, "  p%d: {<<: *b, typo: 1}\n", i)
	}
	cfg, err := Parse("h.yaml", []byte(src.String()), lookupFrom(nil))
	if err == nil {
		t.Fatal("no error")
	}
	el := err.(ErrorList)
	if len(el) != MaxProblems+1 {
		t.Fatalf("%d problems listed, want %d and a summary", len(el), MaxProblems+1)
	}
	last := el[len(el)-1]
	if last.Environment || !strings.HasPrefix(last.Msg, "and ") || !strings.HasSuffix(last.Msg, fmt.Sprintf("more problems not listed (only the first %d are); fix these first", MaxProblems)) {
		t.Errorf("summary = %+v", last)
	}
	if n := len(err.Error()); n > 64<<10 {
		t.Errorf("the problems take %d bytes", n)
	}
	_ = cfg
}

// TestFileNameStaysOnOneLine: a config path with a newline (a directory
// name) must not split a problem line either.
func TestFileNameStaysOnOneLine(t *testing.T) {
	_, err := Parse("/tmp/a\nb\r.yaml", []byte("providers: {p: {type: gemini}}\n"), nil)
	if err == nil {
		t.Fatal("no error")
	}
	for _, line := range strings.Split(err.Error(), "\n") {
		if !strings.HasPrefix(line, `"/tmp/a\nb\r.yaml":1:`) {
			t.Errorf("problem line %q does not start with the quoted file name", line)
		}
	}
}
