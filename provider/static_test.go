package provider

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestStaticSourceValueAndEnv(t *testing.T) {
	env := map[string]string{"KEY": "from-env", "EMPTY": ""}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	tests := []struct {
		name    string
		opts    StaticOptions
		want    string
		wantErr string
	}{
		{name: "literal", opts: StaticOptions{Kind: KindAPIKey, Value: NewSecret("lit")}, want: "lit"},
		{name: "env", opts: StaticOptions{Kind: KindBearer, Env: "KEY"}, want: "from-env"},
		{name: "missing env names the variable", opts: StaticOptions{Kind: KindAPIKey, Env: "NOPE"}, wantErr: "environment variable NOPE is not set"},
		{name: "empty env", opts: StaticOptions{Kind: KindAPIKey, Env: "EMPTY"}, wantErr: "environment variable EMPTY is empty"},
		{name: "two sources", opts: StaticOptions{Kind: KindAPIKey, Env: "KEY", Value: NewSecret("x")}, wantErr: "exactly one"},
		{name: "no kind", opts: StaticOptions{Env: "KEY"}, wantErr: "needs a kind"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.LookupEnv = lookup
			s, err := NewStaticSource(tc.opts)
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

func TestStaticSourceFileRotation(t *testing.T) {
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
	s, err := NewStaticSource(StaticOptions{Kind: KindAPIKey, File: path})
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

func TestStaticSourceFileRefusals(t *testing.T) {
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
			_, err := NewStaticSource(StaticOptions{Kind: KindAPIKey, File: p})
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.wantErr)
			}
		})
	}
	t.Run("missing file", func(t *testing.T) {
		_, err := NewStaticSource(StaticOptions{Kind: KindAPIKey, File: filepath.Join(dir, "nope")})
		if err == nil || !strings.Contains(err.Error(), "no such file") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("file made world-readable after load is refused", func(t *testing.T) {
		p := filepath.Join(dir, "later")
		os.WriteFile(p, []byte("k1"), 0o600)
		s, err := NewStaticSource(StaticOptions{Kind: KindAPIKey, File: p})
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(p, []byte("k2-longer"), 0o600)
		os.Chmod(p, 0o644)
		if _, err := s.Token(context.Background()); err == nil || !strings.Contains(err.Error(), "mode 0644") {
			t.Fatalf("err = %v, want a mode error", err)
		}
	})
}
