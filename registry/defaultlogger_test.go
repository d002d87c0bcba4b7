package registry_test

import (
	"bytes"
	"log/slog"
	"os"
	"strings"
	"testing"

	"github.com/byokcred/byokcred/internal/testkit/configtest"
	"github.com/byokcred/byokcred/registry"
)

// A library program that passes no Logger still hears about a rejected
// reload: the default is slog.Default(), as documented, not a discarding
// logger (reload failures used to vanish).
func TestReloadFailureReachesTheDefaultLogger(t *testing.T) {
	var buf bytes.Buffer
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&buf, nil)))
	defer slog.SetDefault(old)

	path := configtest.Write(t, "providers:\n  p:\n    type: openai\n    base_url: https://api.example.com/v1\n    model: m\n    auth: {type: static, api_key: k}\n")
	live, err := registry.NewLive(path, registry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	if err := os.WriteFile(path, []byte("providers: [\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := live.Reload(); err == nil {
		t.Fatal("Reload of a broken file succeeded")
	}
	if got := buf.String(); !strings.Contains(got, "level=ERROR msg=\"config reload rejected; the previous config keeps serving\" file="+path) {
		t.Errorf("default logger got %q; want the rejected reload", got)
	}
}
