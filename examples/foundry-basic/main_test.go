package main

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/byokcred/byokcred/internal/testkit/fakeidentity"
	"github.com/byokcred/byokcred/internal/testkit/fakemodel"
)

// TestFoundryBasic runs the example against a loopback Foundry and a
// loopback managed-identity endpoint, through DefaultAzureCredential.
func TestFoundryBasic(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: no Copilot runtime")
	}
	idp, err := fakeidentity.Start(fakeidentity.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer idp.Close()
	idp.Setenv(t)
	model, err := fakemodel.Start(fakemodel.Options{Reply: "4", Check: idp.Authorize})
	if err != nil {
		t.Fatal(err)
	}
	defer model.Close()
	t.Setenv("AZURE_AI_FOUNDRY_RESOURCE_URL", model.URL)
	// model: ${FOUNDRY_MODEL:-gpt-4.1} expands: the endpoint must receive
	// the variable's value, not that text.
	t.Setenv("FOUNDRY_MODEL", "gpt-4.1-team-deployment")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out bytes.Buffer
	if err := run(ctx, &out, "What is 2+2?"); err != nil {
		t.Fatal(err)
	}
	if out.String() != "4\n" {
		t.Errorf("output %q", out.String())
	}
	reqs := model.Requests()
	if len(reqs) == 0 || reqs[0].Path != "/openai/v1/responses" || reqs[0].Status != 200 {
		t.Errorf("requests = %+v", reqs)
	}
	for _, r := range reqs {
		if r.Model != "gpt-4.1-team-deployment" {
			t.Errorf("the endpoint received model %q, want FOUNDRY_MODEL's gpt-4.1-team-deployment", r.Model)
		}
	}
}
