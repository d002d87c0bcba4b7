package gcp

import (
	"os"
	"strings"
	"testing"
)

// TestREADMEConfigLoads loads the README's Vertex AI example as it stands.
func TestREADMEConfigLoads(t *testing.T) {
	isolateADC(t)
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, sec, ok := strings.Cut(string(b), "## Google Vertex AI (`auth.type: gcp`)\n")
	if !ok {
		t.Fatal("README has no Vertex AI section")
	}
	_, block, _ := strings.Cut(sec, "```yaml\n")
	block, _, _ = strings.Cut(block, "```")
	providers, ok := strings.CutPrefix(block, "providers:\n  vertex:\n")
	if !ok {
		t.Fatalf("the example does not start with a vertex provider:\n%s", block)
	}
	errs, set := loadErrors(t, providers)
	if errs != nil {
		t.Fatalf("README example: %s", strings.Join(errs, "\n"))
	}
	p, err := set.Provider("p")
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := ParseVertexURL(p.BaseURL); !ok || v.Project != "my-project" || v.Location != "us-central1" {
		t.Errorf("README base_url %s is not the Vertex endpoint of my-project in us-central1", p.BaseURL)
	}
}
