package main

import (
	"bytes"
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/byokcred/byokcred/internal/testkit/fakeidentity"
	"github.com/byokcred/byokcred/internal/testkit/fakemodel"
)

func TestMixedProviders(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: no Copilot runtime")
	}
	idp, err := fakeidentity.Start(fakeidentity.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer idp.Close()
	idp.Setenv(t)
	foundry, err := fakemodel.Start(fakemodel.Options{Reply: "1. inventory 2. rotate 3. revoke", Check: idp.Authorize})
	if err != nil {
		t.Fatal(err)
	}
	defer foundry.Close()
	anthropic, err := fakemodel.Start(fakemodel.Options{Reply: "risk: downtime", Check: func(r *fakemodel.Request) int {
		if r.Header.Get("x-api-key") != "ant-test-key" {
			return http.StatusUnauthorized
		}
		return 0
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer anthropic.Close()
	t.Setenv("AZURE_AI_FOUNDRY_RESOURCE_URL", foundry.URL)
	t.Setenv("ANTHROPIC_BASE_URL", anthropic.URL)
	t.Setenv("ANTHROPIC_API_KEY", "ant-test-key")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out bytes.Buffer
	if err := run(ctx, &out); err != nil {
		t.Fatal(err)
	}
	want := "[foundry/gpt-4.1] 1. inventory 2. rotate 3. revoke\n[anthropic/claude-sonnet-4] risk: downtime\n"
	if out.String() != want {
		t.Errorf("output:\n%s\nwant:\n%s", out.String(), want)
	}
}
