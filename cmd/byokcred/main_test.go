package main

import (
	"bytes"
	"context"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/byokcred/byokcred/cli"
)

// TestSchemaCommandPrintsTheCommittedSchema: the stock build's `schema`
// (docs compiled in, no source tree) is the committed
// byokcred.schema.json that `make schema` writes.
func TestSchemaCommandPrintsTheCommittedSchema(t *testing.T) {
	want, err := os.ReadFile("../../byokcred.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	code := cli.Run(context.Background(), []string{"schema"}, cli.Env{Stdout: &stdout, Stderr: &stderr})
	if code != cli.ExitOK {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if diff := cmp.Diff(string(want), stdout.String()); diff != "" {
		t.Errorf("byokcred schema differs from byokcred.schema.json (-committed +printed):\n%s", diff)
	}
}
