//go:build unix

package exec

import (
	osexec "os/exec"
	"syscall"
)

// setProcessGroup runs the command in a process group of its own and makes
// cancellation kill the whole group, so that a timed-out `sh -c 'vault …'`
// does not leave the real command running behind the shell.
func setProcessGroup(cmd *osexec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	setParentDeathSignal(cmd.SysProcAttr)
	cmd.Cancel = func() error {
		// Negative pid: the group whose id is the command's pid.
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}

// killGroup SIGKILLs the process group whose id is pid (the command's, by
// Setpgid). Errors are ignored: ESRCH means the group is already gone.
func killGroup(pid int) {
	if pid > 0 {
		_ = syscall.Kill(-pid, syscall.SIGKILL)
	}
}
