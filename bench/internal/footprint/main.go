// Command footprint is the process measured by the footprint benchmark
// (figure 7): a byokcred host with a config of many providers — static
// keys, Entra ID (managed identity against the fake identity endpoint named
// by IDENTITY_ENDPOINT and IDENTITY_HEADER) and plugins — that builds
// session configs, asks every provider for a token in every session, and
// prints its own resident memory and its plugin processes as JSON.
//
// Plugin providers use `auth.type: plugin` over two entries under
// `plugins:`, alpha and beta, both running the plugin binary given by
// -plugin.
//
// With -floor it prints the same figures without loading anything: the
// resident memory of the binary itself.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	copilot "github.com/github/copilot-sdk/go"

	"github.com/byokcred/byokcred/config"
	"github.com/byokcred/byokcred/registry"
	"github.com/byokcred/byokcred/session"

	// The credential kinds its configs use.
	_ "github.com/byokcred/byokcred/auth/entra"
	_ "github.com/byokcred/byokcred/auth/plugin"
	_ "github.com/byokcred/byokcred/auth/static"
)

// Report is what the command prints.
type Report struct {
	Providers     int `json:"providers"`
	PluginEntries int `json:"plugin_entries"`
	Sessions      int `json:"sessions"`
	// RSSKiB is this process's resident set (VmRSS) at the end; HWMKiB its
	// peak (VmHWM).
	RSSKiB int64 `json:"rss_kib"`
	HWMKiB int64 `json:"hwm_kib"`
	// HeapInuse is the Go heap in use after a GC.
	HeapInuse uint64 `json:"heap_inuse"`
	// Children are this process's child processes (the plugin processes)
	// after the first session and at the end, and their total RSS.
	ChildrenAfterFirst int   `json:"children_after_first"`
	Children           int   `json:"children"`
	ChildrenRSSKiB     int64 `json:"children_rss_kib"`
	// FirstSession and AllSessions are how long the first session config
	// and all of them took to build (loading included).
	FirstSession time.Duration `json:"first_session_ns"`
	AllSessions  time.Duration `json:"all_sessions_ns"`
}

var pluginPath string

func main() {
	providers := flag.Int("providers", 100, "number of providers")
	sessions := flag.Int("sessions", 20, "number of sessions to build")
	floor := flag.Bool("floor", false, "measure the bare process only")
	flag.StringVar(&pluginPath, "plugin", "", "plugin binary")
	flag.Parse()
	var rep Report
	if !*floor {
		if err := run(&rep, *providers, *sessions); err != nil {
			fmt.Fprintln(os.Stderr, "footprint:", err)
			os.Exit(1)
		}
	}
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	rep.HeapInuse = ms.HeapInuse
	rep.RSSKiB, rep.HWMKiB = status(os.Getpid(), "VmRSS"), status(os.Getpid(), "VmHWM")
	json.NewEncoder(os.Stdout).Encode(rep)
}

func run(rep *Report, n, sessions int) error {
	if pluginPath == "" {
		return fmt.Errorf("-plugin is required")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	start := time.Now()
	cfg, err := config.Parse("footprint.yaml", []byte(configYAML(n)), lookupEnv)
	if err != nil {
		return err
	}
	set, err := registry.New(cfg, registry.Options{LookupEnv: lookupEnv})
	if err != nil {
		return err
	}
	defer set.Close()
	f := session.NewFactory(set, session.Options{})
	rep.Providers, rep.PluginEntries, rep.Sessions = n, 2, sessions
	var keep []*copilot.SessionConfig
	for s := 0; s < sessions; s++ {
		sc, err := f.MultiSessionConfig(ctx, "", nil)
		if err != nil {
			return err
		}
		keep = append(keep, sc)
		// One model request per provider: the runtime calls the callback.
		for _, p := range sc.Providers {
			if p.BearerTokenProvider == nil {
				continue
			}
			if _, err := p.BearerTokenProvider(copilot.ProviderTokenArgs{ProviderName: p.Name}); err != nil {
				return err
			}
		}
		if s == 0 {
			rep.FirstSession = time.Since(start)
			rep.ChildrenAfterFirst = len(children(os.Getpid()))
		}
	}
	rep.AllSessions = time.Since(start)
	kids := children(os.Getpid())
	rep.Children = len(kids)
	for _, pid := range kids {
		rep.ChildrenRSSKiB += status(pid, "VmRSS")
	}
	runtime.KeepAlive(keep)
	return nil
}

// configYAML: n providers, 40 % static keys (each its own), 40 % Entra ID
// over four managed identities, 20 % plugins split over the two entries.
func configYAML(n int) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "plugins:\n  alpha: {command: %q}\n  beta: {command: %q}\n", pluginPath, pluginPath)
	sb.WriteString("providers:\n")
	for i := range n {
		var auth string
		switch {
		case i%5 < 2:
			auth = fmt.Sprintf("{type: static, api_key_env: K%d}", i)
		case i%5 < 4:
			auth = fmt.Sprintf("{type: entra, credential: managed_identity, client_id: 00000000-0000-0000-0000-00000000000%d}", i%4)
		default:
			entry := "alpha"
			if i%2 == 1 {
				entry = "beta"
			}
			auth = fmt.Sprintf("{type: plugin, plugin: %s, config: {subject: s%d}}", entry, i)
		}
		typ := []string{"openai", "azure", "anthropic"}[i%3]
		fmt.Fprintf(&sb, "  p%d: {type: %s, base_url: http://127.0.0.1:9, model: m, auth: %s}\n", i, typ, auth)
	}
	sb.WriteString("default_model: p0/m\n")
	return sb.String()
}

func lookupEnv(name string) (string, bool) {
	if strings.HasPrefix(name, "K") {
		return "sk-footprint-" + name + "-0123456789abcdef0123456789abcdef", true
	}
	return os.LookupEnv(name)
}

// status reads a "VmRSS:   1234 kB" line of /proc/<pid>/status, in KiB.
func status(pid int, field string) int64 {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb
		}
	}
	return 0
}

// children lists the processes whose parent is pid.
func children(pid int) []int {
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...; comm may contain spaces.
		s := string(b)
		fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(fields) > 1 {
			if ppid, _ := strconv.Atoi(fields[1]); ppid == pid {
				out = append(out, child)
			}
		}
	}
	return out
}
