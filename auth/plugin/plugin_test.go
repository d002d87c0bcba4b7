package plugin

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/byokcred/byokcred/internal/configtest"
	"github.com/byokcred/byokcred/registry"

	"github.com/byokcred/byokcred/internal/plugintest"
)

func TestPluginValidation(t *testing.T) {
	path := configtest.Write(t, `plugins:
  good: {command: /bin/true}
  nocmd: {args: [x]}
  badsum: {command: /bin/true, sha256: abc}
providers:
  a: {type: openai, base_url: https://a.example, model: m, auth: {type: plugin, plugin: vault}}
  b: {type: openai, base_url: https://a.example, model: m, auth: {type: plugin}}
`)
	_, err := registry.Load(path, registry.Options{})
	if err == nil {
		t.Fatal("want errors")
	}
	var got []string
	for _, line := range strings.Split(err.Error(), "\n") {
		_, msg, _ := strings.Cut(line, ": ")
		got = append(got, msg)
	}
	want := []string{
		"plugins.nocmd: missing key \"command\": the plugin binary",
		"plugins.badsum.sha256: sha256 must be 64 hex digits (the output of sha256sum)",
		`providers.a.auth.plugin: unknown plugin "vault" (configured under plugins: badsum, good, nocmd)`,
		`providers.b.auth: missing key "plugin": the name of an entry under plugins:`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// TestPluginProcessSurvivesReload: a reload that leaves a plugin entry alone
// keeps its process (and its providers' caches); changing the entry
// replaces the process; closing leaves none.
func TestPluginProcessSurvivesReload(t *testing.T) {
	bin, err := plugintest.Build("exec")
	if err != nil {
		t.Fatal(err)
	}
	defer plugintest.Cleanup()
	cfg := func(timeout string) string {
		return `plugins:
  p: {command: ` + bin + `, env: {PATH: /usr/bin:/bin}, call_timeout: ` + timeout + `}
providers:
  a: {type: openai, base_url: https://a.example, model: m, auth: {type: plugin, plugin: p, config: {command: /bin/echo, args: [tok-a]}}}
  b: {type: openai, base_url: https://a.example, model: m, auth: {type: plugin, plugin: p, config: {command: /bin/echo, args: [tok-b]}}}
`
	}
	path := configtest.Write(t, cfg("5s"))
	live, err := registry.NewLive(path, registry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tokens := func() []string {
		var out []string
		for _, n := range []string{"a", "b"} {
			p, _ := live.Current().Provider(n)
			tok, err := p.Source.Token(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, tok.Value.Reveal())
		}
		return out
	}
	if diff := cmp.Diff([]string{"tok-a", "tok-b"}, tokens()); diff != "" {
		t.Fatal(diff)
	}
	before := plugintest.PIDs(bin)
	if len(before) != 1 {
		t.Fatalf("processes = %v, want one shared by both providers", before)
	}
	os.WriteFile(path, []byte(cfg("5s")+"default_provider: a\n"), 0o600)
	if err := live.Reload(); err != nil {
		t.Fatal(err)
	}
	tokens()
	if after := plugintest.PIDs(bin); !cmp.Equal(before, after) {
		t.Errorf("unchanged plugin entry: processes %v → %v, want the same process", before, after)
	}
	os.WriteFile(path, []byte(cfg("6s")), 0o600)
	if err := live.Reload(); err != nil {
		t.Fatal(err)
	}
	tokens()
	after := plugintest.PIDs(bin)
	if len(after) != 1 || after[0] == before[0] {
		t.Errorf("changed plugin entry: processes %v → %v, want one new process", before, after)
	}
	live.Close()
	if left := plugintest.PIDs(bin); len(left) != 0 {
		t.Errorf("processes left after Close: %v", left)
	}
}
