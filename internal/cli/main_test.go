package cli

import (
	"flag"
	"os"
	"testing"

	"github.com/byokcred/byokcred/internal/plugintest"

	// The credential kinds its configs use.
	_ "github.com/byokcred/byokcred/auth/aws"
	_ "github.com/byokcred/byokcred/auth/entra"
	_ "github.com/byokcred/byokcred/auth/gcp"
	_ "github.com/byokcred/byokcred/auth/plugin"
	_ "github.com/byokcred/byokcred/auth/static"
)

func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	plugintest.Cleanup() // plugins built by the tests
	removeBuiltBinary()
	os.Exit(code)
}
