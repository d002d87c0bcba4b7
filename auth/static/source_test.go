package static

import (
	"context"
	"encoding/base64"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/byokcred/byokcred/credential"
	"github.com/byokcred/byokcred/internal/testkit/fakeclock"
	"github.com/byokcred/byokcred/internal/testkit/syncbuf"
	"github.com/byokcred/byokcred/secretfile"
)

func TestSourceValueAndEnv(t *testing.T) {
	env := map[string]string{"KEY": "from-env", "EMPTY": ""}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	tests := []struct {
		name    string
		opts    SourceOptions
		want    string
		wantErr string
	}{
		{name: "literal", opts: SourceOptions{Kind: credential.KindAPIKey, Value: credential.NewSecret("lit")}, want: "lit"},
		{name: "env", opts: SourceOptions{Kind: credential.KindBearer, Env: "KEY"}, want: "from-env"},
		{name: "missing env names the variable", opts: SourceOptions{Kind: credential.KindAPIKey, Env: "NOPE"}, wantErr: "environment variable NOPE is not set"},
		{name: "empty env", opts: SourceOptions{Kind: credential.KindAPIKey, Env: "EMPTY"}, wantErr: "environment variable EMPTY is empty"},
		{name: "two sources", opts: SourceOptions{Kind: credential.KindAPIKey, Env: "KEY", Value: credential.NewSecret("x")}, wantErr: "exactly one"},
		{name: "no kind", opts: SourceOptions{Env: "KEY"}, wantErr: "needs a kind"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.LookupEnv = lookup
			s, err := NewSource(tc.opts)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tok, err := s.Token(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, tok.Value.Reveal()); diff != "" {
				t.Error(diff)
			}
			if tok.Kind != tc.opts.Kind || !tok.Expiry.IsZero() {
				t.Errorf("token kind %v expiry %v, want %v and no expiry", tok.Kind, tok.Expiry, tc.opts.Kind)
			}
		})
	}
}

func TestSourceFileRotation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "key")
	write := func(content string, mtime time.Time) {
		t.Helper()
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(path, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	t0 := time.Now().Add(-time.Hour)
	write("first-key\n", t0)
	s, err := NewSource(SourceOptions{Kind: credential.KindAPIKey, File: path})
	if err != nil {
		t.Fatal(err)
	}
	get := func() string {
		t.Helper()
		tok, err := s.Token(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return tok.Value.Reveal()
	}
	var got []string
	got = append(got, get())
	write("second-key\r\n", t0.Add(time.Second)) // rotated, CRLF trimmed
	got = append(got, get())
	got = append(got, get()) // unchanged: served from memory
	write("third-key-x", t0.Add(2*time.Second))
	got = append(got, get())
	if diff := cmp.Diff([]string{"first-key", "second-key", "second-key", "third-key-x"}, got); diff != "" {
		t.Errorf("keys over rotations (-want +got):\n%s", diff)
	}
}

// TestSourceFileRewrittenInPlace: a key file rewritten in place (truncate,
// then write) is empty for a moment; requests then got 503 "key.txt is
// empty" (issue 23, finding 9). The last good key stays in use through every
// state a rewrite or a mistake can leave the file in, with one warning per
// state naming the file and never a value, and the new key is served as
// soon as it is there.
func TestSourceFileRewrittenInPlace(t *testing.T) {
	const (
		oldKey = "CANARY-old-key-0c1d2e"
		newKey = "CANARY-new-key-7f8a9b"
	)
	path := filepath.Join(t.TempDir(), "key.txt")
	t0 := time.Now().Add(-time.Hour)
	tick := 0
	// write sets the file's content and mode with a new modification time,
	// as a rewrite does.
	write := func(content string, mode os.FileMode) {
		t.Helper()
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		tick++
		mt := t0.Add(time.Duration(tick) * time.Second)
		if err := os.Chtimes(path, mt, mt); err != nil {
			t.Fatal(err)
		}
	}
	write(oldKey+"\n", 0o600)
	logs := new(syncbuf.Buffer)
	s, err := NewSource(SourceOptions{Kind: credential.KindBearer, File: path, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name    string
		change  func()
		want    string
		warning string // "" when none is logged
	}{
		{"truncated", func() { write("", 0o600) }, oldKey, "is empty"},
		{"asked again while still truncated", func() {}, oldKey, ""},
		{"half written: a space, no key yet", func() { write("CANARY-new key", 0o600) }, oldKey, "a space"},
		{"new key written", func() { write(newKey+"\n", 0o600) }, newKey, ""},
		{"removed", func() { os.Remove(path) }, newKey, "no such file"},
		{"back, readable by others", func() { write(oldKey, 0o644) }, newKey, "readable by group or others"},
		{"too big", func() { write(strings.Repeat("k", secretfile.MaxSize+1), 0o600) }, newKey, "at most"},
		{"fixed", func() { write(oldKey, 0o600) }, oldKey, ""},
	}
	for _, st := range steps {
		before := len(logs.String())
		st.change()
		tok, err := s.Token(context.Background())
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if diff := cmp.Diff(st.want, tok.Value.Reveal()); diff != "" {
			t.Errorf("%s: key (-want +got):\n%s", st.name, diff)
		}
		logged := logs.String()[before:]
		switch {
		case st.warning == "" && logged != "":
			t.Errorf("%s: logged %q, want nothing", st.name, logged)
		case st.warning != "" && !(strings.Contains(logged, "level=WARN") && strings.Contains(logged, "file="+path) && strings.Contains(logged, st.warning)):
			t.Errorf("%s: logged %q, want one warning naming %s and %q", st.name, logged, path, st.warning)
		case strings.Count(logged, "\n") > 1:
			t.Errorf("%s: logged %q, want one line", st.name, logged)
		}
	}
	for _, k := range []string{oldKey, newKey} {
		if strings.Contains(logs.String(), k) {
			t.Errorf("the log shows a key:\n%s", logs)
		}
	}
	t.Run("a first read still fails", func(t *testing.T) {
		empty := filepath.Join(t.TempDir(), "empty")
		if err := os.WriteFile(empty, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := NewSource(SourceOptions{Kind: credential.KindAPIKey, File: empty}); err == nil || !strings.Contains(err.Error(), "is empty") {
			t.Fatalf("err = %v, want the file's error: there is no last good key", err)
		}
	})
}

func TestSourceFileRefusals(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name    string
		content string
		mode    os.FileMode
		wantErr string
	}{
		{"group readable", "k", 0o640, "readable by group or others (mode 0640); run: chmod 600"},
		{"world readable", "k", 0o604, "(mode 0604)"},
		{"empty", "\n", 0o600, "is empty"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-"))
			if err := os.WriteFile(p, []byte(tc.content), tc.mode); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(p, tc.mode); err != nil {
				t.Fatal(err)
			}
			_, err := NewSource(SourceOptions{Kind: credential.KindAPIKey, File: p})
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.wantErr)
			}
		})
	}
	t.Run("missing file", func(t *testing.T) {
		_, err := NewSource(SourceOptions{Kind: credential.KindAPIKey, File: filepath.Join(dir, "nope")})
		if err == nil || !strings.Contains(err.Error(), "no such file") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("file made world-readable after load is not read", func(t *testing.T) {
		p := filepath.Join(dir, "later")
		os.WriteFile(p, []byte("k1"), 0o600)
		logs := new(syncbuf.Buffer)
		s, err := NewSource(SourceOptions{Kind: credential.KindAPIKey, File: p, Logger: slog.New(slog.NewTextHandler(logs, nil))})
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(p, []byte("k2-longer"), 0o600)
		os.Chmod(p, 0o644)
		// The last good key stays in use (issue 23, finding 9), and the
		// warning says what to run.
		if tok, err := s.Token(context.Background()); err != nil || tok.Value.Reveal() != "k1" {
			t.Fatalf("got %v, %v; want the last good key", tok, err)
		}
		if !strings.Contains(logs.String(), "mode 0644") {
			t.Fatalf("log %q, want a mode warning", logs)
		}
	})
}

// testJWT builds an unsigned JWT carrying exp (the static source reads, never
// verifies, the claims).
func testJWT(exp time.Time, tag string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"none"}`)) + "." + enc([]byte(fmt.Sprintf(`{"exp":%d,"sub":%q}`, exp.Unix(), tag))) + ".sig"
}

// A credential that cannot be an HTTP header value is refused where it is
// loaded, naming the source and byte offset, never the value (issue 19.1).
func TestSourceRefusesValuesThatCannotBeHeaders(t *testing.T) {
	dir := t.TempDir()
	const secret = "CANARY-static-91be"
	env := map[string]string{"K8S_KEY": secret + "\n", "CRLF_TOKEN": secret + "\r\nX: y"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	file := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	twoNewlines := file("two-newlines", secret+"\n\n")
	innerSpace := file("inner-space", "Bearer "+secret+"\n")
	tests := []struct {
		name    string
		opts    SourceOptions
		wantErr string
	}{
		{"env with a second newline", SourceOptions{Kind: credential.KindAPIKey, Env: "K8S_KEY"}, "static: environment variable K8S_KEY: byte 18 of 19 is a line feed"},
		{"env with CRLF inside", SourceOptions{Kind: credential.KindBearer, Env: "CRLF_TOKEN"}, "static: environment variable CRLF_TOKEN: byte 18 of 24 is a carriage return"},
		{"file with two trailing newlines", SourceOptions{Kind: credential.KindAPIKey, File: twoNewlines}, "static: secret file " + twoNewlines + ": byte 18 of 19 is a line feed"},
		{"bearer file with a space", SourceOptions{Kind: credential.KindBearer, File: innerSpace}, "static: secret file " + innerSpace + ": byte 6 of 25 is a space"},
		{"literal with a control character", SourceOptions{Kind: credential.KindBearer, Value: credential.NewSecret(secret + "\x01")}, "static: the bearer_token value: byte 18 of 19 is a control character (0x01)"},
		{"literal API key with DEL", SourceOptions{Kind: credential.KindAPIKey, Value: credential.NewSecret("\x7f" + secret)}, "static: the api_key value: byte 0 of 19 is a DEL"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.LookupEnv = lookup
			_, err := NewSource(tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.wantErr)
			}
			if strings.Contains(err.Error(), secret) {
				t.Fatalf("error reveals the value: %v", err)
			}
		})
	}
	t.Run("a rotated file with a bad value keeps the last good key, and says why", func(t *testing.T) {
		p := file("rotated", "good-key\n")
		logs := new(syncbuf.Buffer)
		s, err := NewSource(SourceOptions{Kind: credential.KindAPIKey, File: p, Logger: slog.New(slog.NewTextHandler(logs, nil))})
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(p, []byte(secret+"\n\n"), 0o600)
		tok, err := s.Token(context.Background())
		if err != nil || tok.Value.Reveal() != "good-key" {
			t.Fatalf("got %v, %v; want the last good key", tok, err)
		}
		if !strings.Contains(logs.String(), "line feed") || strings.Contains(logs.String(), secret) {
			t.Fatalf("log %q: want the line-feed warning without the value", logs)
		}
	})
}

// A key file, variable or literal holding a JSON document is refused like
// a secret-store value without json_key (issue 23, finding 4): sent whole,
// {"anthropic": …, "openai": …} gives every vendor's key to one endpoint.
func TestSourceRefusesJSONDocuments(t *testing.T) {
	const (
		openai    = "sk-CANARY-json-5a1c"
		anthropic = "sk-ant-CANARY-json-7d2e"
	)
	both := `{"anthropic": "` + anthropic + `", "openai": "` + openai + `"}`
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "key.json")
	if err := os.WriteFile(keyFile, []byte(both+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"KEYS": both, "LIST": `["` + openai + `"]`}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	tests := []struct {
		name    string
		opts    SourceOptions
		wantErr string
	}{
		{"file", SourceOptions{Kind: credential.KindAPIKey, File: keyFile},
			"static: secret file " + keyFile + ` holds a JSON object with fields "anthropic", "openai", not a key: keep the one key alone there (json_key, which picks a field, applies to api_key_secret and bearer_token_secret)`},
		{"env", SourceOptions{Kind: credential.KindBearer, Env: "KEYS"},
			`static: environment variable KEYS holds a JSON object with fields "anthropic", "openai", not a key`},
		{"env array", SourceOptions{Kind: credential.KindAPIKey, Env: "LIST"},
			`static: environment variable LIST holds a JSON array, not a key`},
		{"literal", SourceOptions{Kind: credential.KindAPIKey, Value: credential.NewSecret(both)},
			`static: the api_key value holds a JSON object with fields "anthropic", "openai", not a key`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.LookupEnv = lookup
			_, err := NewSource(tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v\nwant it to contain %q", err, tc.wantErr)
			}
			for _, s := range []string{openai, anthropic} {
				if strings.Contains(err.Error(), s) {
					t.Errorf("error reveals %q: %v", s, err)
				}
			}
		})
	}
}

// credential.Secret files are capped and must be regular files (issue 19.9).
func TestSourceFileSizeAndType(t *testing.T) {
	dir := t.TempDir()
	sparse := filepath.Join(dir, "sparse")
	f, err := os.OpenFile(sparse, os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(2 << 30); err != nil { // 2 GiB, no blocks used
		t.Fatal(err)
	}
	f.Close()
	justOver := filepath.Join(dir, "just-over")
	os.WriteFile(justOver, []byte(strings.Repeat("k", secretfile.MaxSize+1)), 0o600)
	atCap := filepath.Join(dir, "at-cap")
	os.WriteFile(atCap, []byte(strings.Repeat("k", secretfile.MaxSize)), 0o600)
	subdir := filepath.Join(dir, "subdir")
	os.Mkdir(subdir, 0o700)
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, path, wantErr string
	}{
		{"2 GiB sparse file", sparse, "is 2147483648 bytes; a credential file holds at most 65536"},
		{"one byte over the cap", justOver, "is 65537 bytes; a credential file holds at most 65536"},
		{"at the cap", atCap, ""},
		{"FIFO", fifo, "is not a regular file (p"},
		{"directory", subdir, "is not a regular file (d"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			done := make(chan error, 1)
			go func() {
				_, err := NewSource(SourceOptions{Kind: credential.KindAPIKey, File: tc.path})
				done <- err
			}()
			var err error
			select {
			case err = <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("reading the secret file blocked")
			}
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.wantErr)
			}
		})
	}
	t.Run("a pseudo-file reporting size 0 is read only up to the cap and NULs are refused", func(t *testing.T) {
		// /proc/self/environ is a regular 0400 file of "size 0" holding
		// NUL-separated variables.
		fi, err := os.Stat("/proc/self/environ")
		if err != nil {
			t.Skip("no /proc")
		}
		_, err = secretfile.Read("/proc/self/environ", fi, nil)
		if err == nil || !strings.Contains(err.Error(), "is a NUL byte; it is not a text credential file") {
			t.Fatalf("err = %v, want a NUL refusal", err)
		}
	})
	t.Run("a file swapped for a FIFO after stat is refused without blocking", func(t *testing.T) {
		done := make(chan error, 1)
		go func() {
			_, err := secretfile.ReadBytes(fifo)
			done <- err
		}()
		select {
		case err := <-done:
			if err == nil || !strings.Contains(err.Error(), "not a regular file") {
				t.Fatalf("err = %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("opening a FIFO blocked")
		}
	})
}

// A static bearer token that is a JWT expires at its exp claim (issue 12.5):
// `token` shows it, an expired one is an error naming where it came from, and
// a re-written file is picked up.
func TestSourceBearerJWTExpiry(t *testing.T) {
	clock := fakeclock.New()
	exp := clock.Now().Add(time.Hour)
	first, second := testJWT(exp, "first"), testJWT(exp.Add(time.Hour), "second")
	path := filepath.Join(t.TempDir(), "token")
	write := func(content string, mtime time.Time) {
		t.Helper()
		if err := os.WriteFile(path, []byte(content+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		os.Chtimes(path, mtime, mtime)
	}
	t0 := time.Now().Add(-time.Hour)
	write(first, t0)
	env := map[string]string{"TOKEN": first}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	sources := map[string]SourceOptions{
		"bearer_token":      {Kind: credential.KindBearer, Value: credential.NewSecret(first)},
		"bearer_token_env":  {Kind: credential.KindBearer, Env: "TOKEN"},
		"bearer_token_file": {Kind: credential.KindBearer, File: path},
	}
	for name, opts := range sources {
		t.Run(name, func(t *testing.T) {
			opts.LookupEnv, opts.Now = lookup, clock.Now
			s, err := NewSource(opts)
			if err != nil {
				t.Fatal(err)
			}
			tok, err := s.Token(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(exp.Truncate(time.Second).UTC(), tok.Expiry); diff != "" {
				t.Errorf("expiry (-want +got):\n%s", diff)
			}
		})
	}
	clock.Advance(time.Hour)
	wantErr := map[string]string{
		"bearer_token":      "static: the JWT in the bearer_token value expired at 2026-01-01T13:00:00Z",
		"bearer_token_env":  "static: the JWT in environment variable TOKEN expired at 2026-01-01T13:00:00Z",
		"bearer_token_file": "static: the JWT in secret file " + path + " expired at 2026-01-01T13:00:00Z",
	}
	for name, opts := range sources {
		t.Run(name+" expired", func(t *testing.T) {
			opts.LookupEnv, opts.Now = lookup, clock.Now
			s, err := NewSource(opts) // an expired token still loads
			if err != nil {
				t.Fatal(err)
			}
			tok, err := s.Token(context.Background())
			if err == nil || !strings.Contains(err.Error(), wantErr[name]) || strings.Contains(err.Error(), first) {
				t.Fatalf("token %v, err = %v; want %q", tok, err, wantErr[name])
			}
		})
	}
	t.Run("a re-written file is picked up", func(t *testing.T) {
		s, err := NewSource(SourceOptions{Kind: credential.KindBearer, File: path, Now: clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		write(second, t0.Add(time.Second))
		tok, err := s.Token(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if tok.Value.Reveal() != second || !tok.Expiry.Equal(exp.Add(time.Hour).Truncate(time.Second)) {
			t.Errorf("got expiry %v, want the new token's", tok.Expiry)
		}
	})
	t.Run("API keys are not parsed", func(t *testing.T) {
		s, err := NewSource(SourceOptions{Kind: credential.KindAPIKey, Value: credential.NewSecret(first), Now: clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		tok, err := s.Token(context.Background())
		if err != nil || !tok.Expiry.IsZero() {
			t.Fatalf("token expiry %v, err %v: want an API key without expiry", tok.Expiry, err)
		}
	})
}
