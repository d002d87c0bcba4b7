// Command testplugin is a deliberately misbehaving credential plugin for the
// host's fault tests. Process-level misbehaviour (before the handshake) is
// chosen by the env variable TESTPLUGIN_MODE, which also proves that the
// configured env reaches the plugin; call-level misbehaviour by the provider
// config key "behavior".
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/byokcred/byokcred/credential"
	"github.com/byokcred/byokcred/plugins/sdk"
	"github.com/byokcred/byokcred/plugins/shared"
)

var log = sdk.Logger("testplugin")

func main() {
	switch os.Getenv("TESTPLUGIN_MODE") {
	case "hang-start":
		// Never reach the handshake.
		time.Sleep(time.Hour)
	case "stdout-garbage":
		// A handshake line that is really a secret.
		fmt.Println(os.Getenv("TESTPLUGIN_CANARY"))
		time.Sleep(time.Hour)
	case "exit-start":
		fmt.Fprintln(os.Stderr, "testplugin: failing on purpose")
		os.Exit(3)
	}
	sdk.Serve(plugin{})
}

type plugin struct{}

func (plugin) Describe(context.Context) (shared.Info, error) {
	return shared.Info{Name: "testplugin", Version: "test"}, nil
}

func (plugin) Configure(_ context.Context, providerName string, config map[string]any) (credential.TokenSource, error) {
	c := sdk.NewConfig(config)
	s := &source{
		provider: providerName,
		behavior: c.String("behavior", "ok"),
		canary:   c.String("canary", ""),
		file:     c.String("file", ""),
		message:  c.String("message", ""),
		sleep:    c.Duration("sleep", time.Second),
	}
	if err := c.Err(); err != nil {
		return nil, fmt.Errorf("testplugin: %w", err)
	}
	return s, nil
}

type source struct {
	provider, behavior, canary, message, file string
	sleep                                     time.Duration
	n                                         atomic.Int64
}

func (s *source) Token(ctx context.Context) (*credential.Token, error) {
	n := s.n.Add(1)
	exp := time.Now().Add(time.Hour)
	value := fmt.Sprintf("tok-%s-%d-%d", s.provider, os.Getpid(), n)
	switch s.behavior {
	case "ok":
	case "hang":
		// Ignore ctx entirely, like a plugin stuck in a syscall.
		select {}
	case "crash":
		os.Exit(2)
	case "empty":
		value = ""
	case "badkind":
		return &credential.Token{Value: credential.NewSecret(value), Kind: 0}, nil
	case "expired":
		exp = time.Now().Add(-time.Minute)
	case "error":
		return nil, errors.New(s.message)
	case "env":
		var names []string
		for _, kv := range os.Environ() {
			k, _, _ := strings.Cut(kv, "=")
			names = append(names, k)
		}
		sort.Strings(names)
		value = strings.Join(names, ",")
	case "deadline":
		dl, ok := ctx.Deadline()
		if !ok {
			value = "deadline-none"
		} else {
			value = fmt.Sprintf("deadline-%d", time.Until(dl).Milliseconds())
		}
	case "slow":
		select {
		case <-time.After(s.sleep):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	case "canary":
		// Every way a careless plugin could leak the token it is about to
		// return: hclog to the real stderr, a raw write to fd 2, the
		// post-Serve os.Stderr (go-plugin's stdio stream) and stdout.
		log.Info("about to return the token", "token", s.canary, "pid", os.Getpid())
		log.Debug("leaking " + s.canary)
		_, _ = syscall.Write(2, []byte("raw stderr: "+s.canary+"\n"))
		fmt.Fprintln(os.Stderr, "os.Stderr:", s.canary)
		fmt.Println("stdout:", s.canary)
		// A JWT that is never returned: caught by its shape.
		log.Info("id token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ0ZXN0In0.c2lnbmF0dXJlLWNhbmFyeQ")
		log.Info("canary-marker: relay works")
		value = s.canary
	case "stderr-file":
		// A command that copies a secret file to stderr (`cat pw.txt
		// >&2`), names it, and writes an ordinary diagnostic, on every
		// stream a plugin has; the returned token is printed too.
		b, err := os.ReadFile(s.file)
		if err != nil {
			return nil, err
		}
		_, _ = syscall.Write(2, b)
		fmt.Fprintf(os.Stderr, "%s", b)
		log.Warn("read the password file", "path", s.file, "content", string(b))
		fmt.Fprintln(os.Stderr, "returning", s.canary, "id eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJzdGRlcnIifQ.c2lnLWNhbmFyeQ")
		fmt.Fprintln(os.Stderr, "permission denied: /etc/x")
		log.Info("stderr-marker: done")
		value = s.canary
	default:
		return nil, fmt.Errorf("testplugin: unknown behavior %q", s.behavior)
	}
	return &credential.Token{Value: credential.NewSecret(value), Kind: credential.KindBearer, Expiry: exp}, nil
}
