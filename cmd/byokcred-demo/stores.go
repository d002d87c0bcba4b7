package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/byokcred/byokcred/credential"
	"github.com/byokcred/byokcred/internal/testkit/fakemodel"
	"github.com/byokcred/byokcred/internal/testkit/fakestores"
	"github.com/byokcred/byokcred/session"
)

// storeInterval is the demo's refresh_interval: the shortest allowed, so
// that the rotation shows within seconds.
const storeInterval = 10 * time.Second

// legEnv is what fakestores needs of a test, for one demo leg: environment
// changes and clean-ups undone when the leg ends.
type legEnv struct {
	dir      string
	cleanups []func()
}

type legFailure struct{ msg string }

func (l *legEnv) Setenv(k, v string) {
	l.cleanups = append(l.cleanups, setenv(map[string]string{k: v}))
}
func (l *legEnv) Cleanup(f func())  { l.cleanups = append(l.cleanups, f) }
func (l *legEnv) Helper()           {}
func (l *legEnv) Fatal(args ...any) { panic(legFailure{fmt.Sprint(args...)}) }
func (l *legEnv) TempDir() string {
	d, err := os.MkdirTemp(l.dir, "leg-")
	if err != nil {
		l.Fatal(err)
	}
	return d
}

func (l *legEnv) close() {
	for i := len(l.cleanups) - 1; i >= 0; i-- {
		l.cleanups[i]()
	}
}

// storesLeg reads three providers' API keys from Azure Key Vault, AWS
// Secrets Manager and Google Secret Manager (loopback stand-ins reached by
// the real SDKs, each with its cloud's workload identity), then rotates all
// three in their stores while the session stays open: after one
// refresh_interval the session's next requests carry the new keys, with no
// restart and no request refused.
func (d *demo) storesLeg(ctx context.Context) (err error) {
	env := &legEnv{dir: d.dir}
	defer env.close()
	defer func() {
		if f, ok := recover().(legFailure); ok {
			err = fmt.Errorf("demo: %s", f.msg)
		}
	}()
	st := fakestores.Start(env)
	d.http = st.Client()
	defer func() { d.http = nil }()
	type endpoint struct {
		store string
		srv   *fakemodel.Server
		keys  []credential.Secret
	}
	var eps []*endpoint
	var cfg strings.Builder
	cfg.WriteString("providers:\n")
	for _, store := range fakestores.Names {
		ep := &endpoint{store: store}
		ep.srv, err = fakemodel.Start(fakemodel.Options{Reply: "Hello, with a key from " + store + "."})
		if err != nil {
			return err
		}
		defer ep.srv.Close()
		ep.keys = []credential.Secret{credential.NewSecret("demo-" + randomHex(20))}
		st.Put(store, "openai-key", ep.keys[0].Reveal())
		fmt.Fprintf(&cfg, "  %s:\n    type: openai\n    base_url: %s/v1\n    model: gpt-4.1\n    auth:\n      type: static\n      api_key_secret: %s\n",
			store, ep.srv.URL, st.Block(store, "openai-key", fmt.Sprintf("refresh_interval: %s", storeInterval)))
		eps = append(eps, ep)
	}
	cfg.WriteString("models:\n")
	for _, store := range fakestores.Names {
		fmt.Fprintf(&cfg, "  - {id: gpt-4.1, provider: %s}\n", store)
	}
	set, err := d.load(cfg.String())
	if err != nil {
		return err
	}
	defer set.Close()
	factory := session.NewFactory(set, session.Options{})
	mcfg, err := factory.MultiSessionConfig(ctx, eps[0].store+"/gpt-4.1", session.ToolFree())
	if err != nil {
		return err
	}
	d.secrets.Remember(mcfg)
	d.printf("\n[secret stores] API keys kept in three clouds' secret stores, read with each workload's identity\n")
	d.printf("    (azure_key_vault: managed identity; aws_secrets_manager: container credentials; google_secret_manager: metadata server)\n")
	s, err := d.rt.Client.CreateSession(ctx, mcfg)
	if err != nil {
		return err
	}
	defer s.Disconnect()
	round := func(label string, n int) error {
		for i, ep := range eps {
			if i > 0 || label != "before" {
				if err := factory.SwitchModel(ctx, s, ep.store+"/gpt-4.1"); err != nil {
					return err
				}
			}
			if _, err := session.Reply(ctx, s, "Say hello."); err != nil {
				return fmt.Errorf("demo: turn on %s: %w", ep.store, err)
			}
			reqs := ep.srv.Requests()
			if len(reqs) == 0 {
				return fmt.Errorf("demo: %s received no request", ep.store)
			}
			h, v := reqs[len(reqs)-1].Credential()
			if v != ep.keys[n].Reveal() {
				return fmt.Errorf("demo: %s %s: the request carried %s, want key %d", label, ep.store, credential.NewSecret(v).Mask(), n+1)
			}
			d.printf("    %-7s %-22s → %s: %s  (key %d)\n", label, ep.store, h, credential.NewSecret(v).Mask(), n+1)
		}
		return nil
	}
	if err := round("before", 0); err != nil {
		return err
	}
	for _, ep := range eps {
		ep.keys = append(ep.keys, credential.NewSecret("demo-"+randomHex(20)))
		st.Put(ep.store, "openai-key", ep.keys[1].Reveal())
	}
	d.printf("    rotated the key in all three stores; the session stays open (refresh_interval %s)\n", storeInterval)
	// Wait until each provider's cache holds the new key: re-read on its
	// own timer within one refresh_interval (in the test, at once: its
	// clock is moved past it).
	if d.pace.clock != nil {
		d.pace.clock.Skip(storeInterval + time.Second)
	}
	deadline := time.Now().Add(3 * storeInterval)
	for _, ep := range eps {
		p, err := set.Provider(ep.store)
		if err != nil {
			return err
		}
		for {
			tok, err := p.Token(ctx)
			if err == nil && tok.Value.Equal(ep.keys[1]) {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("demo: %s was not re-read within %s", ep.store, 3*storeInterval)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	if err := round("after", 1); err != nil {
		return err
	}
	d.printf("    the open session picked up each rotated key at its next request\n")
	return nil
}
