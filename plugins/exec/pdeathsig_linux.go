package exec

import "syscall"

// setParentDeathSignal has the kernel kill the command if the plugin dies
// (killed by the host, say) while the command runs.
func setParentDeathSignal(a *syscall.SysProcAttr) { a.Pdeathsig = syscall.SIGKILL }
