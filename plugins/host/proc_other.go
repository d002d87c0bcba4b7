//go:build !unix

package host

import "os/exec"

// setProcAttr: no process groups here; go-plugin's Kill ends the plugin
// itself only.
func setProcAttr(*exec.Cmd) {}

func killGroup(int) {}

func gone(int) bool { return false }
