// Command byokcred-plugin-file is the file credential plugin for byokcred:
// it serves a token from a file that something else keeps fresh. See package
// plugins/file for its config.
package main

import (
	"github.com/byokcred/byokcred/plugins/file"
	"github.com/byokcred/byokcred/plugins/sdk"
)

func main() { sdk.Serve(file.Plugin{}) }
