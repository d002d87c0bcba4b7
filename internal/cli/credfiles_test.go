package cli

import (
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/byokcred/byokcred/internal/testkit/fakeaws"
)

// hangBound fails a command that has not returned by then: a blocking open
// of a FIFO never returns. It is a "does not hang" deadline, not a speed
// assertion.
const hangBound = 10 * time.Second

// runBounded is run with hangBound.
func runBounded(t *testing.T, env map[string]string, args ...string) result {
	t.Helper()
	done := make(chan result, 1)
	go func() { done <- run(t, env, args...) }()
	select {
	case r := <-done:
		return r
	case <-time.After(hangBound):
		t.Fatalf("%v did not return within %s (a blocking read of a credential file?)", args, hangBound)
		return result{}
	}
}

// closedAddr is a loopback address nothing listens on: a credential
// endpoint that refuses at once.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// badFile is a file no credential file can be.
type badFile struct {
	name string
	// make creates the file at path, or returns its own path when path
	// is "" (a device is only ever linked to).
	make func(t *testing.T, path string) string
	// says is what the error says about it after its path.
	says string
}

var badFiles = []badFile{
	{"/dev/zero", func(t *testing.T, path string) string {
		if path == "" {
			return "/dev/zero"
		}
		return symlink(t, path, "/dev/zero")
	}, "is a character device, not a regular file"},
	{"symlink to /dev/zero", func(t *testing.T, path string) string {
		return symlink(t, orTemp(t, path), "/dev/zero")
	}, "is a character device, not a regular file"},
	{"FIFO", func(t *testing.T, path string) string {
		path = orTemp(t, path)
		if err := syscall.Mkfifo(path, 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}, "is a FIFO, not a regular file"},
	{"directory", func(t *testing.T, path string) string {
		path = orTemp(t, path)
		if err := os.Mkdir(path, 0o700); err != nil {
			t.Fatal(err)
		}
		return path
	}, "is a directory, not a regular file"},
	{"8 MiB file", func(t *testing.T, path string) string {
		// Sparse: larger than every cap without using the disk.
		path = orTemp(t, path)
		if err := os.WriteFile(path, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Truncate(path, 8<<20); err != nil {
			t.Fatal(err)
		}
		return path
	}, "is 8388608 bytes; at most"},
}

func orTemp(t *testing.T, path string) string {
	if path == "" {
		return filepath.Join(t.TempDir(), "bad")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	return path
}

func symlink(t *testing.T, path, target string) string {
	t.Helper()
	if err := os.Symlink(target, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestCredentialFilesAreChecked: every file the AWS and Google SDKs would
// read for byokcred — named by a variable, a default path or a key inside
// another credential file — is refused with an error naming it and what
// pointed at it when it is /dev/zero (the SDK read it until the process
// died of OOM), a FIFO (the read blocked past SIGTERM), a directory or too
// large, in validate, token and doctor alike.
func TestCredentialFilesAreChecked(t *testing.T) {
	type target struct {
		name string
		// path is where the bad file goes ("" for a path of its own); set
		// points the SDK at the file and returns the text that names it
		// and what pointed at it.
		path     func(home string) string
		set      func(t *testing.T, env map[string]string, path string) (names string)
		auth     string
		commands [][]string
	}
	setVar := func(name string) func(t *testing.T, env map[string]string, path string) string {
		return func(t *testing.T, env map[string]string, path string) string {
			t.Setenv(name, path)
			env[name] = path
			return name + "=" + path
		}
	}
	unset := func(t *testing.T, name string) {
		t.Setenv(name, "")
		os.Unsetenv(name) // t.Setenv restores it after the test
	}
	const (
		awsProfile = "{type: aws, region: us-east-1, profile: dev}"
		awsChain   = "{type: aws, region: us-east-1}"
		gcpADC     = "{type: gcp}"
	)
	validate, token, doctor := []string{"validate"}, []string{"token", "p"}, []string{"doctor", "p"}
	targets := []target{
		{name: "AWS_CONFIG_FILE", set: setVar("AWS_CONFIG_FILE"), auth: awsProfile, commands: [][]string{validate, token, doctor}},
		{name: "AWS_CONFIG_FILE, default chain", set: setVar("AWS_CONFIG_FILE"), auth: awsChain, commands: [][]string{token, doctor}},
		{name: "AWS_SHARED_CREDENTIALS_FILE", set: setVar("AWS_SHARED_CREDENTIALS_FILE"), auth: awsProfile, commands: [][]string{validate, token, doctor}},
		{name: "AWS_SHARED_CREDENTIALS_FILE, default chain", set: setVar("AWS_SHARED_CREDENTIALS_FILE"), auth: awsChain, commands: [][]string{token, doctor}},
		{
			name: "~/.aws/config",
			path: func(home string) string { return filepath.Join(home, ".aws", "config") },
			set: func(t *testing.T, env map[string]string, path string) string {
				unset(t, "AWS_CONFIG_FILE")
				return "shared config file " + path + " (AWS_CONFIG_FILE is not set)"
			},
			auth: awsProfile, commands: [][]string{validate, token, doctor},
		},
		{
			name: "~/.aws/credentials",
			path: func(home string) string { return filepath.Join(home, ".aws", "credentials") },
			set: func(t *testing.T, env map[string]string, path string) string {
				unset(t, "AWS_SHARED_CREDENTIALS_FILE")
				return "shared credentials file " + path + " (AWS_SHARED_CREDENTIALS_FILE is not set)"
			},
			auth: awsChain, commands: [][]string{token, doctor},
		},
		{
			name: "AWS_WEB_IDENTITY_TOKEN_FILE",
			set: func(t *testing.T, env map[string]string, path string) string {
				t.Setenv("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/bedrock")
				t.Setenv("AWS_ENDPOINT_URL_STS", "http://"+closedAddr(t))
				return setVar("AWS_WEB_IDENTITY_TOKEN_FILE")(t, env, path)
			},
			auth: awsChain, commands: [][]string{token, doctor},
		},
		{
			name: "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
			set: func(t *testing.T, env map[string]string, path string) string {
				t.Setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://"+closedAddr(t)+"/creds")
				return setVar("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")(t, env, path)
			},
			auth: awsChain, commands: [][]string{token, doctor},
		},
		{name: "AWS_CA_BUNDLE", set: setVar("AWS_CA_BUNDLE"), auth: awsChain, commands: [][]string{token, doctor}},
		{
			name: "ca_bundle in the shared config",
			set: func(t *testing.T, env map[string]string, path string) string {
				cfg := writeFile(t, "config", "[default]\nca_bundle = "+path+"\n")
				t.Setenv("AWS_CONFIG_FILE", cfg)
				return "CA bundle " + path + " (ca_bundle in the shared config)"
			},
			auth: awsChain, commands: [][]string{token, doctor},
		},
		{name: "GOOGLE_APPLICATION_CREDENTIALS", set: setVar("GOOGLE_APPLICATION_CREDENTIALS"), auth: gcpADC, commands: [][]string{token, doctor}},
		{
			name: "gcloud well-known file",
			path: func(home string) string {
				return filepath.Join(home, ".config", "gcloud", "application_default_credentials.json")
			},
			set: func(t *testing.T, env map[string]string, path string) string {
				return "gcloud well-known file " + path
			},
			auth: gcpADC, commands: [][]string{token, doctor},
		},
		{
			name: "credential_source.file of an external_account",
			set: func(t *testing.T, env map[string]string, path string) string {
				ext := writeFile(t, "ext.json", `{"type":"external_account","audience":"//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/q",
"subject_token_type":"urn:ietf:params:oauth:token-type:jwt","token_url":"http://`+closedAddr(t)+`/v1/token","credential_source":{"file":"`+path+`"}}`)
				t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", ext)
				return "credential_source.file " + path
			},
			auth: gcpADC, commands: [][]string{token, doctor},
		},
	}
	// A metadata server that says at once "not here": a closed port made
	// the Google SDK's metadata client retry for seconds in each doctor.
	noMetadata := httptest.NewServer(http.NotFoundHandler())
	defer noMetadata.Close()
	for _, tg := range targets {
		for _, bad := range badFiles {
			if tg.path != nil && bad.name == "/dev/zero" {
				continue // a fixed path can only link to it: the symlink case
			}
			for _, command := range tg.commands {
				t.Run(tg.name+"/"+bad.name+"/"+command[0], func(t *testing.T) {
					home := t.TempDir()
					t.Setenv("HOME", home)
					fakeaws.Isolate(t)
					unset(t, "AWS_CA_BUNDLE")
					t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", "")
					t.Setenv("GCE_METADATA_HOST", noMetadata.Listener.Addr().String())
					at := ""
					if tg.path != nil {
						at = tg.path(home)
					}
					path := bad.make(t, at)
					env := map[string]string{}
					names := tg.set(t, env, path)
					cfg := writeFile(t, "byokcred.yaml", "providers:\n  p:\n    type: openai\n    base_url: https://llm.example/v1\n    model: m\n    auth: "+tg.auth+"\n")
					r := runBounded(t, env, append([]string{"-c", cfg}, command...)...)
					out := r.stdout + r.stderr
					type outcome struct {
						Code int
						// NamesFile: the error names the file, what
						// pointed at it and what is wrong with it.
						NamesFile bool
						Crashed   bool
					}
					want := outcome{Code: ExitFailure, NamesFile: true}
					if tg.auth == awsProfile {
						// Loading checks the profile: a config problem
						// in every command.
						want.Code = ExitUsage
					}
					got := outcome{
						Code:      r.code,
						NamesFile: strings.Contains(out, names+": "+path+" "+bad.says),
						Crashed:   strings.Contains(out, "goroutine ") || strings.Contains(out, "fatal error"),
					}
					if diff := cmp.Diff(want, got); diff != "" {
						t.Errorf("(-want +got):\n%s\nwant the output to hold %q:\n%s", diff, names+": "+path+" "+bad.says, out)
					}
				})
			}
		}
	}
}

// TestValidateOfflineReadsNoCredentialFiles: validate --offline checks the
// config's structure only; with every machine credential file a FIFO (which
// blocked the profile check before) it returns at once and passes.
func TestValidateOfflineReadsNoCredentialFiles(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("HOME", dir)
	fakeaws.Isolate(t)
	env := map[string]string{}
	for _, k := range []string{"AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CA_BUNDLE", "GOOGLE_APPLICATION_CREDENTIALS"} {
		t.Setenv(k, fifo)
		env[k] = fifo
	}
	cfg := writeFile(t, "byokcred.yaml", `providers:
  bedrock:
    type: openai
    base_url: https://bedrock-runtime.us-east-1.amazonaws.com/openai/v1
    model: m
    auth: {type: aws, region: us-east-1, profile: dev}
  vertex:
    type: openai
    base_url: https://llm.example/v1
    model: m
    auth: {type: gcp, credentials_file: `+fifo+`}
  adc:
    type: openai
    base_url: https://llm.example/v1
    model: m
    auth: {type: gcp}
`)
	got := runBounded(t, env, "validate", "--offline", "-c", cfg)
	want := result{ExitOK, cfg + ": OK (3 providers: adc, bedrock, vertex, offline: environment not checked)\n", ""}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(result{})); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
