package bench

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestSimulateStalls checks the refresh-stall driver on requests whose
// stalls are known: every 1000th call fetches for 500 ms of simulated time
// (the uncounted warm-up is call 1, so requests 998, 1998, …, 11998 of the
// 12,000), either on its own (the others go on) or holding a lock the
// others need (each fetch then also holds up the 9 requests that arrive
// during it, except the last, which has only one request after it).
func TestSimulateStalls(t *testing.T) {
	type counts struct {
		Requests, Stalls, Errors int64
		MaxStall                 time.Duration
	}
	tests := []struct {
		name string
		get  func(clk *simClock) func() error
		want counts
	}{
		{
			name: "no-op",
			get:  func(*simClock) func() error { return func() error { return nil } },
			want: counts{Requests: 12000},
		},
		{
			name: "a fetch that holds up only its caller",
			get: func(clk *simClock) func() error {
				var n atomic.Int64
				return func() error {
					if n.Add(1)%1000 == 0 {
						_, err := clk.Sleep(context.Background(), 500*time.Millisecond)
						return err
					}
					return nil
				}
			},
			want: counts{Requests: 12000, Stalls: 12, MaxStall: 500 * time.Millisecond},
		},
		{
			name: "a fetch under a lock every request takes",
			get: func(clk *simClock) func() error {
				var n atomic.Int64
				var mu sync.Mutex
				return func() error {
					mu.Lock()
					defer mu.Unlock()
					if n.Add(1)%1000 == 0 {
						_, err := clk.Sleep(context.Background(), 500*time.Millisecond)
						return err
					}
					return nil
				}
			},
			want: counts{Requests: 12000, Stalls: 11*10 + 2, MaxStall: 500 * time.Millisecond},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newSimClock()
			res, err := simulateStalls(clk, tt.get(clk), 50*time.Millisecond, 10*time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			got := counts{res.Requests, res.Stalls, res.Errors, res.MaxStall}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("simulateStalls mismatch (-want +got):\n%s", diff)
			}
			if res.Waited < res.Stalls {
				t.Errorf("%d requests waited over 1 ms, fewer than the %d that stalled", res.Waited, res.Stalls)
			}
		})
	}
}

// TestAzcoreRefreshModel checks the model's rules on a manual clock: one
// caller refreshes inside the window while others get the current token,
// and no second refresh starts within 30 s of an attempt.
func TestAzcoreRefreshModel(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	set := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	fetches := 0
	release := make(chan struct{})
	m := newAzcoreRefreshModel(clock, func() (string, time.Time, error) {
		fetches++
		if fetches > 1 {
			<-release // the refresh is slow
		}
		return "t" + string(rune('0'+fetches)), clock().Add(time.Hour), nil
	})
	if tok, _ := m.Get(); tok != "t1" {
		t.Fatalf("first Get = %q, want t1", tok)
	}
	set(56 * time.Minute) // inside the 5-minute window
	done := make(chan string)
	go func() { tok, _ := m.Get(); done <- tok }() // refreshes, blocked
	for {
		m.cond.L.Lock()
		acquiring := m.acquiring
		m.cond.L.Unlock()
		if acquiring {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if tok, _ := m.Get(); tok != "t1" {
		t.Errorf("Get during the refresh = %q, want the current t1", tok)
	}
	close(release)
	if tok := <-done; tok != "t2" {
		t.Errorf("refreshing caller got %q, want t2", tok)
	}
	if fetches != 2 {
		t.Errorf("%d fetches, want 2", fetches)
	}
}
