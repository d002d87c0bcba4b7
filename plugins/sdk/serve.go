// Package sdk is what a credential plugin's main package needs: [Serve] to
// run the plugin, [Logger] to log, and [Config] to read a provider's config
// strictly. A complete plugin is about twenty lines; see plugins/README.md.
//
// # Output
//
// A plugin's stdout belongs to go-plugin: its first line is the handshake,
// and anything else printed there is thrown away by the host. A plugin's
// stderr is relayed to the host's log at debug level, line by line, with the
// attribute plugin=<name>. The host redacts the tokens that the plugin has
// returned and anything shaped like a JWT or an Authorization header, but that
// is a safety net: a plugin must never print or log a token, a client secret
// or a config value that may be one. Log through [Logger] (hclog, JSON, to
// stderr) so that levels and key/value pairs survive the relay.
package sdk

import (
	"io"
	"os"
	"runtime/debug"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"

	"github.com/byokcred/byokcred/plugins/internal/wire"
	"github.com/byokcred/byokcred/plugins/shared"
)

// stderr is the process's real stderr, taken before go-plugin's Serve
// replaces os.Stderr with a pipe of its own. It is never reassigned: tests
// give newLogger a writer of their own.
var stderr io.Writer = os.Stderr

// Serve runs impl as a byokcred credential plugin and returns only when the
// host ends it (go-plugin then exits the process). Call it last in main.
//
// Run by hand, outside a host, the binary says that it is a plugin and exits
// with status 1.
func Serve(impl shared.Credential) {
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: shared.Handshake,
		Plugins:         wire.PluginSet(impl),
		GRPCServer:      plugin.DefaultGRPCServer,
		Logger:          Logger("go-plugin"),
	})
}

// Logger returns an hclog logger that writes JSON lines to the process's
// stderr, which the host relays to its own log at debug level. name is the
// logger's name (the plugin's name, say). The level is debug unless the
// variable BYOKCRED_PLUGIN_LOG_LEVEL (trace, debug, info, warn, error, off)
// is set in the plugin's env.
func Logger(name string) hclog.Logger {
	return newLogger(name, stderr, os.Getenv("BYOKCRED_PLUGIN_LOG_LEVEL"))
}

// newLogger is Logger writing to w, at the level named by v ("" or an
// unknown name: debug).
func newLogger(name string, w io.Writer, v string) hclog.Logger {
	level := hclog.Debug
	if v != "" {
		if l := hclog.LevelFromString(v); l != hclog.NoLevel {
			level = l
		}
	}
	return hclog.New(&hclog.LoggerOptions{
		Name:       name,
		Level:      level,
		Output:     w,
		JSONFormat: true,
	})
}

// BuildVersion returns the main module's version as the Go toolchain stamped
// it ("v1.2.3", or "(devel)" for a local build), for [shared.Info].
func BuildVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}
