//go:build unix

package main

import (
	"os"
	"syscall"
)

// execFull replaces this process with the full binary, same arguments and
// environment: its output and exit code are the process's. It returns only
// when the exec fails.
func execFull(full string, args []string) error {
	return syscall.Exec(full, append([]string{full}, args...), os.Environ())
}
