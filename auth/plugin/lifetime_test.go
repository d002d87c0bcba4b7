package plugin

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/byokcred/byokcred/credential"
	"github.com/byokcred/byokcred/internal/testkit/configtest"
	"github.com/byokcred/byokcred/internal/testkit/fakeclock"
	"github.com/byokcred/byokcred/internal/testkit/plugintest"
	"github.com/byokcred/byokcred/registry"
)

// bareJWT is what `vault read -field=token` or `kubectl create token`
// print: a JWT, here unsigned (nothing in byokcred verifies it).
func bareJWT(claims map[string]any) string {
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	return enc(map[string]string{"alg": "none"}) + "." + enc(claims) + ".sig"
}

// TestExecPluginTokenLifetimes runs the real exec plugin with a command
// that prints whatever token a file holds, through the registry with its
// defaults (only the clock is simulated and jitter off):
//
//   - a bare JWT whose exp is 8 s ahead gets that expiry: once it has
//     passed, the JWT is never served again, even when the command keeps
//     printing it, and the next token is fetched (before issue 12 the
//     cache served it forever);
//   - an opaque token is re-fetched after the provider's max_age: 5 min by
//     default, 0s never.
func TestExecPluginTokenLifetimes(t *testing.T) {
	bin, err := plugintest.Build("exec")
	if err != nil {
		t.Fatal(err)
	}
	defer plugintest.Cleanup()
	dir := t.TempDir()
	file := func(name string) string { return filepath.Join(dir, name) }
	write := func(name, token string) {
		t.Helper()
		if err := os.WriteFile(file(name), []byte(token+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	entry := func(name, extra string) string {
		return "  " + name + ": {type: openai, base_url: https://a.example, model: m, auth: {type: plugin, plugin: p" + extra +
			", config: {command: /bin/cat, args: [" + file(name) + "], format: raw}}}\n"
	}
	path := configtest.Write(t, "plugins:\n  p: {command: "+bin+", env: {PATH: /usr/bin:/bin}}\nproviders:\n"+
		entry("jwt", "")+entry("opaque", "")+entry("never", ", max_age: 0s")+entry("ninety", ", max_age: 90s"))
	clock := fakeclock.At(time.Now().Truncate(time.Second))
	start := clock.Now()
	jwt1 := bareJWT(map[string]any{"sub": "one", "exp": start.Add(8 * time.Second).Unix()})
	jwt2 := bareJWT(map[string]any{"sub": "two", "exp": start.Add(time.Hour).Unix()})
	write("jwt", jwt1)
	for _, name := range []string{"opaque", "never", "ninety"} {
		write(name, "opaque-1")
	}
	set, err := registry.Load(path, registry.Options{Now: clock.Now, Cache: credential.CacheOptions{Jitter: -1, Rand: func() float64 { return 0 }}})
	if err != nil {
		t.Fatal(err)
	}
	defer set.Close()
	token := func(name string) (string, error) {
		p, err := set.Provider(name)
		if err != nil {
			t.Fatal(err)
		}
		tok, err := p.Source.Token(context.Background())
		if err != nil {
			return "", err
		}
		return tok.Value.Reveal(), nil
	}
	stats := func(name string) credential.CacheStats {
		p, _ := set.Provider(name)
		return p.Cache.Stats()
	}

	t.Run("max_age", func(t *testing.T) {
		var got []time.Duration
		for _, name := range []string{"opaque", "never", "ninety"} {
			if v, err := token(name); err != nil || v != "opaque-1" {
				t.Fatalf("%s: %q, %v", name, v, err)
			}
			refreshIn := time.Duration(0)
			if at := stats(name).RefreshAt; !at.IsZero() {
				refreshIn = at.Sub(start)
			}
			got = append(got, refreshIn)
		}
		// Refresh due after: the default, never (zero: no refresh), 90 s.
		if diff := cmp.Diff([]time.Duration{5 * time.Minute, 0, 90 * time.Second}, got); diff != "" {
			t.Errorf("refresh due after (-want +got):\n%s", diff)
		}
	})

	t.Run("bare JWT", func(t *testing.T) {
		if v, err := token("jwt"); err != nil || v != jwt1 {
			t.Fatalf("first token: err %v, same as printed: %v", err, v == jwt1)
		}
		if got, want := stats("jwt").Expiry, start.Add(8*time.Second); !got.Equal(want) {
			t.Errorf("expiry = %s, want the JWT's exp %s", got, want)
		}
		clock.Advance(9 * time.Second) // past exp; the command still prints jwt1
		v, err := token("jwt")
		if v == jwt1 {
			t.Fatal("served the JWT after its exp")
		}
		if err == nil || !strings.Contains(err.Error(), "jwt") || !strings.Contains(err.Error(), "expired") || strings.Contains(err.Error(), jwt1) {
			t.Errorf("err = %v, want one naming the provider and the expired token (and not showing it)", err)
		}
		write("jwt", jwt2)
		clock.Advance(2 * time.Second) // past the backoff after the failed fetch
		if v, err := token("jwt"); err != nil || v != jwt2 {
			t.Fatalf("after the command printed a new JWT: err %v, got the new one: %v", err, v == jwt2)
		}
	})
}
