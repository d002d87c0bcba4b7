package aws

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"strings"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/endpointcreds"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"

	"github.com/byokcred/byokcred/secretfile"
)

// The SDK reads every file it is pointed at whole, and opens it blocking:
// AWS_CONFIG_FILE=/dev/zero ran the process out of memory, a FIFO hung it
// past SIGTERM. Each file the SDK would read is checked here first under
// secretfile's rules (a regular file, opened without blocking, capped) and,
// where the SDK takes a path, it is handed a copy of what was read.
const (
	// maxSharedFile caps a shared config or credentials file (and a CA
	// bundle). These hold many profiles: a config generated for a large
	// organisation (aws-sso-util, granted: an account × role profile of
	// ~250 bytes each for thousands of pairs) reaches one or two MiB, and a
	// CA bundle (Mozilla's is ~220 KiB) less; 4 MiB leaves room and still
	// bounds what a wrong path (a log, a disk image, /dev/zero) costs.
	maxSharedFile = 4 << 20
	// maxTokenFile caps a web-identity or container authorization token
	// file: a JWT or bearer token of a few KiB, as secretfile.MaxSize caps
	// byokcred's own credential files.
	maxTokenFile = secretfile.MaxSize

	envConfigFile      = "AWS_CONFIG_FILE"
	envCredentialsFile = "AWS_SHARED_CREDENTIALS_FILE"
	envWebIdentity     = "AWS_WEB_IDENTITY_TOKEN_FILE"
	envContainerToken  = "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"
	envCABundle        = "AWS_CA_BUNDLE"
)

// fileRef is a file the SDK would read and what pointed at it.
type fileRef struct {
	path string
	// what the file is: "shared config file", …
	what string
	// variable is the environment variable that selects the file;
	// fromEnv says whether it did (else path is the SDK's default).
	variable string
	fromEnv  bool
	// key is the shared config key that named the file instead, if any.
	key string
}

// problem is err, from checking or reading r, as an error that names the
// file, what pointed at it, and what to do (without a package prefix: it
// is a config problem in validate, a link's reason in doctor).
func (r fileRef) problem(err error, max int64) error {
	why := secretfile.Reason(err)
	limit := fmt.Sprintf("a regular file of at most %d KiB", max>>10)
	if max%(1<<20) == 0 {
		limit = fmt.Sprintf("a regular file of at most %d MiB", max>>20)
	}
	switch {
	case r.key != "":
		return fmt.Errorf("the %s %s (%s in the shared config): %s; point %s at %s", r.what, r.path, r.key, why, r.key, limit)
	case r.fromEnv:
		return fmt.Errorf("the %s %s=%s: %s; point %s at %s, or unset it", r.what, r.variable, r.path, why, r.variable, limit)
	}
	return fmt.Errorf("the %s %s (%s is not set): %s; replace it with %s, or set %s to one", r.what, r.path, r.variable, why, limit, r.variable)
}

// read reads r under the rules, nil for a file that does not exist.
func (r fileRef) read(max int64) ([]byte, error) {
	b, err := secretfile.ReadLimited(r.path, max)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, r.problem(err, max)
	}
	return b, nil
}

// sharedFileRefs returns the shared config and credentials files the SDK
// reads, as their environment variables (looked up through lookup) select
// them.
func sharedFileRefs(lookup func(string) (string, bool)) (configFile, credFile fileRef) {
	configFile = fileRef{path: awsconfig.DefaultSharedConfigFilename(), what: "shared config file", variable: envConfigFile}
	credFile = fileRef{path: awsconfig.DefaultSharedCredentialsFilename(), what: "shared credentials file", variable: envCredentialsFile}
	for _, r := range []*fileRef{&configFile, &credFile} {
		if v, ok := lookup(r.variable); ok && v != "" {
			r.path, r.fromEnv = v, true
		}
	}
	return configFile, credFile
}

// sharedFiles is what the SDK is pointed at instead of the shared config
// and credentials files: in-memory copies of their checked contents
// (Linux), or the checked paths themselves (elsewhere, where a file swapped
// between check and read is not caught). A file that does not exist is
// left out, as the SDK skips it.
type sharedFiles struct {
	config, creds []string
	// refs are the files in the order [config, creds].
	refs []fileRef
	// original maps a copy's path to its file's.
	original map[string]string
	closers  []io.Closer
}

// openSharedFiles checks and copies the shared files lookup selects.
func openSharedFiles(lookup func(string) (string, bool)) (*sharedFiles, error) {
	cfg, cred := sharedFileRefs(lookup)
	s := &sharedFiles{refs: []fileRef{cfg, cred}, original: map[string]string{}}
	for i, r := range s.refs {
		b, err := secretfile.ReadLimited(r.path, maxSharedFile)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			// A file that cannot be opened (permission denied) the
			// SDK treats as empty, and so does this by leaving it out;
			// only a file that opened and broke a rule is an error.
			if _, ok := errors.AsType[*fs.PathError](err); ok {
				continue
			}
			s.Close()
			return nil, r.problem(err, maxSharedFile)
		}
		path, c, err := memCopy(r.what, b)
		if err != nil {
			path = r.path // no copy: the SDK reads the checked file
		} else {
			s.closers = append(s.closers, c)
			s.original[path] = r.path
		}
		if i == 0 {
			s.config = append(s.config, path)
		} else {
			s.creds = append(s.creds, path)
		}
	}
	return s, nil
}

// Close releases the copies.
func (s *sharedFiles) Close() {
	for _, c := range s.closers {
		c.Close()
	}
	s.closers = nil
}

// sharedOptions points LoadSharedConfigProfile at the copies. Empty lists
// are kept empty (not nil), so that the SDK does not fall back to ~/.aws.
func (s *sharedFiles) sharedOptions(o *awsconfig.LoadSharedConfigOptions) {
	o.ConfigFiles, o.CredentialsFiles = nonNil(s.config), nonNil(s.creds)
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// names are the original files, for an error that lists where a profile
// was looked for.
func (s *sharedFiles) names() string {
	return s.refs[0].path + " or " + s.refs[1].path
}

// rename replaces the copies' paths in an SDK error's text with the files'.
func (s *sharedFiles) rename(err error) error {
	if err == nil || len(s.original) == 0 {
		return err
	}
	msg := err.Error()
	for copyPath, path := range s.original {
		msg = strings.ReplaceAll(msg, copyPath, path)
	}
	if msg == err.Error() {
		return err
	}
	return errors.New(msg)
}

// loadDefaultConfig is awsconfig.LoadDefaultConfig with every file it reads
// checked first: the shared files (handed over as copies), the CA bundle
// (handed over as bytes), and the web identity and container
// authorization token files, which the SDK reads at each credential fetch
// (their readers replaced by ones under the rules).
//
// client, when the program gave one (registry.Options.HTTPClient), carries
// the SDK's requests. Its TLS settings are then the trust: a CA bundle
// (AWS_CA_BUNDLE, a profile's ca_bundle) is refused with it, since the SDK
// can add one only to a client it built.
func loadDefaultConfig(ctx context.Context, profile string, client *http.Client, opts ...func(*awsconfig.LoadOptions) error) (awssdk.Config, error) {
	files, err := openSharedFiles(os.LookupEnv)
	if err != nil {
		return awssdk.Config{}, err
	}
	defer files.Close()
	opts = append(opts,
		awsconfig.WithSharedConfigFiles(nonNil(files.config)),
		awsconfig.WithSharedCredentialsFiles(nonNil(files.creds)),
		awsconfig.WithWebIdentityRoleCredentialOptions(func(o *stscreds.WebIdentityRoleOptions) {
			if f, ok := o.TokenRetriever.(stscreds.IdentityTokenFile); ok {
				o.TokenRetriever = webIdentityTokenFile(f)
			}
		}),
		awsconfig.WithEndpointCredentialOptions(func(o *endpointcreds.Options) {
			// The SDK gives container credentials a client of their own,
			// not the config's.
			if client != nil {
				o.HTTPClient = client
			}
			if path := os.Getenv(envContainerToken); path != "" {
				o.AuthorizationTokenProvider = endpointcreds.TokenProviderFunc(func() (string, error) {
					b, err := containerTokenFile(path).read(maxTokenFile)
					if b == nil && err == nil {
						err = fmt.Errorf("%s=%s does not exist; point it at the token file your platform mounts, or unset it", envContainerToken, path)
					}
					if err != nil {
						return "", fmt.Errorf("aws: %w", err)
					}
					return string(b), nil
				})
			}
		}),
	)
	ca, err := files.caBundle(ctx, profile)
	if err != nil {
		return awssdk.Config{}, err
	}
	switch {
	case ca != nil && client != nil:
		return awssdk.Config{}, errors.New("a CA bundle (AWS_CA_BUNDLE or the profile's ca_bundle) is set, and the program gives its own HTTP client (registry.Options.HTTPClient), which the SDK cannot add it to: trust the CA in that client's TLS config and unset the bundle")
	case ca != nil:
		opts = append(opts, awsconfig.WithCustomCABundle(bytes.NewReader(ca)))
	case client != nil:
		opts = append(opts, awsconfig.WithHTTPClient(client))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	return cfg, files.rename(err)
}

func containerTokenFile(path string) fileRef {
	return fileRef{path: path, what: "container authorization token file", variable: envContainerToken, fromEnv: true}
}

// caBundle reads the CA bundle the SDK would use — AWS_CA_BUNDLE, else the
// profile's ca_bundle — under the rules; nil when there is none.
func (s *sharedFiles) caBundle(ctx context.Context, profile string) ([]byte, error) {
	if path := os.Getenv(envCABundle); path != "" {
		return caRef(fileRef{path: path, variable: envCABundle, fromEnv: true})
	}
	if profile == "" {
		profile = os.Getenv("AWS_PROFILE")
	}
	if profile == "" {
		profile = os.Getenv("AWS_DEFAULT_PROFILE")
	}
	if profile == "" {
		profile = "default"
	}
	// A profile that is missing or malformed is the SDK's to report.
	sc, err := awsconfig.LoadSharedConfigProfile(ctx, profile, s.sharedOptions)
	if err != nil || sc.CustomCABundle == "" {
		return nil, nil
	}
	return caRef(fileRef{path: sc.CustomCABundle, key: "ca_bundle"})
}

func caRef(r fileRef) ([]byte, error) {
	r.what = "CA bundle"
	b, err := r.read(maxSharedFile)
	if err == nil && b == nil {
		// Missing: as the SDK, fail (it would not silently trust the
		// system roots instead).
		_, err = os.Stat(r.path)
		return nil, r.problem(err, maxSharedFile)
	}
	return b, err
}

// webIdentityTokenFile reads a web identity token file (from
// AWS_WEB_IDENTITY_TOKEN_FILE or a profile's web_identity_token_file) under
// the rules, at each fetch as the SDK's reader does.
type webIdentityTokenFile string

// GetIdentityToken implements stscreds.IdentityTokenRetriever.
func (f webIdentityTokenFile) GetIdentityToken() ([]byte, error) {
	r := fileRef{path: string(f), what: "web identity token file", key: "web_identity_token_file"}
	if os.Getenv(envWebIdentity) == string(f) {
		r.key, r.variable, r.fromEnv = "", envWebIdentity, true
	}
	b, err := secretfile.ReadLimited(r.path, maxTokenFile)
	if err != nil {
		return nil, fmt.Errorf("aws: %w", r.problem(err, maxTokenFile))
	}
	return b, nil
}
