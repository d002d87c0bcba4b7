package entra

import (
	"testing"
)

func TestCheckScope(t *testing.T) {
	tests := []struct {
		scope string
		ok    bool
	}{
		{DefaultScope, true},
		{"api://11111111-2222-3333-4444-555555555555/.default", true},
		{"https://ai.azure.com/.default", true},
		{"https://cognitiveservices.azure.com", false},
		{"https://x/.default; rm -rf /", false},
		{"https://x/.default&resource=evil", false},
		{"", false},
	}
	for _, tc := range tests {
		if err := checkScope(tc.scope); (err == nil) != tc.ok {
			t.Errorf("CheckScope(%q) = %v, want ok=%v", tc.scope, err, tc.ok)
		}
	}
}
