package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/byokcred/byokcred/internal/testkit/fakeidentity"
	"github.com/byokcred/byokcred/internal/testkit/fakemodel"
)

// TestLongRunning runs the long-running example for several turns while the
// identity endpoint issues three-second tokens: one session, no failed turn.
func TestLongRunning(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: no Copilot runtime")
	}
	idp, err := fakeidentity.Start(fakeidentity.Options{Lifetime: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer idp.Close()
	idp.Setenv(t)
	model, err := fakemodel.Start(fakemodel.Options{Reply: "all good", Check: idp.Authorize})
	if err != nil {
		t.Fatal(err)
	}
	defer model.Close()
	t.Setenv("AZURE_AI_FOUNDRY_RESOURCE_URL", model.URL)
	t.Setenv("AZURE_CREDENTIAL", "managed_identity")
	// Empty: model: ${FOUNDRY_MODEL:-gpt-4.1} falls back to its default,
	// whatever the developer's shell holds.
	t.Setenv("FOUNDRY_MODEL", "")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out bytes.Buffer
	if err := run(ctx, &out, 4, 1500*time.Millisecond); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if got := strings.Count(out.String(), ": all good ["); got != 4 {
		t.Errorf("%d successful turns, want 4:\n%s", got, out.String())
	}
	for _, r := range model.Requests() {
		if r.Status != 200 {
			t.Errorf("a request was refused (%d)", r.Status)
		}
		if r.Model != "gpt-4.1" {
			t.Errorf("the endpoint received model %q, want gpt-4.1 (the ${FOUNDRY_MODEL:-gpt-4.1} default)", r.Model)
		}
	}
	if n := len(idp.Issued()); n < 3 {
		t.Errorf("only %d tokens minted over the run: tokens did not rotate", n)
	}
}
