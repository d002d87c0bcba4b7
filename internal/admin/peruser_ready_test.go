package admin_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/byokcred/byokcred/credential"
	"github.com/byokcred/byokcred/internal/admin"
	"github.com/byokcred/byokcred/internal/testkit/fakeentra"
	"github.com/byokcred/byokcred/registry"
)

// canaryAppSecret is an application secret the fake authority refuses: it
// must not appear in the readiness report.
const canaryAppSecret = "CANARY-app-secret-91f0e2d3"

// TestPerUserReadinessChecksTheServiceCredential: a per-user provider is
// ready when the service's own credential works, and not when it does not.
// An on-behalf-of provider's application secret is tried at the (fake)
// Entra authority with no user: accepted, ready; refused, not ready, with
// the authority's reason and never the secret. A code-built per-user
// provider is ready per its ProviderSpec.Check, and one with no check
// counts as ready once built, saying that nothing was checked.
func TestPerUserReadinessChecksTheServiceCredential(t *testing.T) {
	t.Parallel()
	perUser := func(user credential.TokenSource) credential.TokenSource { return user }
	tests := []struct {
		name string
		// secret is the OBO provider's APP_SECRET; check the code-built
		// provider's ProviderSpec.Check (a code-built provider when
		// code is set).
		secret string
		code   bool
		check  func(context.Context) error
		want   admin.ProviderStatus
	}{
		{name: "on-behalf-of, app secret accepted", secret: "proxy-app-secret",
			want: admin.ProviderStatus{Name: "users", Ready: true, Reason: "acts on behalf of each user: the service's credential is accepted by its issuer"}},
		{name: "on-behalf-of, app secret refused", secret: canaryAppSecret,
			want: admin.ProviderStatus{Name: "users", Reason: "the service's credential does not work: entra on_behalf_of: tenant contoso did not accept the application credential of client proxy-app"}},
		{name: "code-built, check accepts", code: true, check: func(context.Context) error { return nil },
			want: admin.ProviderStatus{Name: "users", Ready: true, Reason: "acts on behalf of each user: the service's credential is accepted by its issuer"}},
		{name: "code-built, check refuses", code: true, check: func(context.Context) error { return errors.New("exchange client refused: invalid_client") },
			want: admin.ProviderStatus{Name: "users", Reason: "the service's credential does not work: exchange client refused: invalid_client"}},
		{name: "code-built, no check", code: true,
			want: admin.ProviderStatus{Name: "users", Ready: true, Reason: "acts on behalf of each user: no token of its own, and its kind has no check of the service's credential; each new user's first request uses it"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var providers registry.Providers
			if tc.code {
				p, err := registry.NewProvider(registry.ProviderSpec{Name: "users", Type: "openai", BaseURL: "https://users.example/v1", Model: "m", PerUser: perUser, Check: tc.check},
					registry.Options{PerUser: true, Logger: slog.New(slog.DiscardHandler)})
				if err != nil {
					t.Fatal(err)
				}
				defer p.Close()
				set, err := registry.NewSet(registry.SetSpec{Providers: []*registry.Provider{p}})
				if err != nil {
					t.Fatal(err)
				}
				defer set.Close()
				providers = set
			} else {
				fe := fakeentra.Start(fakeentra.Options{TenantID: "contoso", ClientID: "proxy-app", ClientSecret: "proxy-app-secret"})
				defer fe.Close()
				providers = load(t, `providers:
  users: {type: openai, base_url: https://users.example/v1, model: m, auth: {type: entra, credential: on_behalf_of, tenant_id: contoso, client_id: proxy-app, client_secret_env: APP_SECRET, scope: "https://obo-ready.example/.default"}}
`, registry.Options{Logger: slog.New(slog.DiscardHandler), PerUser: true, HTTPClient: fe.Client(),
					LookupEnv: func(k string) (string, bool) { return tc.secret, k == "APP_SECRET" }})
			}
			got := (&admin.Readiness{Providers: providers}).Check(context.Background())
			if strings.Contains(strings.Join(reasons(got), "\n"), canaryAppSecret) {
				t.Errorf("the report shows the application secret: %v", got)
			}
			// A refusal's reason goes on with the authority's answer:
			// compare the part this package and the kind write.
			for i, st := range got.Providers {
				if !st.Ready && strings.HasPrefix(st.Reason, tc.want.Reason) {
					got.Providers[i].Reason = tc.want.Reason
				}
			}
			want := admin.Report{Ready: tc.want.Ready, Providers: []admin.ProviderStatus{tc.want}}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("report (-want +got):\n%s", diff)
			}
		})
	}
}

func reasons(r admin.Report) []string {
	var out []string
	for _, st := range r.Providers {
		out = append(out, st.Reason)
	}
	return out
}
