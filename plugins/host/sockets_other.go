//go:build !unix

package host

import (
	"errors"
	"os"
)

// Plugins use TCP here: no sockets to clean up.
func processStart(pid int) (string, bool) { return "0", pid == os.Getpid() }

func checkOwnDir(string) error { return errors.New("not supported") }
