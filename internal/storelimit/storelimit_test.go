package storelimit_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/byokcred/byokcred/internal/storelimit"
)

// TestClient: an answer up to MaxAnswer bytes is read whole; a longer one
// fails at once when its Content-Length says so, else once MaxAnswer bytes
// have been read, and never more is read.
func TestClient(t *testing.T) {
	tests := []struct {
		name      string
		size      int
		chunked   bool
		wantErr   string
		wantBytes int
	}{
		{name: "at the limit", size: storelimit.MaxAnswer, wantBytes: storelimit.MaxAnswer},
		{name: "at the limit, chunked", size: storelimit.MaxAnswer, chunked: true, wantBytes: storelimit.MaxAnswer},
		{name: "over, with Content-Length", size: storelimit.MaxAnswer + 1, wantErr: "the store answered with 1048577 bytes; a secret is at most 65536 bytes"},
		{name: "over, chunked", size: 4 * storelimit.MaxAnswer, chunked: true, wantErr: "the store's answer is more than 1048576 bytes", wantBytes: storelimit.MaxAnswer},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if !tc.chunked {
					w.Header().Set("Content-Length", strconv.Itoa(tc.size))
				}
				io.Copy(w, strings.NewReader(strings.Repeat("x", tc.size)))
			}))
			defer srv.Close()
			req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
			var read int
			resp, err := storelimit.Client(srv.Client()).Do(req)
			if err == nil {
				var b []byte
				b, err = io.ReadAll(resp.Body)
				read = len(b)
				resp.Body.Close()
			}
			gotErr := ""
			if err != nil {
				gotErr = err.Error()
				var tl *storelimit.TooLargeError
				if !errors.As(err, &tl) {
					t.Errorf("error %T is not a *TooLargeError", err)
				}
			}
			if tc.wantErr == "" && gotErr != "" || tc.wantErr != "" && !strings.Contains(gotErr, tc.wantErr) {
				t.Errorf("err = %q, want %q", gotErr, tc.wantErr)
			}
			if diff := cmp.Diff(tc.wantBytes, read); diff != "" {
				t.Errorf("bytes read (-want +got):\n%s", diff)
			}
		})
	}
}
