package bench

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/byokcred/byokcred/internal/testkit/fakeidentity"
)

// Figure 7's process: providers, sessions, plugin entries.
const (
	footprintProviders = 100
	footprintSessions  = 20
	footprintEntries   = 2
)

// footprintReport mirrors bench/internal/footprint's Report.
type footprintReport struct {
	Providers          int           `json:"providers"`
	PluginEntries      int           `json:"plugin_entries"`
	Sessions           int           `json:"sessions"`
	RSSKiB             int64         `json:"rss_kib"`
	HWMKiB             int64         `json:"hwm_kib"`
	HeapInuse          uint64        `json:"heap_inuse"`
	ChildrenAfterFirst int           `json:"children_after_first"`
	Children           int           `json:"children"`
	ChildrenRSSKiB     int64         `json:"children_rss_kib"`
	FirstSession       time.Duration `json:"first_session_ns"`
	AllSessions        time.Duration `json:"all_sessions_ns"`
}

// BenchmarkFootprint is figure 7: the resident memory of a byokcred host
// process (bench/internal/footprint) with 100 providers — 40 static keys,
// 40 Entra ID over four managed identities (loopback fake identity
// endpoint), 20 plugin providers (auth.type: plugin) over two plugin entries — after building
// 20 multi-provider session configs and one token request per provider and
// session; and how many plugin processes it runs (after the first session
// and at the end). floor-rss-MiB is the same binary started without loading
// anything, in the same iteration.
func BenchmarkFootprint(b *testing.B) {
	idp, err := fakeidentity.Start(fakeidentity.Options{Lifetime: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	defer idp.Close()
	helper, plugin := binary(b, "footprint"), binary(b, "tokenprog")
	env := os.Environ()
	for k, v := range idp.Env() {
		env = append(env, k+"="+v)
	}
	run := func(args ...string) footprintReport {
		cmd := exec.Command(helper, args...)
		cmd.Env = env
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			b.Fatalf("footprint %v: %v\n%s", args, err, stderr.Bytes())
		}
		var r footprintReport
		if err := json.Unmarshal(out, &r); err != nil {
			b.Fatalf("footprint output %q: %v", out, err)
		}
		return r
	}
	var rss, floor, hwm, procs, procsFirst, pluginRSS, heap, first float64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		f := run("-floor")
		r := run("-plugin", plugin, "-providers", fmt.Sprint(footprintProviders), "-sessions", fmt.Sprint(footprintSessions))
		if r.Children != footprintEntries || r.ChildrenAfterFirst != footprintEntries {
			b.Errorf("plugin processes: %d after the first session, %d after %d sessions; want %d (one per plugin entry)",
				r.ChildrenAfterFirst, r.Children, r.Sessions, footprintEntries)
		}
		rss += float64(r.RSSKiB)
		floor += float64(f.RSSKiB)
		hwm += float64(r.HWMKiB)
		procs += float64(r.Children)
		procsFirst += float64(r.ChildrenAfterFirst)
		pluginRSS += float64(r.ChildrenRSSKiB)
		heap += float64(r.HeapInuse)
		first += float64(r.FirstSession.Nanoseconds())
	}
	n := float64(b.N)
	const mib = 1024
	b.ReportMetric(rss/n/mib, "rss-MiB")
	b.ReportMetric(floor/n/mib, "floor-rss-MiB")
	b.ReportMetric(hwm/n/mib, "peak-rss-MiB")
	b.ReportMetric(heap/n/(1<<20), "heap-MiB")
	b.ReportMetric(procs/n, "plugin-procs")
	b.ReportMetric(procsFirst/n, "plugin-procs-first-session")
	b.ReportMetric(pluginRSS/n/mib, "plugin-rss-MiB")
	b.ReportMetric(first/n, "first-session-ns")
	b.ReportMetric(footprintProviders, "providers")
	b.ReportMetric(footprintSessions, "sessions")
	b.ReportMetric(footprintEntries, "plugin-entries")
}
