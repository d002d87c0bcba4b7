package kind_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/byokcred/byokcred/kind"
)

func TestWalkChain(t *testing.T) {
	ok := func(context.Context) error { return nil }
	fail := func(msg string) func(context.Context) error {
		return func(context.Context) error { return errors.New(msg) }
	}
	tests := []struct {
		name  string
		tries []kind.ChainTry
		want  []kind.ChainLink
	}{
		{"first that answers is the one used", []kind.ChainTry{
			{Name: "env", Try: fail("no AZURE_CLIENT_ID\n\nTroubleshooting: see https://aka.ms/x")},
			{Name: "workload identity", Skip: "no token file"},
			{Name: "managed identity", Try: ok},
			{Name: "cli", Try: ok},
		}, []kind.ChainLink{
			{Name: "env", Err: "no AZURE_CLIENT_ID"},
			{Name: "workload identity", Err: "no token file"},
			{Name: "managed identity", Answered: true},
			{Name: "cli"},
		}},
		{"none answers", []kind.ChainTry{{Name: "a", Try: fail("  denied  ")}}, []kind.ChainLink{{Name: "a", Err: "denied"}}},
		{"empty chain", nil, []kind.ChainLink{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, kind.WalkChain(context.Background(), tc.tries)); diff != "" {
				t.Errorf("WalkChain (-want +got):\n%s", diff)
			}
		})
	}
}
