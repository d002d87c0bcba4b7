// Command byokcred-plugin-exec is the exec credential plugin for byokcred:
// it runs a command for each token. See package plugins/exec for its config.
package main

import (
	"github.com/byokcred/byokcred/plugins/exec"
	"github.com/byokcred/byokcred/plugins/sdk"
)

func main() { sdk.Serve(exec.Plugin{}) }
