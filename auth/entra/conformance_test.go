package entra_test

import (
	"testing"
	"time"

	"github.com/byokcred/byokcred/internal/testkit/fakeidentity"
	"github.com/byokcred/byokcred/kindtest"
)

// identityHeader is the managed identity endpoint's secret header: a
// canary the kind's SDK handles.
const identityHeader = "CANARY-entra-identity-header-9b04c7"

// TestConformance runs the kind kit on a managed identity against the fake
// identity endpoint. azidentity keeps managed-identity tokens for the
// process, so the fetch the kit cancels asks for another scope.
func TestConformance(t *testing.T) {
	startIdentity(t, fakeidentity.Options{Lifetime: time.Hour, Header: identityHeader})
	kindtest.Run(t, kindtest.Kind{
		Type:  "entra",
		Valid: "credential: managed_identity\nscope: " + uniqueScope(),
		Stall: "credential: managed_identity\nscope: " + uniqueScope(),
		Invalid: []string{
			"credential: client_secret\ntenant_id: t",
			"credential: managed_identity\nscope: " + uniqueScope() + "\nclient_secret: " + identityHeader,
		},
		Secrets: []string{identityHeader},
	})
}
