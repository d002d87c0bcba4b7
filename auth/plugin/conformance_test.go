package plugin

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/byokcred/byokcred/internal/testkit/plugintest"
	"github.com/byokcred/byokcred/kindtest"
)

const pluginToken = "CANARY-plugin-token-7c1e42"

// TestConformance runs the kind kit on the exec plugin reading a token
// from a file; the fetch the kit cancels runs a command that never
// answers. The plugin's own config block is the plugin's to check (at
// Configure), so it is written in flow style, which the kit leaves alone.
func TestConformance(t *testing.T) {
	bin, err := plugintest.Build("exec")
	if err != nil {
		t.Fatal(err)
	}
	defer plugintest.Cleanup()
	file := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(file, []byte(pluginToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	kindtest.Run(t, kindtest.Kind{
		Type:   "plugin",
		Config: "plugins:\n  p: {command: " + bin + ", env: {PATH: /usr/bin:/bin}}",
		Valid:  "plugin: p\nconfig: {command: /bin/cat, args: [" + file + "], format: raw}",
		Stall:  "plugin: p\nconfig: {command: /bin/sleep, args: ['3600'], timeout: 1h}",
		// The plugin's call waits on its process, not on an HTTP request.
		StallElsewhere: true,
		Invalid: []string{
			"plugin: nosuch\nconfig: {command: /bin/cat}",
			"plugin: p\nmax_age: often",
		},
		Secrets: []string{pluginToken},
	})
}
