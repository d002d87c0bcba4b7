package main

import (
	"math"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// data builds a Data from bench → unit → samples.
func data(samples map[string]map[string][]float64) *Data {
	d := &Data{Samples: samples, Config: map[string][]string{}}
	for name := range samples {
		d.Order = append(d.Order, name)
	}
	return d
}

func TestEvaluate(t *testing.T) {
	d := data(map[string]map[string][]float64{
		"A": {"ns/op": {100, 110, 90}, "allocs/op": {0, 0, 0}, "n": {1, 1, 1}, "turns/s": {9.9, 10, 10.1}, "pair": {0.99, 0.95, 1.0}},
		"B": {"ns/op": {2000, 2100, 1900}, "allocs/op": {9, 9, 9}, "n": {10000, 10000, 10000}, "turns/s": {10, 10, 10}, "entries": {2, 2, 2}},
		"C": {"noise": {1, 7, 3}},
	})
	tests := []struct {
		name       string
		row        Row
		wantStatus Status
		wantRatio  float64
	}{
		{"ratio at least, met", Row{Ours: Ref{"A", "ns/op"}, Base: Ref{"B", "ns/op"}, Target: Target{Kind: RatioAtLeast, Value: 10}}, StatusMet, 20},
		{"ratio at least, missed", Row{Ours: Ref{"A", "ns/op"}, Base: Ref{"B", "ns/op"}, Target: Target{Kind: RatioAtLeast, Value: 25}}, StatusMissed, 20},
		{"ours over base, at most", Row{Ours: Ref{"B", "ns/op"}, Base: Ref{"A", "ns/op"}, Ratio: OursOverBase, Target: Target{Kind: RatioAtMost, Value: 1.5}}, StatusMissed, 20},
		{"ours equals zero, base/ours infinite", Row{Ours: Ref{"A", "allocs/op"}, Base: Ref{"B", "allocs/op"}, Target: Target{Kind: OursEquals, Value: 0}}, StatusMet, math.Inf(1)},
		{"ours equals one", Row{Ours: Ref{"A", "n"}, Base: Ref{"B", "n"}, Target: Target{Kind: OursEquals, Value: 1}}, StatusMet, 10000},
		{"ours at most", Row{Ours: Ref{"A", "ns/op"}, Base: Ref{"B", "ns/op"}, Target: Target{Kind: OursAtMost, Value: 99}}, StatusMissed, 20},
		{"paired ratio wins over medians", Row{Ours: Ref{"A", "turns/s"}, Base: Ref{"B", "turns/s"}, Ratio: OursOverBase, PairedRatio: &Ref{"A", "pair"}, Target: Target{Kind: RatioAtLeast, Value: 0.97}}, StatusMet, 0.99},
		{"ours equals base", Row{Ours: Ref{"A", "n"}, Base: Ref{"B", "entries"}, Target: Target{Kind: OursEqualsBase}}, StatusMissed, 2},
		{"at most the control's worst run", Row{Ours: Ref{"A", "n"}, Base: Ref{"B", "n"}, Target: Target{Kind: OursAtMostRefMax, Ref: &Ref{"C", "noise"}}}, StatusMet, 10000},
		{"control missing", Row{Ours: Ref{"A", "n"}, Base: Ref{"B", "n"}, Target: Target{Kind: OursAtMostRefMax, Ref: &Ref{"C", "none"}}}, StatusNotMeasured, 10000},
		{"no target", Row{Ours: Ref{"A", "ns/op"}, Base: Ref{"B", "ns/op"}}, StatusNone, 20},
		{"benchmark missing", Row{Ours: Ref{"A", "ns/op"}, Base: Ref{"Z", "ns/op"}, Target: Target{Kind: RatioAtLeast, Value: 1}}, StatusNotMeasured, math.NaN()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Evaluate(tt.row, d)
			got := struct {
				Status Status
				Ratio  float64
			}{c.Status, c.RatioVal}
			want := struct {
				Status Status
				Ratio  float64
			}{tt.wantStatus, tt.wantRatio}
			if diff := cmp.Diff(want, got, cmpopts.EquateNaNs(), cmpopts.EquateApprox(1e-9, 0)); diff != "" {
				t.Errorf("Evaluate mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFormat(t *testing.T) {
	tests := []struct {
		v    float64
		unit string
		want string
	}{
		{148.7, "ns/op", "149 ns/op"},
		{5286, "ns/op", "5.29 µs/op"},
		{356597, "ns/op", "357 µs/op"},
		{17920830, "ns/op", "17.9 ms/op"},
		{8119953427, "ns/op", "8.12 s/op"},
		{500000000, "max-wait-ns", "500 ms"},
		{0, "max-stall-ns", "0 s"},
		{39008, "ns/provider", "39.0 µs/provider"},
		{11614, "bytes/provider", "11.3 KiB/provider"},
		{3999, "retained-bytes/provider", "3.91 KiB/provider"},
		{116141648, "B/op", "111 MiB/op"},
		{512, "B/op", "512 B/op"},
		{25.15, "rss-MiB", "25.1 MiB"},
		{0, "allocs/op", "0 allocs/op"},
		{10000, "fetches", "10000 fetches"},
		{6.027, "entra-turns/s", "6.03 entra-turns/s"},
		{240, "stalls", "240 stalls"},
		{math.NaN(), "ns/op", "—"},
	}
	for _, tt := range tests {
		if got := FormatValue(tt.v, tt.unit); got != tt.want {
			t.Errorf("FormatValue(%v, %q) = %q, want %q", tt.v, tt.unit, got, tt.want)
		}
	}
	ratios := []struct {
		r    float64
		want string
	}{
		{35.54, "35.5×"}, {0.9105, "0.91×"}, {2400, "2400×"}, {math.Inf(1), "∞ (ours 0)"}, {math.NaN(), "—"},
	}
	for _, tt := range ratios {
		if got := FormatRatio(tt.r); got != tt.want {
			t.Errorf("FormatRatio(%v) = %q, want %q", tt.r, got, tt.want)
		}
	}
	if got, want := FormatSamples([]float64{100, 110, 90}, "ns/op"), "100 ns/op ±10% (n=3)"; got != want {
		t.Errorf("FormatSamples = %q, want %q", got, want)
	}
	if got, want := FormatSamples([]float64{0.5}, "stalls"), "0.50 stalls (n=1)"; got != want {
		t.Errorf("FormatSamples = %q, want %q", got, want)
	}
}

func TestRender(t *testing.T) {
	d := data(map[string]map[string][]float64{
		"BenchmarkFast":  {"ns/op": {10, 11, 9}},
		"BenchmarkSlow":  {"ns/op": {1000, 1000, 1000}},
		"BenchmarkOther": {"ns/op": {50, 50, 50}},
	})
	d.Config = map[string][]string{"goos": {"linux"}, "cpu": {"Test CPU"}}
	d.Procs = 2
	rep := Report{
		Title: "t",
		Intro: "intro",
		Rows: []Row{
			{Figure: "met | piped", Ours: Ref{"BenchmarkFast", "ns/op"}, OursLabel: "fast", Base: Ref{"BenchmarkSlow", "ns/op"}, BaseLabel: "slow",
				Target: Target{Kind: RatioAtLeast, Value: 10, Text: "≥ 10×"}, How: "loop",
				HowData: func(d *Data) string {
					return "extra " + FormatValue(Median(d.Values("BenchmarkOther", "ns/op")), "ns/op")
				}},
			{Figure: "missed", Ours: Ref{"BenchmarkOther", "ns/op"}, OursLabel: "other", Base: Ref{"BenchmarkSlow", "ns/op"}, BaseLabel: "slow",
				Target: Target{Kind: RatioAtLeast, Value: 100, Text: "≥ 100×"}, How: "loop", Miss: "Because."},
			{Figure: "absent", Ours: Ref{"BenchmarkGone", "ns/op"}, OursLabel: "gone", Base: Ref{"BenchmarkSlow", "ns/op"}, BaseLabel: "slow",
				Target: Target{Kind: RatioAtLeast, Value: 2, Text: "≥ 2×"}, How: "never", NotMeasured: "Not built yet."},
			{Figure: "context", Ours: Ref{"BenchmarkFast", "ns/op"}, OursLabel: "fast", Base: Ref{"BenchmarkOther", "ns/op"}, BaseLabel: "other",
				Target: Target{Text: "context"}, How: "loop"},
		},
		Method: "## Method\n\ntext",
	}
	var b strings.Builder
	if err := rep.Render(&b, d); err != nil {
		t.Fatal(err)
	}
	want := `# t

intro

Run: goos: linux; cpu: Test CPU; GOMAXPROCS: 2.

| figure | ours | baseline | ratio | target | how measured |
|---|---|---|---|---|---|
| met \| piped | fast: 10.0 ns/op ±10% (n=3) | slow: 1.00 µs/op ±0% (n=3) | 100× | ≥ 10× — **met** | loop extra 50.0 ns/op |
| missed | other: 50.0 ns/op ±0% (n=3) | slow: 1.00 µs/op ±0% (n=3) | 20.0× | ≥ 100× — **missed** (note 1) | loop |
| absent | gone: not measured | slow: not measured | — | ≥ 2× — **not measured** | never |
| context | fast: 10.0 ns/op ±10% (n=3) | other: 50.0 ns/op ±0% (n=3) | 5.00× | context | loop |

Each cell is the median of the runs (n = number of runs), ± the largest deviation of a run from it; the ratio is formed from the medians (or, where the figure is measured interleaved, is the median of the per-run ratios).

## Notes

1. **missed — target missed.** Because. Per run: other 50.0 ns/op, 50.0 ns/op, 50.0 ns/op; slow 1.00 µs/op, 1.00 µs/op, 1.00 µs/op.
2. **absent — not measured.** Not built yet.

## Method

text
`
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("Render mismatch (-want +got):\n%s", diff)
	}
}

// TestByokcredReportRows checks the real table's definitions: every row
// names two metrics and a label for each, and a report over data that has
// every metric renders no "not measured" row.
func TestByokcredReportRows(t *testing.T) {
	samples := map[string]map[string][]float64{}
	add := func(r Ref) {
		if samples[r.Bench] == nil {
			samples[r.Bench] = map[string][]float64{}
		}
		samples[r.Bench][r.Unit] = []float64{1, 2, 3}
	}
	for i, r := range byokcredReport.Rows {
		if r.Figure == "" || r.OursLabel == "" || r.BaseLabel == "" || r.Ours.Bench == "" || r.Base.Bench == "" || r.How == "" || r.Target.Text == "" {
			t.Errorf("row %d (%q) is incomplete: %+v", i, r.Figure, r)
		}
		add(r.Ours)
		add(r.Base)
		if r.PairedRatio != nil {
			add(*r.PairedRatio)
		}
		if r.Target.Ref != nil {
			add(*r.Target.Ref)
		}
	}
	d := data(samples)
	for _, r := range byokcredReport.Rows {
		if c := Evaluate(r, d); c.Status == StatusNotMeasured {
			t.Errorf("row %q not measured with every metric present", r.Figure)
		}
	}
	if missing := NotMeasured(byokcredReport, d); len(missing) != 0 {
		t.Errorf("NotMeasured = %q, want none", missing)
	}
	if missing := NotMeasured(byokcredReport, data(map[string]map[string][]float64{})); len(missing) != len(byokcredReport.Rows) {
		t.Errorf("NotMeasured on no data lists %d rows, want %d", len(missing), len(byokcredReport.Rows))
	}
}
