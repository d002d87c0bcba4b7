package proxy_test

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/byokcred/byokcred/internal/testkit/syncbuf"
	"github.com/byokcred/byokcred/proxy"
)

// auditLine is what an auditor reads of one "proxied" JSON log line.
type auditLine struct {
	Msg      string `json:"msg"`
	Provider string `json:"provider"`
	Status   int    `json:"status"`
	User     struct {
		OID string `json:"oid"`
		TID string `json:"tid"`
	} `json:"user"`
	Bytes    int64 `json:"bytes"`
	Duration int64 `json:"duration"`
}

// TestAuditLineNamesTheUser: in a two-user run of a per-user provider, the
// JSON log line of each request names its user's oid and tenant, the
// provider, status and bytes; a refused token's line names no user; no
// user token, no minted token and no client token ever appears in the log.
func TestAuditLineNamesTheUser(t *testing.T) {
	t.Parallel()
	logs := &syncbuf.Buffer{}
	o := startOBOProxy(t, proxy.Options{Logger: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))})
	alice, bob := o.fe.UserToken("alice", time.Hour), o.fe.UserToken("bob", time.Hour)
	order := []string{"alice", "bob", "bob", "alice", "junk"}
	tokens := map[string]string{"alice": alice, "bob": bob, "junk": forgedToken("mallory")}
	for _, who := range order {
		do(t, "POST", o.url+"/foundry/chat/completions", chatBody, map[string]string{"Authorization": "Bearer " + tokens[who]})
	}

	type line struct {
		Provider, OID, TID string
		Status             int
		Bytes, Timed       bool
	}
	var got []line
	for _, raw := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var l auditLine
		if err := json.Unmarshal([]byte(raw), &l); err != nil {
			t.Fatalf("log line %q is not JSON: %v", raw, err)
		}
		if l.Msg == "proxied" {
			got = append(got, line{l.Provider, l.User.OID, l.User.TID, l.Status, l.Bytes > 0, l.Duration > 0})
		}
	}
	ok := func(oid string) line {
		return line{Provider: "foundry", OID: oid, TID: "contoso", Status: http.StatusOK, Bytes: true, Timed: true}
	}
	want := []line{ok("alice"), ok("bob"), ok("bob"), ok("alice"),
		{Provider: "foundry", Status: http.StatusUnauthorized, Bytes: true, Timed: true}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("audit lines (-want +got):\n%s\nlog:\n%s", diff, logs)
	}
	all := logs.String()
	for who, tok := range tokens {
		if strings.Contains(all, tok) {
			t.Errorf("%s's token appears in the log", who)
		}
	}
	for _, r := range o.model.Requests() {
		if b := bearerOf(r); b != "" && strings.Contains(all, b) {
			t.Error("a token minted on a user's behalf appears in the log")
		}
	}
}
