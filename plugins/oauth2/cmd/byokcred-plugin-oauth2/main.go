// Command byokcred-plugin-oauth2 is the OAuth 2.0 client-credentials plugin
// for byokcred. See package plugins/oauth2 for its config.
package main

import (
	"github.com/byokcred/byokcred/plugins/oauth2"
	"github.com/byokcred/byokcred/plugins/sdk"
)

func main() { sdk.Serve(oauth2.Plugin{}) }
