package bench

import (
	"context"
	"testing"
	"time"

	"github.com/byokcred/byokcred/credential"
	"github.com/byokcred/byokcred/plugins/exec"
	"github.com/byokcred/byokcred/plugins/host"
)

// BenchmarkPluginFetch is figure 4: the cost of one token from an external
// credential program, one fetch at a time (nothing cached: this is what the
// cache calls on a refresh). Both ways run the same token logic
// (bench/internal/tokenlogic): as a plugin (bench/internal/tokenprog), and
// as a helper that does only that (bench/internal/tokenexec).
//
//   - go-plugin: through plugins/host.Manager, to one long-lived plugin
//     process (gRPC over go-plugin's mTLS connection). The process is
//     started and the provider configured before the timer starts.
//   - exec-per-fetch: the helper is started for every token and prints
//     an AWS credential_process document, read by plugins/exec.Source (what
//     Kubernetes exec credential plugins and AWS credential_process do).
func BenchmarkPluginFetch(b *testing.B) {
	prog, helper := binary(b, "tokenprog"), binary(b, "tokenexec")
	ctx := context.Background()

	b.Run("go-plugin", func(b *testing.B) {
		m := host.NewManager(host.ManagerOptions{Plugins: map[string]host.PluginConfig{
			"tokenprog": {Command: prog, StartTimeout: time.Minute},
		}})
		defer m.Close()
		src, err := m.Source("tokenprog", "bench", map[string]any{"subject": "bench"})
		if err != nil {
			b.Fatal(err)
		}
		runFetches(b, ctx, src)
	})

	b.Run("exec-per-fetch", func(b *testing.B) {
		src, err := exec.NewSource(exec.Options{Command: helper, Args: []string{"bench"}, Format: exec.FormatCredentialProcess})
		if err != nil {
			b.Fatal(err)
		}
		runFetches(b, ctx, src)
	})
}

func runFetches(b *testing.B, ctx context.Context, src credential.TokenSource) {
	// The first fetch starts (and configures) a plugin process; for exec
	// it warms the page cache for the binary.
	if _, err := src.Token(ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		tok, err := src.Token(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if tok.Value.IsZero() || tok.Kind != credential.KindBearer || time.Until(tok.Expiry) < 50*time.Minute {
			b.Fatalf("unexpected token: kind %v, expiry %s", tok.Kind, tok.Expiry)
		}
	}
}
