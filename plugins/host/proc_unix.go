//go:build unix

package host

import (
	"os/exec"
	"syscall"
)

// setProcAttr starts the plugin in a process group of its own, so that
// killing it also kills whatever it started (the exec plugin's commands),
// and on Linux has the kernel kill it if the host dies without Close.
func setProcAttr(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	setParentDeathSignal(cmd.SysProcAttr)
}

// killGroup SIGKILLs the plugin's process group (its id is the plugin's
// pid, thanks to Setpgid). While any member lives, the kernel does not reuse
// the id, so this reaches only the plugin and what it started; once all are
// gone it fails with ESRCH, which is ignored. (Only a pid wrap-around within
// the instant between the group's end and this call could make the id name
// a new group.)
func killGroup(pid int) {
	if pid > 0 {
		_ = syscall.Kill(-pid, syscall.SIGKILL)
	}
}

// gone reports whether the plugin process no longer exists. go-plugin
// marks a client exited only after draining its pipes and reaping it; this
// notices the reaped process without waiting for the flag. (A zombie still
// counts as present; the flag follows shortly after.)
func gone(pid int) bool {
	return pid > 0 && syscall.Kill(pid, 0) == syscall.ESRCH
}
