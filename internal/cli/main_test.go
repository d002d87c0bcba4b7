package cli

import (
	"flag"
	"os"
	"testing"

	"github.com/byokcred/byokcred/internal/testkit/plugintest"

	// Every built-in credential kind and secret store, as the stock
	// byokcred has them.
	_ "github.com/byokcred/byokcred/builtin"
)

func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	plugintest.Cleanup() // plugins built by the tests
	removeBuiltBinary()
	os.Exit(code)
}
