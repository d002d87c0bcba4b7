// Command byokcred-plugin-exec is the exec credential plugin for byokcred:
// it runs a command for each token. See package plugins/exec for its config.
package main

import (
	"github.com/byokcred/byokcred/plugins/exec"
	"github.com/byokcred/byokcred/plugins/sdk"
)

// Supervise must run on the main thread; init functions do.
func init() { exec.Supervise() }

func main() {
	sdk.Serve(exec.Plugin{})
	// The host stopped the plugin: nothing the commands started may stay.
	exec.KillDescendants()
}
