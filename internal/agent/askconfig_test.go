package agent

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestConfigPath: -c, else $BYOKCRED_CONFIG, else ./byokcred.yaml — the
// order byokcred and byokcred-credential both resolve the file by.
func TestConfigPath(t *testing.T) {
	t.Parallel()
	env := func(v string) func(string) (string, bool) {
		return func(k string) (string, bool) {
			if k == ConfigEnv && v != "" {
				return v, true
			}
			return "", k == ConfigEnv
		}
	}
	tests := []struct {
		name, flag, env, want string
	}{
		{"the flag wins", "a.yaml", "b.yaml", "a.yaml"},
		{"the variable", "", "b.yaml", "b.yaml"},
		{"an empty variable is unset", "", "", "byokcred.yaml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, ConfigPath(tt.flag, env(tt.env))); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
