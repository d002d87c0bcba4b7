package session_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/byokcred/byokcred/credential"
	"github.com/byokcred/byokcred/internal/testkit/fakemodel"
	"github.com/byokcred/byokcred/registry"
	"github.com/byokcred/byokcred/session"
)

// TestReloadReachesLiveSessions: a rotated key and a changed Entra scope
// take effect for the next request of sessions created before the reload.
func TestReloadReachesLiveSessions(t *testing.T) {
	needRuntime(t)
	f := newEntraFixture(t, time.Hour)
	gateway, err := fakemodel.Start(fakemodel.Options{Reply: "gw"})
	if err != nil {
		t.Fatal(err)
	}
	defer gateway.Close()
	write := func(key, scope string) string {
		return fmt.Sprintf(`providers:
  gateway: {type: openai, base_url: %s, model: m, auth: {type: static, api_key: %s}}
  foundry: {type: azure, base_url: %s, model: m, auth: {type: entra, credential: managed_identity, scope: "%s"}}
`, gateway.URL, key, f.model.URL, scope)
	}
	path := writeConfig(t, write("key-1", f.scope))
	live, err := registry.NewLive(path, registry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	factory := session.NewFactory(live, session.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	open := func(name string) func() {
		cfg, err := factory.SessionConfig(ctx, name, session.ToolFree())
		if err != nil {
			t.Fatal(err)
		}
		s, err := rt.Client.CreateSession(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Disconnect() })
		return func() {
			if _, err := session.Reply(ctx, s, "hi"); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
		}
	}
	gw, foundry := open("gateway"), open("foundry")
	gw()
	foundry()
	newScope := "https://reloaded.cognitiveservices.example/.default"
	os.WriteFile(path, []byte(write("key-2", newScope)), 0o600)
	if err := live.Reload(); err != nil {
		t.Fatal(err)
	}
	gw()
	foundry()

	var keys []string
	for _, r := range gateway.Requests() {
		_, v := r.Credential()
		keys = append(keys, v)
	}
	if diff := cmp.Diff([]string{"key-1", "key-2"}, keys); diff != "" {
		t.Errorf("gateway keys per request (-want +got):\n%s", diff)
	}
	var audiences []string
	for _, r := range f.model.Requests() {
		_, v := r.Credential()
		c, _ := credential.ParseClaims(credential.NewSecret(v))
		audiences = append(audiences, c.Audience)
	}
	want := []string{f.scope[:len(f.scope)-len("/.default")], "https://reloaded.cognitiveservices.example"}
	if diff := cmp.Diff(want, audiences); diff != "" {
		t.Errorf("foundry token audiences per request (-want +got):\n%s", diff)
	}
}
