package kindtest_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/byokcred/byokcred/credential"
	"github.com/byokcred/byokcred/kind"
	"github.com/byokcred/byokcred/kindtest"
)

const (
	clientSecret = "CANARY-kindtest-client-secret-5d1e"
	issuedToken  = "CANARY-kindtest-token-a83f20"
)

// flaw is what a test kind does wrong (none: a well-behaved kind).
type flaw string

const (
	none          flaw = ""
	leaksSecret   flaw = "leaks" // logs its secret and puts it in its errors and its String
	ignoresCtx    flaw = "deaf"  // waits for its answer whatever its context says
	races         flaw = "racy"  // not safe for concurrent Token calls
	validateIO    flaw = "nosy"  // fetches in Validate
	envInValidate flaw = "envy"  // refuses an unset variable as a problem of the file
	sourceIO      flaw = "eager" // fetches a token in Source
	laxOptions    flaw = "lax"   // takes unknown keys in its options block
	readsHome     flaw = "homey" // reads ~/.aws/credentials in Validate, as an SDK's default chain does
)

var kinds = []flaw{none, leaksSecret, ignoresCtx, races, validateIO, envInValidate, sourceIO, laxOptions, readsHome}

func init() {
	for _, f := range kinds {
		kind.Register(kindName(f), func() kind.AuthConfig { return &auth{flaw: f} })
	}
}

func kindName(f flaw) string {
	if f == none {
		return "kindtest-good"
	}
	return "kindtest-" + string(f)
}

// auth is a small gateway kind: a token from a POST to url, with the
// secret named by secret_env.
type auth struct {
	URL       string `yaml:"url"`
	SecretEnv string `yaml:"secret_env"`
	// Options is a nested block of free form, whose keys the kind checks
	// itself (only "audience"); the lax kind does not.
	Options map[string]any `yaml:"options"`
	flaw    flaw
}

func (a *auth) Validate(b *kind.Build) {
	if a.URL == "" {
		b.Errorf("", `missing key "url"`)
	}
	if a.SecretEnv == "" {
		b.Errorf("", `missing key "secret_env"`)
	} else if v, ok := b.LookupEnv(a.SecretEnv); !ok || v == "" {
		if a.flaw == envInValidate {
			b.Errorf("secret_env", "environment variable %s is not set", a.SecretEnv)
		} else {
			b.EnvErrorf("secret_env", "environment variable %s is not set", a.SecretEnv)
		}
	}
	if a.flaw != laxOptions {
		for k := range a.Options {
			if k != "audience" {
				b.Errorf("options."+k, "unknown key %q", k)
			}
		}
	}
	if a.flaw == readsHome {
		if home, err := os.UserHomeDir(); err == nil {
			os.ReadFile(filepath.Join(home, ".aws", "credentials"))
		}
	}
	if a.flaw == validateIO && b.HTTPClient != nil {
		if resp, err := b.HTTPClient.Get(a.URL); err == nil {
			resp.Body.Close()
		}
	}
}

func (a *auth) Source(b *kind.Build) (kind.Result, error) {
	secret, _ := b.LookupEnv(a.SecretEnv)
	s := &source{url: a.URL, secret: credential.NewSecret(secret), client: b.HTTPClient, flaw: a.flaw, logger: b.Logger, inside: make(chan struct{})}
	if a.flaw == sourceIO {
		s.Token(context.Background())
	}
	return kind.Result{Source: s}, nil
}

type source struct {
	url    string
	secret credential.Secret
	client *http.Client
	flaw   flaw
	logger interface{ Info(string, ...any) }

	calls  atomic.Int32
	once   sync.Once
	inside chan struct{}
}

func (s *source) String() string {
	if s.flaw == leaksSecret {
		return "source with " + s.secret.Reveal()
	}
	return "source for " + s.url
}

func (s *source) Token(ctx context.Context) (*credential.Token, error) {
	if s.flaw == leaksSecret {
		s.logger.Info("fetching", "secret", s.secret.Reveal())
	}
	if s.flaw == races {
		// Unsafe for concurrent use, as a kind that keeps its request
		// state in the source is: a second call that overlaps the first
		// finds the state taken. (The state is an atomic so that the race
		// detector does not end the kit's own test.)
		n := s.calls.Add(1)
		defer s.calls.Add(-1)
		if n > 1 {
			s.once.Do(func() { close(s.inside) })
			return nil, errors.New("kindtest-racy: request state overwritten by another call")
		}
		// Wait a little for an overlapping call: the kit releases its
		// concurrent calls together, so one comes.
		select {
		case <-s.inside:
		case <-time.After(100 * time.Millisecond):
		case <-ctx.Done():
		}
	}
	reqCtx := ctx
	if s.flaw == ignoresCtx {
		reqCtx = context.Background()
	}
	req, err := http.NewRequestWithContext(reqCtx, http.MethodPost, s.url, strings.NewReader("secret="+s.secret.Reveal()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := s.client.Do(req)
	if err != nil {
		if s.flaw == leaksSecret {
			return nil, fmt.Errorf("kindtest-leaks: with secret %s: %w", s.secret.Reveal(), err)
		}
		return nil, fmt.Errorf("%s: %w", kindName(s.flaw), err)
	}
	defer resp.Body.Close()
	var t struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&t); err != nil {
		return nil, fmt.Errorf("%s: %s answered no token", kindName(s.flaw), s.url)
	}
	return &credential.Token{Value: credential.NewSecret(t.AccessToken), Kind: credential.KindBearer, Expiry: time.Now().Add(time.Hour)}, nil
}

// recorder is a testing.TB that records failures instead of failing, as
// testing/fstest's own tests do, so that a broken kind's failures can be
// asserted.
type recorder struct {
	testing.TB
	mu   sync.Mutex
	errs []string
}

func (r *recorder) Helper() {}

func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

func (r *recorder) Error(args ...any) { r.Errorf("%s", fmt.Sprint(args...)) }

func (r *recorder) Fatalf(format string, args ...any) {
	r.Errorf(format, args...)
	runtime.Goexit()
}

func (r *recorder) Fatal(args ...any) { r.Fatalf("%s", fmt.Sprint(args...)) }

func (r *recorder) Fail()    { r.Errorf("Fail") }
func (r *recorder) FailNow() { r.Fatalf("FailNow") }

func (r *recorder) Failed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.errs) > 0
}

var failure = regexp.MustCompile(`^kindtest: [^:]+: ([^:]+): `)

// checks returns the names of the checks that failed, sorted, once each.
func (r *recorder) checks() []string {
	var out []string
	for _, e := range r.errs {
		m := failure.FindStringSubmatch(e)
		if m == nil {
			out = append(out, e)
			continue
		}
		if !slices.Contains(out, m[1]) {
			out = append(out, m[1])
		}
	}
	slices.Sort(out)
	return out
}

// TestRun: a well-behaved kind passes, and each broken kind fails the
// check of the promise it breaks — and no message of the kit's shows the
// secrets it caught.
func TestRun(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.FormValue("secret") != clientSecret {
			http.Error(w, "bad secret", http.StatusUnauthorized)
			return
		}
		w.Write([]byte(`{"access_token":"` + issuedToken + `"}`))
	}))
	defer srv.Close()
	tests := []struct {
		flaw flaw
		want []string
	}{
		{none, nil},
		{leaksSecret, []string{"no secret in output"}},
		{ignoresCtx, []string{"ctx cancellation is honoured"}},
		{races, []string{"concurrent Token calls are safe"}},
		{validateIO, []string{"validation does no I/O"}},
		{envInValidate, []string{"validation does no I/O"}},
		{sourceIO, []string{"validation does no I/O"}},
		{laxOptions, []string{"unknown keys are refused with positions"}},
		{readsHome, []string{"validation does no I/O"}},
	}
	for _, tc := range tests {
		t.Run(kindName(tc.flaw), func(t *testing.T) {
			r := &recorder{TB: t}
			done := make(chan struct{})
			go func() {
				defer close(done)
				kindtest.Run(r, kindtest.Kind{
					Type:       kindName(tc.flaw),
					Valid:      "url: " + srv.URL + "/token\nsecret_env: KINDTEST_SECRET\noptions:\n  audience: a",
					Invalid:    []string{"url: " + srv.URL + "/token\nsecret_env: ''\nhint: " + clientSecret},
					Env:        map[string]string{"KINDTEST_SECRET": clientSecret},
					HTTPClient: srv.Client(),
					Secrets:    []string{clientSecret, issuedToken},
					// Short: the kind that ignores its context never returns.
					Patience: 500 * time.Millisecond,
				})
			}()
			<-done
			if diff := cmp.Diff(tc.want, r.checks()); diff != "" {
				t.Errorf("failed checks (-want +got):\n%s\nfailures:\n%s", diff, strings.Join(r.errs, "\n"))
			}
			for _, e := range r.errs {
				if strings.Contains(e, clientSecret) || strings.Contains(e, issuedToken) {
					t.Errorf("the kit's own message shows a secret: %s", e)
				}
			}
		})
	}
}

// TestRunInvalidThatLoads: an Invalid block that loads, and a Valid one
// that gives no token, fail their checks.
func TestRunInvalidThatLoads(t *testing.T) {
	r := &recorder{TB: t}
	kindtest.Run(r, kindtest.Kind{
		Type:  "kindtest-good",
		Valid: "url: https://gw.example/token\nsecret_env: KINDTEST_SECRET",
		// Not a problem at all: the kit must say it loads.
		Invalid: []string{"url: https://gw.example/token\nsecret_env: KINDTEST_SECRET"},
		Env:     map[string]string{"KINDTEST_SECRET": clientSecret},
		HTTPClient: &http.Client{Transport: roundTripper(func(*http.Request) (*http.Response, error) {
			return nil, errors.New("offline")
		})},
		Patience: 500 * time.Millisecond,
	})
	want := []string{"invalid blocks are refused with positions", "tokens"}
	if diff := cmp.Diff(want, r.checks()); diff != "" {
		t.Errorf("failed checks (-want +got):\n%s\nfailures:\n%s", diff, strings.Join(r.errs, "\n"))
	}
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

const storedKey = "sk-CANARY-kindtest-stored-key-7c41"

// secretStore is a small secret store: the secret named by `secret`, read
// with a GET from url. Its labels block is free form, with only "team"
// taken (the lax store takes any).
type secretStore struct {
	URL    string         `yaml:"url"`
	Secret string         `yaml:"secret"`
	Labels map[string]any `yaml:"labels"`
	flaw   flaw
}

func storeName(f flaw) string {
	if f == none {
		return "kindtest_store_good"
	}
	return "kindtest_store_" + string(f)
}

func init() {
	for _, f := range []flaw{none, ignoresCtx, laxOptions} {
		kind.RegisterStore(storeName(f), func() kind.Store { return &secretStore{flaw: f} })
	}
}

func (s *secretStore) Validate(b *kind.Build) {
	if s.Secret == "" {
		b.Errorf("", `missing key "secret"`)
	}
	if s.flaw != laxOptions {
		for k := range s.Labels {
			if k != "team" {
				b.Errorf("labels."+k, "unknown key %q", k)
			}
		}
	}
}

func (s *secretStore) Reader(b *kind.Build) (kind.SecretReader, error) {
	return &storeReader{store: s, client: b.HTTPClient}, nil
}

type storeReader struct {
	store  *secretStore
	client *http.Client
}

func (r *storeReader) Reference() string { return "kindtest:" + r.store.Secret }

func (r *storeReader) ReadSecret(ctx context.Context) (*kind.SecretValue, error) {
	if r.store.flaw == ignoresCtx {
		ctx = context.Background()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.store.URL+"?name="+r.store.Secret, nil)
	if err != nil {
		return nil, err
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var b strings.Builder
	if _, err := io.Copy(&b, resp.Body); err != nil {
		return nil, err
	}
	return &kind.SecretValue{Value: credential.NewSecret(b.String()), Version: "1"}, nil
}

// TestRunStore: a well-behaved store passes RunStore, each broken one fails
// the check of the promise it breaks, and an unregistered name fails
// registration.
func TestRunStore(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("name") != "openai" {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte(storedKey))
	}))
	defer srv.Close()
	tests := []struct {
		name string
		want []string
	}{
		{storeName(none), nil},
		{storeName(ignoresCtx), []string{"ctx cancellation is honoured"}},
		{storeName(laxOptions), []string{"unknown keys are refused with positions"}},
		{"kindtest_store_unregistered", []string{"registered"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := &recorder{TB: t}
			done := make(chan struct{})
			go func() {
				defer close(done)
				kindtest.RunStore(r, kindtest.Store{
					Name:       tc.name,
					Valid:      "url: " + srv.URL + "/secret\nsecret: openai\nlabels:\n  team: a",
					Invalid:    []string{"url: " + srv.URL + "/secret\nhint: " + storedKey},
					HTTPClient: srv.Client(),
					Secrets:    []string{storedKey},
					Patience:   500 * time.Millisecond,
				})
			}()
			<-done
			if diff := cmp.Diff(tc.want, r.checks()); diff != "" {
				t.Errorf("failed checks (-want +got):\n%s\nfailures:\n%s", diff, strings.Join(r.errs, "\n"))
			}
			for _, e := range r.errs {
				if strings.Contains(e, storedKey) {
					t.Errorf("the kit's own message shows a secret: %s", e)
				}
			}
		})
	}
}
