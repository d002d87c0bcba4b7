package closest

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestName(t *testing.T) {
	names := []string{"client_secret_env", "client_id", "static", "entra", "azure_key_vault"}
	tests := []struct {
		name, s, want string
	}{
		{"one edit", "entr", "entra"},
		{"two edits", "statc_", "static"},
		{"transposition counts two", "sttaic", "static"},
		{"three edits is too far", "stxxxc", ""},
		{"a prefix of a longer name", "client_secret", "client_secret_env"},
		{"a short prefix is not enough", "cli", ""},
		{"exact", "client_id", "client_id"},
		{"a prefix of a longer value", "azure_key", "azure_key_vault"},
		{"nothing known", "x", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, Name(tt.s, names)); diff != "" {
				t.Errorf("Name(%q) (-want +got):\n%s", tt.s, diff)
			}
		})
	}
}
