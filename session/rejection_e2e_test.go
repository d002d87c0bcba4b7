package session_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/byokcred/byokcred/copilotcli"
	"github.com/byokcred/byokcred/kind"
	"github.com/byokcred/byokcred/session"
)

// TestRefreshOnRejection revokes the session's token at the identity
// provider before it expires. With RefreshOnRejection the 401 makes the
// cache drop the token and the runtime's retry carries a new one; without
// it the turn fails, because the cache still holds a token it believes valid.
func TestRefreshOnRejection(t *testing.T) {
	needRuntime(t)
	for _, withHandler := range []bool{true, false} {
		t.Run(fmt.Sprintf("handler=%v", withHandler), func(t *testing.T) {
			f := newEntraFixture(t, time.Hour)
			set := f.load(t, kind.RefreshPerRequest)
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			factory := session.NewFactory(set, session.Options{})
			opts := copilotcli.Options{}
			if withHandler {
				opts.RequestHandler = factory.RequestHandler()
			}
			rtx, err := copilotcli.Start(ctx, opts)
			if err != nil {
				t.Fatal(err)
			}
			defer rtx.Close()
			cfg, err := factory.SessionConfig(ctx, "foundry", session.ToolFree())
			if err != nil {
				t.Fatal(err)
			}
			s, err := rtx.Client.CreateSession(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Disconnect()
			if _, err := session.Reply(ctx, s, "first"); err != nil {
				t.Fatal(err)
			}
			first := f.idp.Issued()[0].Token
			f.idp.Revoke(first) // e.g. the identity was disabled and re-enabled
			_, err = session.Reply(ctx, s, "second")
			if withHandler {
				if err != nil {
					t.Fatalf("turn after revocation failed: %v", err)
				}
				last := f.model.Requests()[len(f.model.Requests())-1]
				if strings.Contains(last.Header.Get("Authorization"), first) || last.Status != 200 {
					t.Errorf("last request status %d, still with the revoked token: %v", last.Status, strings.Contains(last.Header.Get("Authorization"), first))
				}
				if n := len(f.idp.Issued()); n != 2 {
					t.Errorf("tokens minted = %d, want 2 (one refresh for the rejection)", n)
				}
			} else if err == nil {
				t.Fatal("without the handler the turn should fail: the test would not notice a broken handler")
			}
		})
	}
}
