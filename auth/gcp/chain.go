package gcp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"cloud.google.com/go/auth/credentials"
	"cloud.google.com/go/compute/metadata"

	"github.com/byokcred/byokcred/kind"
	"github.com/byokcred/byokcred/secretfile"
)

// adcLink is one source of Application Default Credentials.
type adcLink struct {
	name string
	// file returns the credentials file the link reads, "" when it has
	// none to offer; nil for the metadata server.
	file func() string
	// fix says what to do about a file that cannot be used.
	fix string
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
		fix:  "point " + envCredentials + " at a credentials JSON file, or unset it",
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
		fix:  "replace it (gcloud auth application-default login writes it) or remove it",
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

// newMetadataClient is the metadata server's client, carried by client
// when the program gave one (nil: the metadata package's own).
func newMetadataClient(client *http.Client) *metadata.Client {
	return metadata.NewWithOptions(&metadata.Options{Client: client, Logger: sdkLog})
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

// maxCredentialsJSON caps a credentials JSON file, as secretfile does
// credentials_file: a service-account key is ~2.4 KiB, an external_account
// or impersonation config well under that.
const maxCredentialsJSON = secretfile.MaxSize

// readJSON reads a credentials JSON file under secretfile's rules but the
// owner-only mode (the files ADC finds are gcloud's and the user's, not
// byokcred's config): the SDK would read a FIFO, /dev/zero or a 300 MB file
// whole, blocking.
func readJSON(path string) ([]byte, error) {
	b, err := secretfile.ReadLimited(path, maxCredentialsJSON)
	if err != nil {
		return nil, errors.New(secretfile.Reason(err))
	}
	if !json.Valid(b) {
		return nil, fmt.Errorf("%s is not JSON", path)
	}
	return b, nil
}

// read reads the link's file, with an error naming it, what pointed at it
// and what to do.
func (l adcLink) read() ([]byte, error) {
	label := l.describe()
	if l.name == envCredentials {
		label = envCredentials + "=" + l.file()
	}
	b, err := readJSON(l.file())
	if err != nil {
		return nil, fmt.Errorf("%s: %w; %s", label, err, l.fix)
	}
	return b, nil
}

// try gets a token from the link alone.
func (l adcLink) try(ctx context.Context, scopes []string, client *http.Client) error {
	if l.file == nil {
		// The metadata server's token endpoint, asked the way the SDK's
		// compute credential asks it.
		c := newMetadataClient(client)
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
		return fmt.Errorf("%w; %s", err, l.fix)
	}
	if err := checkReferencedFiles(b); err != nil {
		return err
	}
	creds, err := fileCredentials(b, &credentials.DetectOptions{Scopes: scopes, DisableAsyncRefresh: true, Logger: sdkLog, Client: client})
	if err != nil {
		return err
	}
	_, err = creds.Token(ctx)
	return err
}

// Diagnose implements kind.Diagnoser when the credential comes from
// Application Default Credentials' search (no credentials_file): it tries
// each source on its own, in ADC's order, and says which one answers and
// why each other one did not — the question an operator has when ADC picks
// the wrong identity or none.
func (a *Auth) Diagnose(ctx context.Context) []kind.ChainLink {
	if a.CredentialsFile != "" {
		return nil
	}
	var out []kind.ChainLink
	used := ""
	for _, l := range adcChain {
		link := kind.ChainLink{Name: l.name}
		if why := l.absent(ctx); why != "" {
			link.Err = why
			out = append(out, link)
			continue
		}
		lctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		err := l.try(lctx, a.scopes(), a.client)
		cancel()
		switch {
		case used != "" && err == nil:
			link.Err = "answers, but ADC stops at " + used
		case used != "":
			link.Err = kind.FirstLine(err.Error()) + " (not consulted: ADC stops at " + used + ")"
		case err != nil:
			link.Err = kind.FirstLine(err.Error()) + " (ADC stops here and fails)"
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
