package layering

import (
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// keyCommandOwn is all of this module that cmd/byokcred-credential, the
// key command the Copilot CLI runs before every model request, may link:
// the agent's client and what it needs. No external module at all: every
// package linked is a package initialised at each start.
var keyCommandOwn = []string{"credential", "secretfile", "internal/agent"}

// keyCommandHeavyStd are standard-library packages the key command has no
// use for and that cost start-up (tables built at init, or large trees of
// their own): it speaks JSON on a unix socket, nothing else.
var keyCommandHeavyStd = []string{"net/http", "crypto/tls", "crypto/x509", "text/template", "html/template", "encoding/gob", "net/rpc", "os/exec", "os/user"}

// TestKeyCommandLinksOnlyTheAgentClient: the small key-command binary links
// no credential kind, registry, config loader, SDK or library, and none of
// the heavy standard packages; whatever it cannot answer it hands to
// byokcred by exec, so nothing else has a reason to be in it.
func TestKeyCommandLinksOnlyTheAgentClient(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	const pkg = "cmd/byokcred-credential"
	ds := deps(t, module+pkg)
	bad := notAllowed(pkg, ds, keyCommandOwn, nil)
	for _, d := range goList(t, "-deps", module+pkg) {
		if slices.Contains(keyCommandHeavyStd, d) {
			bad = append(bad, d)
		}
	}
	if diff := cmp.Diff([]string(nil), bad); diff != "" {
		t.Errorf("%s links more than the agent's client (-want +got):\n%s", pkg, diff)
	}
}
