package cli

import (
	"flag"
	"os"
	"testing"

	"github.com/byokcred/byokcred/internal/plugintest"
)

func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	plugintest.Cleanup() // plugins built for the demo test
	removeBuiltBinary()
	os.Exit(code)
}
