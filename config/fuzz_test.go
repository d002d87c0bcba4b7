package config

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// positioned matches an error line that carries a position: FILE:LINE:COL:
// or, for problems of the file as a whole, FILE: .
var positioned = regexp.MustCompile(`^fuzz\.yaml(:\d+:\d+)?: `)

func addSeeds(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.yaml")
	if len(files) == 0 {
		f.Fatal("no seeds in testdata/")
	}
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("providers: {a: {type: openai, base_url: '${X', model: m, auth: {type: static}}}"))
	f.Add([]byte("a: &a [*a]"))
	f.Add([]byte("providers:\n  a:\n    - 1\n    - 2\n"))
	// CI's fuzzing found the base_url check quoting an expanded value.
	f.Add([]byte("providers:\n  - {base_url: \"${X}\"}\n"))
	// Nested defaults expand (issue 19.12): the fallback's value is a
	// variable's value too and must not appear in errors.
	f.Add([]byte("providers: {a: {type: openai, base_url: '${NOPE:-${X}}', model: m, auth: {type: static, api_key: '${NOPE:-${K}'}}}"))
}

// FuzzParse: no input panics the loader, decoding stays bounded, and every
// problem carries a position.
func FuzzParse(f *testing.F) {
	addSeeds(f)
	const secret = "FUZZ-CANARY-SECRET"
	lookup := func(k string) (string, bool) {
		if k == "X" || k == "HOST" || k == "K" {
			return secret, true
		}
		return "", false
	}
	check := func(t *testing.T, err error) {
		for _, line := range strings.Split(err.Error(), "\n") {
			if !positioned.MatchString(line) {
				t.Fatalf("error without a position: %q", line)
			}
			if strings.Contains(line, secret) {
				t.Fatalf("error reveals a variable's value: %q", line)
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse("fuzz.yaml", data, lookup)
		if cfg == nil {
			check(t, err)
			return
		}
		// Decode every auth block too, as the registry would.
		for _, name := range cfg.Names() {
			var sink map[string]any
			cfg.Doc.Decode(cfg.Providers[name].Auth, cfg.Providers[name].Path()+".auth", &sink)
		}
		if err := cfg.Doc.Err(); err != nil {
			check(t, err)
		}
	})
}

// FuzzExpand: expansion never panics, and its errors name variables, never
// values.
func FuzzExpand(f *testing.F) {
	for _, s := range []string{"${A}", "${A:-b}", "$${A}", "x${", "${}", "${A:-${B}}", "$", "${A}${B:-}", "${1}",
		"${B:-${A}}", "${B:-${B:-${A}}}", "${B:-${A}", "${B:-$${A}}", "${B:-}}", "${B:-${}}", "${B:-${B:-${B:-${B:-${B:-${B:-${B:-${B:-${B:-${A}}}}}}}}}}"} {
		f.Add(s)
	}
	const value = "EXPAND-CANARY"
	f.Fuzz(func(t *testing.T, s string) {
		out, err := expandVars(s, func(k string) (string, bool) {
			if k == "A" {
				return value, true
			}
			return "", false
		})
		if err != nil {
			if strings.Contains(err.Error(), value) {
				t.Fatalf("error reveals a value: %v", err)
			}
			return
		}
		if !strings.Contains(s, "$") && out != s {
			t.Fatalf("expandVars(%q) = %q: text without $ must pass through", s, out)
		}
	})
}

// TestKeysWithControlCharactersStayOnOneLine: FuzzParse found a key holding
// "\r\r" (or "\n") printed raw in the key path, which split one problem
// over two lines, the second without a position.
func TestKeysWithControlCharactersStayOnOneLine(t *testing.T) {
	for _, src := range []string{"\"a\\nb\": 1\n", "\"a\\r\\rb\": 1\n", "providers:\n  \"p\\r\\rq\": {type: openai}\n"} {
		_, err := Parse("fuzz.yaml", []byte(src), nil)
		if err == nil {
			t.Fatalf("%q: no error", src)
		}
		for _, line := range strings.Split(err.Error(), "\n") {
			if !positioned.MatchString(line) || strings.ContainsAny(line, "\r") {
				t.Errorf("%q: error line without a position or with a raw control character: %q", src, line)
			}
		}
	}
}
