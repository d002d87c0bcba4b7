package shared

import "testing"

// TestHandshake pins what every plugin binary in the field was built with:
// changing any of it makes those binaries fail the handshake, which is only
// right together with a new proto package version.
func TestHandshake(t *testing.T) {
	if Handshake.ProtocolVersion != 1 || ProtocolVersion != 1 {
		t.Errorf("protocol version %d/%d, want 1", Handshake.ProtocolVersion, ProtocolVersion)
	}
	if Handshake.MagicCookieKey != "BYOKCRED_PLUGIN_MAGIC_COOKIE" || Handshake.MagicCookieValue != "4f7a2c9e-byokcred-credential-plugin" {
		t.Errorf("magic cookie changed: %s=%s", Handshake.MagicCookieKey, Handshake.MagicCookieValue)
	}
	if PluginName != "credential" {
		t.Errorf("plugin name %q", PluginName)
	}
}
