// Command benchreport turns the raw output of byokcred's benchmarks (`go
// test -bench` in bench/, one or more runs) into BENCHMARKS.md: a table of
// figure, ours, baseline, ratio, target and how each was measured, with the
// medians of the runs. It reads the raw output on stdin and writes the
// Markdown on stdout:
//
//	go run ./internal/benchreport < bench/out/raw.txt > BENCHMARKS.md
//
// It exits with status 1 when the input cannot be read or has no benchmark
// results, and 0 otherwise, also when targets are missed (the table says
// so). With -check it writes no report and exits with status 1 when any
// row of the table has no data: `make bench-smoke` uses it so that a
// renamed benchmark cannot silently empty a row.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
)

func main() {
	check := flag.Bool("check", false, "only check that every row of the table has data")
	flag.Parse()
	if err := run(*check); err != nil {
		fmt.Fprintln(os.Stderr, "benchreport:", err)
		os.Exit(1)
	}
}

func run(check bool) error {
	d, err := Parse(bufio.NewReader(os.Stdin))
	if err != nil {
		return err
	}
	if len(d.Samples) == 0 {
		return fmt.Errorf("no benchmark results on stdin")
	}
	if check {
		missing := NotMeasured(byokcredReport, d)
		for _, m := range missing {
			fmt.Fprintln(os.Stderr, "no data for", m)
		}
		if len(missing) > 0 {
			return fmt.Errorf("%d of %d rows have no data", len(missing), len(byokcredReport.Rows))
		}
		fmt.Fprintf(os.Stderr, "benchreport: all %d rows have data\n", len(byokcredReport.Rows))
		return nil
	}
	w := bufio.NewWriter(os.Stdout)
	if err := byokcredReport.Render(w, d); err != nil {
		return err
	}
	return w.Flush()
}
