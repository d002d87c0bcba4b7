// Command tokenexec is the exec-per-fetch side of the plugin-fetch
// benchmark: started once per token, it prints the token as an AWS
// credential_process document and exits, the way AWS credential_process
// helpers and Kubernetes exec credential plugins work. It has the token
// logic of bench/internal/tokenprog (package tokenlogic) and nothing else,
// so its start-up is what such a helper's is.
package main

import (
	"encoding/json"
	"os"
	"time"

	"github.com/byokcred/byokcred/bench/internal/tokenlogic"
)

func main() {
	subject := "exec"
	if len(os.Args) > 1 {
		subject = os.Args[1]
	}
	value, exp := tokenlogic.Mint(subject, time.Now())
	out, err := json.Marshal(map[string]any{
		"Version":     1,
		"AccessToken": value,
		"Expiration":  exp.UTC().Format(time.RFC3339),
	})
	if err != nil {
		os.Exit(1)
	}
	os.Stdout.Write(append(out, '\n'))
}
