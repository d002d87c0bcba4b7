package main

import (
	"fmt"
	"io"
	"math"
	"strings"
)

// Ref names one metric of one benchmark (the name without the GOMAXPROCS
// suffix).
type Ref struct {
	Bench, Unit string
}

// RatioDef says how a row's ratio is formed from its two medians.
type RatioDef int

const (
	// BaseOverOurs: how many times better ours is when lower is better
	// (time, allocations, waits): baseline / ours.
	BaseOverOurs RatioDef = iota
	// OursOverBase: ours / baseline, for higher-is-better figures (turns per
	// second) and for growth (cost at 10,000 over cost at 100).
	OursOverBase
)

// TargetKind is what a row's target constrains.
type TargetKind int

const (
	// NoTarget: the row is context.
	NoTarget TargetKind = iota
	// RatioAtLeast: ratio ≥ Value.
	RatioAtLeast
	// RatioAtMost: ratio ≤ Value.
	RatioAtMost
	// OursEquals: ours = Value (within 1e-9 relative).
	OursEquals
	// OursAtMost: ours ≤ Value.
	OursAtMost
	// OursEqualsBase: ours = baseline (the baseline is the expected count).
	OursEqualsBase
	// OursAtMostRefMax: ours ≤ the largest sample of Ref (a control run
	// that shows the machine's own noise).
	OursAtMostRefMax
)

// Target is a row's goal.
type Target struct {
	Kind  TargetKind
	Value float64
	// Ref is the control of OursAtMostRefMax.
	Ref *Ref
	// Text is how the table states it.
	Text string
}

// Row is one line of the table.
type Row struct {
	Figure string
	// Ours and Base are the two figures compared; OursLabel and BaseLabel
	// say what they are.
	Ours, Base           Ref
	OursLabel, BaseLabel string
	Ratio                RatioDef
	// PairedRatio, when set, is a metric that holds the ratio measured
	// within each run (interleaved); its median is the row's ratio.
	PairedRatio *Ref
	Target      Target
	// How says how the figure was measured; HowData adds figures computed
	// from the data (a slope, a control's values).
	How     string
	HowData func(*Data) string
	// Miss explains a missed target; shown under the table only then.
	Miss string
	// NotMeasured explains why the row has no data when its benchmarks are
	// missing from the output.
	NotMeasured string
}

// Status of a row's target.
type Status int

const (
	StatusNone Status = iota
	StatusMet
	StatusMissed
	StatusNotMeasured
)

// Cell is one evaluated row.
type Cell struct {
	Row
	OursVals, BaseVals []float64
	OursMed, BaseMed   float64
	RatioVal           float64
	Status             Status
	HowText            string
}

// Evaluate computes a row's medians, ratio and target status from d.
func Evaluate(r Row, d *Data) Cell {
	c := Cell{Row: r, OursVals: d.Values(r.Ours.Bench, r.Ours.Unit), BaseVals: d.Values(r.Base.Bench, r.Base.Unit)}
	c.HowText = r.How
	if len(c.OursVals) == 0 || len(c.BaseVals) == 0 {
		c.Status = StatusNotMeasured
		c.OursMed, c.BaseMed, c.RatioVal = math.NaN(), math.NaN(), math.NaN()
		return c
	}
	if r.HowData != nil {
		if extra := r.HowData(d); extra != "" {
			c.HowText = strings.TrimSpace(c.HowText + " " + extra)
		}
	}
	c.OursMed, c.BaseMed = Median(c.OursVals), Median(c.BaseVals)
	switch {
	case r.PairedRatio != nil && len(d.Values(r.PairedRatio.Bench, r.PairedRatio.Unit)) > 0:
		c.RatioVal = Median(d.Values(r.PairedRatio.Bench, r.PairedRatio.Unit))
	case r.Ratio == OursOverBase:
		c.RatioVal = divide(c.OursMed, c.BaseMed)
	default:
		c.RatioVal = divide(c.BaseMed, c.OursMed)
	}
	met := true
	switch r.Target.Kind {
	case NoTarget:
		c.Status = StatusNone
		return c
	case RatioAtLeast:
		met = c.RatioVal >= r.Target.Value
	case RatioAtMost:
		met = c.RatioVal <= r.Target.Value
	case OursEquals:
		met = math.Abs(c.OursMed-r.Target.Value) <= 1e-9*math.Max(1, math.Abs(r.Target.Value))
	case OursAtMost:
		met = c.OursMed <= r.Target.Value
	case OursEqualsBase:
		met = math.Abs(c.OursMed-c.BaseMed) <= 1e-9*math.Max(1, math.Abs(c.BaseMed))
	case OursAtMostRefMax:
		ctl := d.Values(r.Target.Ref.Bench, r.Target.Ref.Unit)
		if len(ctl) == 0 {
			c.Status = StatusNotMeasured
			return c
		}
		met = c.OursMed <= maxOf(ctl)
	}
	c.Status = StatusMissed
	if met {
		c.Status = StatusMet
	}
	return c
}

// divide is a/b, +Inf when only b is zero, 1 when both are.
func divide(a, b float64) float64 {
	switch {
	case b != 0:
		return a / b
	case a == 0:
		return 1
	default:
		return math.Inf(1)
	}
}

func maxOf(xs []float64) float64 {
	m := math.Inf(-1)
	for _, x := range xs {
		m = max(m, x)
	}
	return m
}

// Report is the whole document.
type Report struct {
	Title string
	// Intro is printed under the title.
	Intro string
	Rows  []Row
	// Method is printed after the table: how the figures are measured.
	Method string
}

// Render writes the Markdown document for d.
func (rep Report) Render(w io.Writer, d *Data) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n\n", rep.Title)
	if rep.Intro != "" {
		fmt.Fprintf(&b, "%s\n\n", strings.TrimSpace(rep.Intro))
	}
	b.WriteString(runContext(d))
	b.WriteString("| figure | ours | baseline | ratio | target | how measured |\n")
	b.WriteString("|---|---|---|---|---|---|\n")
	var notes []string
	for _, r := range rep.Rows {
		c := Evaluate(r, d)
		target := c.Target.Text
		switch c.Status {
		case StatusMet:
			target += " — **met**"
		case StatusMissed:
			notes = append(notes, fmt.Sprintf("**%s — target missed.** %s Per run: %s %s; %s %s.", c.Figure, missNote(c),
				c.OursLabel, formatRuns(c.OursVals, c.Ours.Unit), c.BaseLabel, formatRuns(c.BaseVals, c.Base.Unit)))
			target += fmt.Sprintf(" — **missed** (note %d)", len(notes))
		case StatusNotMeasured:
			target += " — **not measured**"
			notes = append(notes, fmt.Sprintf("**%s — not measured.** %s", c.Figure, notMeasuredNote(c)))
		}
		if c.Status == StatusNotMeasured {
			fmt.Fprintf(&b, "| %s | %s: not measured | %s: not measured | — | %s | %s |\n",
				cell(c.Figure), cell(c.OursLabel), cell(c.BaseLabel), cell(target), cell(c.HowText))
			continue
		}
		fmt.Fprintf(&b, "| %s | %s: %s | %s: %s | %s | %s | %s |\n",
			cell(c.Figure),
			cell(c.OursLabel), FormatSamples(c.OursVals, c.Ours.Unit),
			cell(c.BaseLabel), FormatSamples(c.BaseVals, c.Base.Unit),
			FormatRatio(c.RatioVal), cell(target), cell(c.HowText))
	}
	b.WriteString("\nEach cell is the median of the runs (n = number of runs), ± the largest deviation of a run from it; the ratio is formed from the medians (or, where the figure is measured interleaved, is the median of the per-run ratios).\n")
	if len(notes) > 0 {
		b.WriteString("\n## Notes\n\n")
		for i, n := range notes {
			fmt.Fprintf(&b, "%d. %s\n", i+1, n)
		}
	}
	if rep.Method != "" {
		fmt.Fprintf(&b, "\n%s\n", strings.TrimSpace(rep.Method))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// formatRuns lists every run's value, in run order.
func formatRuns(xs []float64, unit string) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = FormatValue(x, unit)
	}
	return strings.Join(parts, ", ")
}

func missNote(c Cell) string {
	if c.Miss != "" {
		return c.Miss
	}
	return "No explanation is recorded for this miss yet: profile it (`-cpuprofile`) and add one in internal/benchreport/figures.go."
}

func notMeasuredNote(c Cell) string {
	if c.NotMeasured != "" {
		return c.NotMeasured
	}
	return fmt.Sprintf("The raw output has no %s %s or no %s %s.", c.Ours.Bench, c.Ours.Unit, c.Base.Bench, c.Base.Unit)
}

// runContext describes the run from the configuration lines.
func runContext(d *Data) string {
	var parts []string
	for _, k := range []string{"goos", "goarch", "cpu"} {
		if v := d.Config[k]; len(v) > 0 {
			parts = append(parts, fmt.Sprintf("%s: %s", k, strings.Join(v, ", ")))
		}
	}
	if d.Procs > 0 {
		parts = append(parts, fmt.Sprintf("GOMAXPROCS: %d", d.Procs))
	}
	for _, k := range []string{"go", "started", "elapsed"} {
		if v := d.Config[k]; len(v) > 0 {
			parts = append(parts, fmt.Sprintf("%s: %s", k, strings.Join(v, ", ")))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return "Run: " + strings.Join(parts, "; ") + ".\n\n"
}

// cell escapes text for a Markdown table cell.
func cell(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "|", `\|`), "\n", " ")
}

// FormatSamples renders a metric's median in its unit, with the spread and
// the number of runs.
func FormatSamples(xs []float64, unit string) string {
	s := FormatValue(Median(xs), unit)
	if len(xs) > 1 {
		if sp := Spread(xs); sp >= 0.0005 {
			s += fmt.Sprintf(" ±%s", formatPercent(sp))
		} else {
			s += " ±0%"
		}
	}
	return fmt.Sprintf("%s (n=%d)", s, len(xs))
}

func formatPercent(f float64) string {
	p := f * 100
	switch {
	case p >= 10:
		return fmt.Sprintf("%.0f%%", p)
	default:
		return fmt.Sprintf("%.1f%%", p)
	}
}

// FormatRatio renders a ratio as "12.3×".
func FormatRatio(r float64) string {
	switch {
	case math.IsNaN(r):
		return "—"
	case math.IsInf(r, 1):
		return "∞ (ours 0)"
	case r >= 100:
		return fmt.Sprintf("%.0f×", r)
	case r >= 10:
		return fmt.Sprintf("%.1f×", r)
	default:
		return fmt.Sprintf("%.2f×", r)
	}
}

// FormatValue renders v in unit: durations for ns units, sizes for byte
// units, plain numbers otherwise.
func FormatValue(v float64, unit string) string {
	if math.IsNaN(v) {
		return "—"
	}
	switch {
	case unit == "ns/op" || strings.HasSuffix(unit, "-ns") || unit == "ns/provider":
		suffix := ""
		if i := strings.IndexByte(unit, '/'); i >= 0 {
			suffix = unit[i:]
		}
		return FormatDuration(v) + suffix
	case unit == "B/op" || strings.HasPrefix(unit, "bytes/") || strings.HasSuffix(unit, "-bytes/provider"):
		suffix := ""
		if i := strings.IndexByte(unit, '/'); i >= 0 {
			suffix = unit[i:]
		}
		return FormatBytes(v) + suffix
	case strings.HasSuffix(unit, "-MiB"):
		return sig3(v) + " MiB"
	default:
		return formatNumber(v) + " " + unit
	}
}

// FormatDuration renders nanoseconds with three significant digits.
func FormatDuration(ns float64) string {
	a := math.Abs(ns)
	switch {
	case a == 0:
		return "0 s"
	case a < 1e3:
		return sig3(ns) + " ns"
	case a < 1e6:
		return sig3(ns/1e3) + " µs"
	case a < 1e9:
		return sig3(ns/1e6) + " ms"
	default:
		return sig3(ns/1e9) + " s"
	}
}

// FormatBytes renders a byte count in B, KB or MB (powers of 1024).
func FormatBytes(b float64) string {
	a := math.Abs(b)
	switch {
	case a < 1024:
		return sig3(b) + " B"
	case a < 1<<20:
		return sig3(b/1024) + " KiB"
	default:
		return sig3(b/(1<<20)) + " MiB"
	}
}

func formatNumber(v float64) string {
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		return fmt.Sprintf("%.0f", v)
	}
	return sig3(v)
}

// sig3 prints three significant digits, without exponent.
func sig3(v float64) string {
	a := math.Abs(v)
	switch {
	case a >= 100:
		return fmt.Sprintf("%.0f", v)
	case a >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

// NotMeasured lists the rows of rep that d has no data for ("figure: ours
// bench unit / base bench unit").
func NotMeasured(rep Report, d *Data) []string {
	var out []string
	for _, r := range rep.Rows {
		if Evaluate(r, d).Status == StatusNotMeasured {
			out = append(out, fmt.Sprintf("%s: %s %s / %s %s", r.Figure, r.Ours.Bench, r.Ours.Unit, r.Base.Bench, r.Base.Unit))
		}
	}
	return out
}
