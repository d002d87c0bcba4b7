package main

import (
	"math"
	"slices"
)

// Median is the middle sample (the mean of the two middle ones for an even
// count), as benchstat reports; NaN for no samples.
func Median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// Spread is the largest distance of a sample from the median, as a
// fraction of the median: the "±" of the report. Zero for fewer than two
// samples or a zero median.
func Spread(xs []float64) float64 {
	m := Median(xs)
	if len(xs) < 2 || m == 0 || math.IsNaN(m) {
		return 0
	}
	var d float64
	for _, x := range xs {
		d = max(d, math.Abs(x-m))
	}
	return d / math.Abs(m)
}

// Slope fits y = a + b·x by least squares and returns b; NaN for fewer
// than two distinct x.
func Slope(x, y []float64) float64 {
	n := float64(len(x))
	if len(x) != len(y) || len(x) < 2 {
		return math.NaN()
	}
	var sx, sy, sxx, sxy float64
	for i := range x {
		sx += x[i]
		sy += y[i]
		sxx += x[i] * x[i]
		sxy += x[i] * y[i]
	}
	den := n*sxx - sx*sx
	if den == 0 {
		return math.NaN()
	}
	return (n*sxy - sx*sy) / den
}
