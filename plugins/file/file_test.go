package file

import (
	"context"
	"encoding/base64"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/byokcred/byokcred/credential"
)

// jwt builds an unsigned-looking JWT with the given claims JSON; the
// signature is junk, which the plugin does not check.
func jwt(claims string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"RS256","typ":"JWT"}`)) + "." + enc([]byte(claims)) + ".c2lnbmF0dXJl"
}

func write(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

type result struct {
	Value  string
	Kind   credential.Kind
	Expiry time.Time
}

func TestContent(t *testing.T) {
	exp := time.Now().Add(time.Hour).Truncate(time.Second)
	expired := time.Now().Add(-time.Hour).Truncate(time.Second)
	tests := []struct {
		name    string
		content string
		mode    os.FileMode
		kind    string
		want    result
		wantErr string // after "file: " and the path
	}{
		{name: "opaque token, trailing newline", content: "opaque-tok\n", want: result{Value: "opaque-tok", Kind: credential.KindBearer}},
		{name: "api key", content: "key-1", kind: "api_key", want: result{Value: "key-1", Kind: credential.KindAPIKey}},
		{name: "crlf", content: "tok\r\n", want: result{Value: "tok", Kind: credential.KindBearer}},
		{name: "jwt exp", content: jwt(`{"sub":"x","exp":` + strconv.FormatInt(exp.Unix(), 10) + `}`), want: result{Kind: credential.KindBearer, Expiry: exp}},
		{name: "jwt without exp", content: jwt(`{"sub":"x"}`), want: result{Kind: credential.KindBearer}},
		{name: "dotted but not a jwt", content: "a.b.c", want: result{Value: "a.b.c", Kind: credential.KindBearer}},
		{name: "expired jwt", content: jwt(`{"exp":` + strconv.FormatInt(expired.Unix(), 10) + `}`), wantErr: " expired at " + expired.UTC().Format(time.RFC3339)},
		{name: "jwt with a string exp", content: jwt(`{"exp":"soon"}`), wantErr: " looks like a JWT but its exp claim is not a plausible NumericDate"},
		{name: "two lines", content: "a\nb\n", wantErr: " holds more than one line; it must hold only the token"},
		{name: "empty", content: "\n", wantErr: " is empty"},
		{name: "json object", content: `{"anthropic":"sk-ant-CANARY-f1","openai":"sk-CANARY-f2"}`, wantErr: ` holds a JSON object with fields "anthropic", "openai", not a token`},
		{name: "group readable", content: "tok", mode: 0o640, wantErr: " is readable by group or others (mode 0640)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "token")
			mode := tc.mode
			if mode == 0 {
				mode = 0o600
			}
			write(t, path, tc.content, mode)
			config := map[string]any{"path": path}
			if tc.kind != "" {
				config["kind"] = tc.kind
			}
			src, err := Plugin{}.Configure(context.Background(), "p", config)
			var tok *credential.Token
			if err == nil {
				tok, err = src.Token(context.Background())
			}
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), path+tc.wantErr) || !strings.HasPrefix(err.Error(), "file: ") {
					t.Fatalf("error %v, want one with %q", err, path+tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.want.Value == "" {
				tc.want.Value = tc.content
			}
			got := result{Value: tok.Value.Reveal(), Kind: tok.Kind, Expiry: tok.Expiry}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("token (-want +got):\n%s", diff)
			}
		})
	}
}

// TestRotation: a rewritten file is picked up on the next call, a file
// made group-readable is refused even though its content did not change,
// and a deleted file is an error rather than the stale token.
func TestRotation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "token")
	write(t, path, "first", 0o600)
	src, err := NewSource(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var got []string
	step := func(what string) {
		tok, err := src.Token(ctx)
		if err != nil {
			got = append(got, what+": "+strings.ReplaceAll(err.Error(), path, "PATH"))
			return
		}
		got = append(got, what+": "+tok.Value.Reveal())
	}
	step("initial")
	write(t, path, "second", 0o600)
	// Same size content would need a changed mtime; make sure it differs.
	future := time.Now().Add(time.Minute)
	if err := os.Chtimes(path, future, future); err != nil {
		t.Fatal(err)
	}
	step("rewritten")
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	step("chmod 644")
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	step("chmod 600")
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	step("deleted")
	want := []string{
		"initial: first",
		"rewritten: second",
		"chmod 644: file: secretfile: PATH is readable by group or others (mode 0644); run: chmod 600 PATH",
		"chmod 600: second",
		"deleted: file: stat PATH: no such file or directory",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("steps (-want +got):\n%s", diff)
	}
}

// TestRewrittenInPlace: a token file truncated and then written (a rewrite
// in place) serves the last token while it is empty, with one warning, and
// the new one as soon as it is written (issue 23, finding 9).
func TestRewrittenInPlace(t *testing.T) {
	path := filepath.Join(t.TempDir(), "token")
	write(t, path, "old-token", 0o600)
	src, err := NewSource(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	var warnings []string
	src.warn = func(msg string, args ...any) { warnings = append(warnings, msg) }
	var got []string
	step := func(what string) {
		tok, err := src.Token(context.Background())
		if err != nil {
			got = append(got, what+": "+strings.ReplaceAll(err.Error(), path, "PATH"))
			return
		}
		got = append(got, what+": "+tok.Value.Reveal())
	}
	step("initial")
	write(t, path, "", 0o600)
	step("truncated")
	step("still empty")
	write(t, path, "new-token-x", 0o600)
	step("written")
	want := []string{"initial: old-token", "truncated: old-token", "still empty: old-token", "written: new-token-x"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("steps (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"the token file is empty, being rewritten; the last token stays in use until it is written"}, warnings); diff != "" {
		t.Errorf("warnings (-want +got):\n%s", diff)
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name   string
		config map[string]any
		want   string
	}{
		{"no path", map[string]any{}, `file: config key "path" is required`},
		{"unknown key", map[string]any{"path": "/x", "mode": "0600"}, `file: unknown config key "mode" (known keys: kind, path)`},
		{"bad kind", map[string]any{"path": "/x", "kind": "basic"}, `file: config key "kind" must be one of bearer, api_key, not "basic"`},
		{"missing file", map[string]any{"path": "/nonexistent/token"}, "file: stat /nonexistent/token: no such file or directory"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Plugin{}.Configure(context.Background(), "p", tc.config)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
		})
	}
}
