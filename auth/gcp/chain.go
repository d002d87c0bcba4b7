package gcp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"cloud.google.com/go/auth/credentials"
	"cloud.google.com/go/compute/metadata"

	"github.com/byokcred/byokcred/registry"
)

// adcLink is one source of Application Default Credentials.
type adcLink struct {
	name string
	// file returns the credentials file the link reads, "" when it has
	// none to offer; nil for the metadata server.
	file func() string
	// absent says why the link does not apply, "" when it does.
	absent func(ctx context.Context) string
}

const (
	envCredentials  = "GOOGLE_APPLICATION_CREDENTIALS"
	envMetadataHost = "GCE_METADATA_HOST"
)

// adcChain is Application Default Credentials' search in
// cloud.google.com/go/auth's order (v0.24: GOOGLE_APPLICATION_CREDENTIALS,
// gcloud's well-known file, the metadata server). ADC takes the first
// source that is present and does not fall through when it fails. It is
// the one table the source (to name where its credential came from) and
// `doctor`'s walk are made from.
var adcChain = []adcLink{
	{
		name: envCredentials,
		file: func() string { return os.Getenv(envCredentials) },
		absent: func(context.Context) string {
			if os.Getenv(envCredentials) == "" {
				return envCredentials + " is not set"
			}
			return ""
		},
	},
	{
		name: "gcloud well-known file",
		file: wellKnownFile,
		absent: func(context.Context) string {
			if _, err := os.Stat(wellKnownFile()); err != nil {
				return "no file at " + wellKnownFile() + " (gcloud auth application-default login writes it)"
			}
			return ""
		},
	},
	{
		name: "metadata server",
		absent: func(context.Context) string {
			// As ADC does: GCE_METADATA_HOST says we are on Google Cloud,
			// else the SDK probes the metadata server (once per process).
			if !credentials.OnGCE() {
				return "not on Google Cloud: no metadata server answered at 169.254.169.254 (" + envMetadataHost + " is not set)"
			}
			return ""
		},
	},
}

// wellKnownFile is where `gcloud auth application-default login` writes
// its credentials (the SDK's rule).
func wellKnownFile() string {
	home := os.Getenv("HOME")
	if home == "" {
		home, _ = os.UserHomeDir()
	}
	return filepath.Join(home, ".config", "gcloud", "application_default_credentials.json")
}

// describe names the link with the file or host it uses.
func (l adcLink) describe() string {
	if l.file != nil {
		return l.name + " " + l.file()
	}
	host := os.Getenv(envMetadataHost)
	if host == "" {
		host = "169.254.169.254"
	}
	return l.name + " " + host
}

// firstPresent is the link ADC uses.
func firstPresent(ctx context.Context) (adcLink, bool) {
	for _, l := range adcChain {
		if l.absent(ctx) == "" {
			return l, true
		}
	}
	return adcLink{}, false
}

func readJSON(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if !json.Valid(b) {
		return nil, fmt.Errorf("%s is not JSON", path)
	}
	return b, nil
}

// try gets a token from the link alone.
func (l adcLink) try(ctx context.Context, scopes []string) error {
	if l.file == nil {
		// The metadata server's token endpoint, asked the way the SDK's
		// compute credential asks it.
		c := metadata.NewWithOptions(&metadata.Options{Logger: sdkLog})
		body, err := c.GetWithContext(ctx, "instance/service-accounts/default/token?scopes="+strings.Join(scopes, ","))
		if err != nil {
			return err
		}
		var tok struct {
			AccessToken string `json:"access_token"`
		}
		if json.Unmarshal([]byte(body), &tok) != nil || tok.AccessToken == "" {
			return errors.New("the metadata server answered without an access token")
		}
		return nil
	}
	b, err := readJSON(l.file())
	if err != nil {
		return err
	}
	creds, err := credentials.DetectDefault(&credentials.DetectOptions{Scopes: scopes, CredentialsJSON: b, DisableAsyncRefresh: true, Logger: sdkLog})
	if err != nil {
		return err
	}
	_, err = creds.Token(ctx)
	return err
}

// Diagnose implements registry.Diagnoser when the credential comes from
// Application Default Credentials' search (no credentials_file): it tries
// each source on its own, in ADC's order, and says which one answers and
// why each other one did not — the question an operator has when ADC picks
// the wrong identity or none.
func (a *Auth) Diagnose(ctx context.Context) []registry.ChainLink {
	if a.CredentialsFile != "" {
		return nil
	}
	var out []registry.ChainLink
	used := ""
	for _, l := range adcChain {
		link := registry.ChainLink{Name: l.name}
		if why := l.absent(ctx); why != "" {
			link.Err = why
			out = append(out, link)
			continue
		}
		lctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		err := l.try(lctx, a.scopes())
		cancel()
		switch {
		case used != "" && err == nil:
			link.Err = "answers, but ADC stops at " + used
		case used != "":
			link.Err = registry.FirstLine(err.Error()) + " (not consulted: ADC stops at " + used + ")"
		case err != nil:
			link.Err = registry.FirstLine(err.Error()) + " (ADC stops here and fails)"
		default:
			link.Answered = true
		}
		if used == "" {
			used = l.name
		}
		out = append(out, link)
	}
	return out
}
