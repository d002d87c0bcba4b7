package session

import (
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSentCredential(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		header http.Header
		want   string
	}{
		{"bearer", http.Header{"Authorization": {"Bearer tok"}}, "tok"},
		{"azure api key", http.Header{"Api-Key": {"k1"}}, "k1"},
		{"anthropic api key", http.Header{"X-Api-Key": {"k2"}}, "k2"},
		{"basic auth is not ours", http.Header{"Authorization": {"Basic dTpw"}}, ""},
		{"none", http.Header{}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, sentCredential(tc.header)); diff != "" {
				t.Error(diff)
			}
		})
	}
}
