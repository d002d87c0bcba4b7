// Package layering holds the tests that keep byokcred's imports running the
// right way: core packages (the contract, the config, the registry, the
// session factory, the proxy, the command line …) link only what their
// allowlist names, so no cloud SDK, credential kind or plugin host; a
// credential kind's SDK belongs to its own package under auth/ or
// secretstore/, and only package builtin gathers them; plugin binaries link
// neither; the shipped binary links no test fake.
package layering

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const module = "github.com/byokcred/byokcred/"

var (
	cloudSDKs = []string{
		"github.com/Azure/azure-sdk-for-go/",
		"github.com/aws/aws-sdk-go-v2",
		"cloud.google.com/go/",
		"golang.org/x/oauth2/google",
	}
	copilotSDK = []string{"github.com/github/copilot-sdk/go"}
	pluginHost = []string{module + "plugins/host"}
	goPlugin   = []string{"github.com/hashicorp/go-plugin"}
	authKinds  = []string{module + "auth/"}
	awsSDK     = []string{"github.com/aws/aws-sdk-go-v2"}
	azureSDK   = []string{"github.com/Azure/azure-sdk-for-go/"}
	googleSDK  = []string{"cloud.google.com/go/", "golang.org/x/oauth2/google"}
)

func concat(lists ...[]string) []string {
	var out []string
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

// denyRule says what pkg, a package outside the core, may not link.
type denyRule struct {
	pkg       string
	forbidden []string
}

// deniedRules has a row for every credential kind and secret store (a
// directory under auth/ or secretstore/; TestEveryKindIsBuiltinAndLayered
// fails otherwise), the plugin binaries and the built-ins.
func deniedRules() []denyRule {
	pluginBinary := concat(cloudSDKs, copilotSDK, pluginHost, authKinds, []string{module + "registry", module + "kind", module + "config"})
	return []denyRule{
		{"plugins/sdk", pluginBinary},
		{"plugins/exec/cmd/byokcred-plugin-exec", pluginBinary},
		{"plugins/file/cmd/byokcred-plugin-file", pluginBinary},
		{"plugins/oauth2/cmd/byokcred-plugin-oauth2", pluginBinary},
		{"auth/static", concat(cloudSDKs, copilotSDK, pluginHost, goPlugin)},
		{"auth/plugin", concat(cloudSDKs, copilotSDK)},
		{"auth/entra", concat(copilotSDK, pluginHost, goPlugin, googleSDK, awsSDK)},
		// Only auth/gcp links Google's SDK, only auth/aws the AWS SDK.
		{"auth/gcp", concat(copilotSDK, pluginHost, goPlugin, azureSDK, awsSDK)},
		{"auth/aws", concat(copilotSDK, pluginHost, goPlugin, azureSDK, googleSDK)},
		// A secret store links its own cloud's SDK and auth module only.
		{"secretstore/azurekeyvault", concat(copilotSDK, pluginHost, goPlugin, awsSDK, googleSDK,
			[]string{module + "auth/aws", module + "auth/gcp", module + "auth/plugin", module + "internal/testkit/"})},
		{"secretstore/googlesecretmanager", concat(copilotSDK, pluginHost, goPlugin, azureSDK, awsSDK,
			[]string{module + "auth/aws", module + "auth/entra", module + "auth/plugin", module + "internal/testkit/"})},
		{"secretstore/awssecretsmanager", concat(copilotSDK, pluginHost, goPlugin, azureSDK, googleSDK,
			[]string{module + "auth/entra", module + "auth/gcp", module + "auth/plugin", module + "internal/testkit/"})},
		// The built-ins are the kinds and stores only.
		{"builtin", concat(copilotSDK, []string{module + "internal/testkit/", module + "session", module + "proxy", module + "cli", module + "internal/cli"})},
		// The shipped binary carries no test fakes (the demo is its own
		// program).
		{"cmd/byokcred", []string{module + "internal/testkit/"}},
	}
}

func TestImportsRunTheRightWay(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	for _, tc := range deniedRules() {
		t.Run(tc.pkg, func(t *testing.T) {
			out, err := exec.Command("go", "list", "-deps", module+tc.pkg).Output()
			if err != nil {
				t.Fatalf("go list: %v", err)
			}
			var bad []string
			for _, dep := range strings.Fields(string(out)) {
				for _, f := range tc.forbidden {
					if strings.HasPrefix(dep, f) {
						bad = append(bad, dep)
						break
					}
				}
			}
			if diff := cmp.Diff([]string(nil), bad); diff != "" {
				t.Errorf("%s links what it must not (-want +got):\n%s", tc.pkg, diff)
			}
		})
	}
}
