package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
)

// mintTokenArg makes this program the demo plugin leg's token command.
const mintTokenArg = "mint-token"

// mintLifetime is how long the plugin leg's tokens live.
const mintLifetime = 6 * time.Second

// mintToken prints a Kubernetes ExecCredential (what kubelogin or an EKS
// token command prints) with a token that lives mintLifetime, counting the
// tokens minted in counterFile so that each one differs.
func mintToken(w io.Writer, counterFile string, now time.Time) error {
	n := 0
	if b, err := os.ReadFile(counterFile); err == nil {
		n, _ = strconv.Atoi(strings.TrimSpace(string(b)))
	}
	n++
	if err := os.WriteFile(counterFile, []byte(strconv.Itoa(n)), 0o600); err != nil {
		return err
	}
	type status struct {
		Token               string `json:"token"`
		ExpirationTimestamp string `json:"expirationTimestamp"`
	}
	return json.NewEncoder(w).Encode(struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Status     status `json:"status"`
	}{"client.authentication.k8s.io/v1", "ExecCredential", status{
		Token:               fmt.Sprintf("demo-plugin-token-%d-%s", n, randomHex(8)),
		ExpirationTimestamp: now.Add(mintLifetime).UTC().Format(time.RFC3339),
	}})
}
