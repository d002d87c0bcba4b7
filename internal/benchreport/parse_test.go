package main

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    *Data
		wantErr string
	}{
		{
			name: "results and configuration",
			in: `goos: linux
goarch: amd64
pkg: github.com/byokcred/byokcred/bench
cpu: Some CPU @ 2.0GHz
BenchmarkWarmToken/byokcred-callback-2         	 7273144	       148.7 ns/op	       0 B/op	       0 allocs/op
BenchmarkWarmToken/byokcred-callback-2         	 7000000	       150.1 ns/op	       0 B/op	       0 allocs/op
BenchmarkHerd/no-cache-2               	       1	8119953427 ns/op	     10000 callers	     10000 fetches
PASS
ok  	github.com/byokcred/byokcred/bench	11.610s
`,
			want: &Data{
				Samples: map[string]map[string][]float64{
					"BenchmarkWarmToken/byokcred-callback": {
						"iterations": {7273144, 7000000}, "ns/op": {148.7, 150.1}, "B/op": {0, 0}, "allocs/op": {0, 0},
					},
					"BenchmarkHerd/no-cache": {
						"iterations": {1}, "ns/op": {8119953427}, "callers": {10000}, "fetches": {10000},
					},
				},
				Config: map[string][]string{
					"goos": {"linux"}, "goarch": {"amd64"}, "pkg": {"github.com/byokcred/byokcred/bench"}, "cpu": {"Some CPU @ 2.0GHz"},
				},
				Procs: 2,
				Order: []string{"BenchmarkWarmToken/byokcred-callback", "BenchmarkHerd/no-cache"},
			},
		},
		{
			name: "custom units, names with = and -, no procs suffix, -v noise",
			in: `BenchmarkScale/providers=10000
    scale_test.go:12: a log line: with a colon
BenchmarkScale/providers=10000 	       2	 390084793 ns/op	     39008 ns/provider	       3999 retained-bytes/provider
BenchmarkRefreshStalls/azcore-BearerTokenPolicy-model 	 1	 3314093900 ns/op	 26.00 stalls	 500000000 max-wait-ns	 26.00 waited>1ms
BenchmarkTiming is a log line, not a result
`,
			want: &Data{
				Samples: map[string]map[string][]float64{
					"BenchmarkScale/providers=10000": {
						"iterations": {2}, "ns/op": {390084793}, "ns/provider": {39008}, "retained-bytes/provider": {3999},
					},
					"BenchmarkRefreshStalls/azcore-BearerTokenPolicy-model": {
						"iterations": {1}, "ns/op": {3314093900}, "stalls": {26}, "max-wait-ns": {500000000}, "waited>1ms": {26},
					},
				},
				Config: map[string][]string{},
				Order:  []string{"BenchmarkScale/providers=10000", "BenchmarkRefreshStalls/azcore-BearerTokenPolicy-model"},
			},
		},
		{
			name: "repeated configuration is kept once, new values appended",
			in: `cpu: A
cpu: A
cpu: B
started: 2030-01-01T00:00:00Z
`,
			want: &Data{
				Samples: map[string]map[string][]float64{},
				Config:  map[string][]string{"cpu": {"A", "B"}, "started": {"2030-01-01T00:00:00Z"}},
			},
		},
		{
			name:    "unpaired value",
			in:      "BenchmarkX-2 \t 10 \t 5 ns/op \t 7\n",
			wantErr: "line 1: result line with an unpaired value",
		},
		{
			name:    "bad value",
			in:      "cpu: x\nBenchmarkX-2 \t 10 \t five ns/op\n",
			wantErr: `line 2: value "five" of ns/op`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(strings.NewReader(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Parse mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
