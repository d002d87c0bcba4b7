package bench

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	copilot "github.com/github/copilot-sdk/go"

	"github.com/byokcred/byokcred/internal/testkit/fakeidentity"
	"github.com/byokcred/byokcred/internal/testkit/fakemodel"
	"github.com/byokcred/byokcred/registry"
	"github.com/byokcred/byokcred/session"
)

// BenchmarkEndToEnd is figure 5: chat turns per second through the real
// Copilot CLI runtime (copilotcli.Start) against the loopback fake model
// endpoint, for two providers that differ only in their credential:
//
//   - static: an Azure API key, sent by the runtime from the SDK's static
//     APIKey field (what a hand-written SDK config does; no callback).
//   - entra: Entra ID via managed identity (loopback fake identity
//     endpoint, one-hour tokens), wired through session.Factory.Callback
//     and credential.Cache: the runtime calls the callback before every
//     model request.
//
// One iteration is one turn on each session; the order alternates every
// iteration (ABBA…) so that drift in the runtime or the machine falls on
// both alike. static-turns/s and entra-turns/s are one over each session's
// median turn time (the median, because a turn now and then takes several
// times the usual as the runtime collects garbage); entra/static is their
// ratio.
func BenchmarkEndToEnd(b *testing.B) {
	r := copilotRuntime(b)
	idp, err := fakeidentity.Start(fakeidentity.Options{Lifetime: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	defer idp.Close()
	setEnv(b, idp.Env())
	model, err := fakemodel.Start(fakemodel.Options{Reply: "ok"})
	if err != nil {
		b.Fatal(err)
	}
	defer model.Close()

	const key = "bench-static-key-0123456789"
	set := loadSet(b, fmt.Sprintf(`providers:
  static:
    type: azure
    base_url: %[1]s
    wire_api: responses
    model: gpt-4.1
    auth: {type: static, api_key_env: BENCH_KEY}
  entra:
    type: azure
    base_url: %[1]s
    wire_api: responses
    model: gpt-4.1
    auth: {type: entra, credential: managed_identity, scope: %[2]s}
`, model.URL, benchScope), registry.Options{LookupEnv: envMap(map[string]string{"BENCH_KEY": key})})
	factory := session.NewFactory(set, session.Options{})

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	newSession := func(name string) *copilot.Session {
		cfg, err := factory.SessionConfig(ctx, name, session.ToolFree())
		if err != nil {
			b.Fatal(err)
		}
		s, err := r.Client.CreateSession(ctx, cfg)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Disconnect() })
		return s
	}
	static, entra := newSession("static"), newSession("entra")
	if pc, err := factory.SessionConfig(ctx, "entra", nil); err != nil || pc.Provider.BearerTokenProvider == nil {
		b.Fatalf("the entra session is not wired through the callback (%v)", err)
	}
	turn := func(s *copilot.Session) time.Duration {
		start := time.Now()
		if _, err := session.Reply(ctx, s, "hi"); err != nil {
			b.Fatal(err)
		}
		return time.Since(start)
	}
	// One turn each before measuring: the runtime's first turn on a
	// session does one-time work.
	turn(static)
	turn(entra)
	model.Reset()

	inStatic := make([]time.Duration, 0, b.N)
	inEntra := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i%2 == 0 {
			inStatic = append(inStatic, turn(static))
			inEntra = append(inEntra, turn(entra))
		} else {
			inEntra = append(inEntra, turn(entra))
			inStatic = append(inStatic, turn(static))
		}
	}
	b.StopTimer()
	for _, req := range model.Requests() {
		if req.Status != http.StatusOK {
			b.Fatalf("the model endpoint answered %d to %s", req.Status, req.Path)
		}
	}
	staticRate := 1 / medianDuration(inStatic).Seconds()
	entraRate := 1 / medianDuration(inEntra).Seconds()
	b.ReportMetric(staticRate, "static-turns/s")
	b.ReportMetric(entraRate, "entra-turns/s")
	b.ReportMetric(entraRate/staticRate, "entra/static")
	b.ReportMetric(float64(len(model.Requests()))/float64(2*b.N), "requests/turn")
}

func medianDuration(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	switch n := len(s); {
	case n == 0:
		return 0
	case n%2 == 1:
		return s[n/2]
	default:
		return (s[n/2-1] + s[n/2]) / 2
	}
}
