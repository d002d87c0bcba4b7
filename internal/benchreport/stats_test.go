package main

import (
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestStats(t *testing.T) {
	nan := math.NaN()
	tests := []struct {
		name                string
		xs                  []float64
		wantMedian, wantSpr float64
	}{
		{"empty", nil, nan, 0},
		{"one", []float64{3}, 3, 0},
		{"odd, unsorted", []float64{5, 1, 3}, 3, 2.0 / 3},
		{"even: mean of the middle two", []float64{4, 1, 3, 2}, 2.5, 0.6},
		{"benchstat-like: one outlier does not move it", []float64{100, 101, 99, 100, 250}, 100, 1.5},
		{"zero median", []float64{0, 0, 1}, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := append([]float64(nil), tt.xs...)
			got := []float64{Median(tt.xs), Spread(tt.xs)}
			want := []float64{tt.wantMedian, tt.wantSpr}
			if diff := cmp.Diff(want, got, cmpopts.EquateNaNs(), cmpopts.EquateApprox(0, 1e-12)); diff != "" {
				t.Errorf("median, spread mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(in, tt.xs, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("input modified (-before +after):\n%s", diff)
			}
		})
	}
}

func TestSlope(t *testing.T) {
	tests := []struct {
		name string
		x, y []float64
		want float64
	}{
		{"exact line", []float64{10, 100, 1000, 10000}, []float64{1050, 10050, 100050, 1000050}, 100},
		{"noisy line", []float64{1, 2, 3, 4}, []float64{2, 4.1, 5.9, 8}, 1.98},
		{"one point", []float64{1}, []float64{1}, math.NaN()},
		{"same x", []float64{2, 2}, []float64{1, 3}, math.NaN()},
		{"length mismatch", []float64{1, 2}, []float64{1}, math.NaN()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, Slope(tt.x, tt.y), cmpopts.EquateNaNs(), cmpopts.EquateApprox(1e-9, 0)); diff != "" {
				t.Errorf("Slope mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
