//go:build !linux

package exec

// Supervise is Linux-only (child subreapers and parent-death signals);
// elsewhere a command's process group is still killed after every run.
func Supervise() {}

// waitExited cannot wait without reaping here; the caller kills the group
// after reaping instead.
func waitExited(int) bool { return false }

func killOrphans(map[int]bool, bool) {}
