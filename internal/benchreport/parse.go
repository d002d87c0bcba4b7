package main

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
)

// Data is the raw output of one or more `go test -bench` runs: every sample
// of every metric, by benchmark and unit, and the configuration lines
// (goos, goarch, cpu, pkg and any other "key: value" line).
type Data struct {
	// Samples[bench][unit] holds one value per result line, in order.
	Samples map[string]map[string][]float64
	// Config holds the configuration lines; a key seen with several values
	// keeps them all, in order of first appearance.
	Config map[string][]string
	// Procs is the GOMAXPROCS suffix of the benchmark names (0: none).
	Procs int
	// Order lists the benchmarks in order of first appearance.
	Order []string
}

var (
	procsSuffix = regexp.MustCompile(`-(\d+)$`)
	configLine  = regexp.MustCompile(`^([a-z][^:\s]*): (.*)$`)
)

// Parse reads benchmark output in the Go benchmark format: result lines
// ("BenchmarkName-P  N  value unit  value unit …") and configuration lines
// ("key: value"). Everything else (PASS, ok, test logs) is ignored. A
// result line that cannot be read is an error naming its line number.
func Parse(r io.Reader) (*Data, error) {
	d := &Data{Samples: map[string]map[string][]float64{}, Config: map[string][]string{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimRight(sc.Text(), " \t\r")
		if m := configLine.FindStringSubmatch(text); m != nil {
			d.addConfig(m[1], strings.TrimSpace(m[2]))
			continue
		}
		if !strings.HasPrefix(text, "Benchmark") {
			continue
		}
		fields := strings.Fields(text)
		if len(fields) < 2 {
			continue // `go test -v` prints the bare name first
		}
		if _, err := strconv.ParseInt(fields[1], 10, 64); err != nil {
			continue // a log line that starts with "Benchmark"
		}
		if len(fields)%2 != 0 {
			return nil, fmt.Errorf("line %d: result line with an unpaired value: %q", line, text)
		}
		name := fields[0]
		if m := procsSuffix.FindStringSubmatch(name); m != nil {
			d.Procs, _ = strconv.Atoi(m[1])
			name = strings.TrimSuffix(name, m[0])
		}
		units := d.Samples[name]
		if units == nil {
			units = map[string][]float64{}
			d.Samples[name] = units
			d.Order = append(d.Order, name)
		}
		n, _ := strconv.ParseFloat(fields[1], 64)
		units["iterations"] = append(units["iterations"], n)
		for i := 2; i < len(fields); i += 2 {
			v, err := strconv.ParseFloat(fields[i], 64)
			if err != nil {
				return nil, fmt.Errorf("line %d: value %q of %s: %v", line, fields[i], fields[i+1], err)
			}
			units[fields[i+1]] = append(units[fields[i+1]], v)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return d, nil
}

func (d *Data) addConfig(key, value string) {
	for _, v := range d.Config[key] {
		if v == value {
			return
		}
	}
	d.Config[key] = append(d.Config[key], value)
}

// Values returns the samples of bench's unit, nil when there are none.
func (d *Data) Values(bench, unit string) []float64 {
	return d.Samples[bench][unit]
}
