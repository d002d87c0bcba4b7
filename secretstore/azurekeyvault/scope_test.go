package azurekeyvault

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestVaultScope: doctor asks for the token of the vault's own cloud.
func TestVaultScope(t *testing.T) {
	tests := []struct{ name, vault, want string }{
		{"public cloud", "https://v.vault.azure.net", "https://vault.azure.net/.default"},
		{"china", "https://v.vault.azure.cn", "https://vault.azure.cn/.default"},
		{"us government", "https://v.vault.usgovcloudapi.net", "https://vault.usgovcloudapi.net/.default"},
		{"with a port", "https://v.vault.azure.net:443", "https://vault.azure.net/.default"},
		{"not a vault host", "https://127.0.0.1:8443", "https://vault.azure.net/.default"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, vaultScope(tc.vault)); diff != "" {
				t.Errorf("vaultScope(%q) (-want +got):\n%s", tc.vault, diff)
			}
		})
	}
}
