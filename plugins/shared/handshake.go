// Package shared is the contract between the byokcred host and its credential
// plugins: the go-plugin handshake, the plugin-map name and the Go interface
// a plugin implements ([Credential]). How it travels over gRPC is an internal
// matter of the host and plugins/sdk (plugins/internal/wire); a plugin author
// needs only this package and plugins/sdk.
//
// Both sides import this package, so the handshake is defined in exactly one
// place: a host and a plugin built from different versions of it fail the
// handshake instead of misreading each other.
package shared

import (
	"github.com/hashicorp/go-plugin"
)

// PluginName is the key of the credential plugin in go-plugin's plugin map:
// the name the host dispenses and the plugin serves.
const PluginName = "credential"

// ProtocolVersion is the version of the plugin protocol (the proto package
// byokcred.plugin.v1). It changes only with an incompatible change of the
// wire protocol, and then a plugin built for the old one is refused at the
// handshake with a clear error rather than misbehaving.
const ProtocolVersion = 1

// Handshake is the go-plugin handshake shared by host and plugins.
//
// The magic cookie is not a security measure: it only makes a plugin binary
// that is run by hand say that it is a plugin, instead of waiting for a
// handshake that never comes. Integrity comes from the host's sha256 pinning.
var Handshake = plugin.HandshakeConfig{
	ProtocolVersion:  ProtocolVersion,
	MagicCookieKey:   "BYOKCRED_PLUGIN_MAGIC_COOKIE",
	MagicCookieValue: "4f7a2c9e-byokcred-credential-plugin",
}
