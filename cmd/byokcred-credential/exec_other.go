//go:build !unix

package main

import (
	"errors"
	"os"
	"os/exec"
)

// execFull runs the full binary with the same arguments, streams and
// environment and exits with its exit code (no exec(2) here). It returns
// only when the binary cannot be started.
func execFull(full string, args []string) error {
	cmd := exec.Command(full, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if err == nil || errors.As(err, &ee) {
		os.Exit(cmd.ProcessState.ExitCode())
	}
	return err
}
