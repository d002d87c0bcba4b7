// Package fakebedrock is a loopback stand-in for Bedrock's OpenAI-compatible
// endpoint (bedrock-runtime.{region}.amazonaws.com/openai/v1) that verifies
// every bearer key the way AWS does: it decodes the short-term API key,
// recomputes its SigV4 presigned signature with the secret of the access key
// that signed it, and refuses a forged key, one signed for another region,
// an expired key or one whose temporary credentials have expired (403).
package fakebedrock

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/byokcred/byokcred/internal/testkit/fakeaws"
	"github.com/byokcred/byokcred/internal/testkit/fakemodel"
)

// Options configure a Server.
type Options struct {
	// Region the endpoint serves; keys signed for another are refused.
	Region string
	// Lookup finds the credentials of an access key id (fakeaws.Server.Lookup).
	Lookup func(accessKeyID string) (fakeaws.Credentials, bool)
	// Now is the clock keys are checked against. Default time.Now.
	Now func() time.Time
	// Reply is the assistant text. Default "Hello".
	Reply string
}

// Rejection is one refused request.
type Rejection struct {
	Time   time.Time
	Reason string
}

// Server is a running fake Bedrock endpoint. URL + "/openai/v1" is the
// provider's base_url.
type Server struct {
	*fakemodel.Server
	opts Options

	mu       sync.Mutex
	accepted []string
	rejected []Rejection
}

// Start listens on 127.0.0.1 on a free port.
func Start(opts Options) (*Server, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Server{opts: opts}
	m, err := fakemodel.Start(fakemodel.Options{Reply: opts.Reply, Check: s.check})
	if err != nil {
		return nil, err
	}
	s.Server = m
	return s, nil
}

// BaseURL is the provider's base_url for this endpoint.
func (s *Server) BaseURL() string { return s.URL + "/openai/v1" }

// Accepted returns the keys accepted so far.
func (s *Server) Accepted() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.accepted...)
}

// Rejected returns the refused requests so far.
func (s *Server) Rejected() []Rejection {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Rejection(nil), s.rejected...)
}

func (s *Server) check(r *fakemodel.Request) int {
	auth := r.Header.Get("Authorization")
	key, ok := strings.CutPrefix(auth, "Bearer ")
	err := errors.New("no bearer key")
	if ok {
		err = s.Verify(key, s.opts.Now())
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.rejected = append(s.rejected, Rejection{Time: r.Time, Reason: err.Error()})
		return http.StatusForbidden
	}
	s.accepted = append(s.accepted, key)
	return 0
}

// Verify checks key as Bedrock would at now; the error says why it is refused.
func (s *Server) Verify(key string, now time.Time) error {
	rest, ok := strings.CutPrefix(key, "bedrock-api-key-")
	if !ok {
		return errors.New("no bedrock-api-key- prefix")
	}
	raw, err := base64.StdEncoding.DecodeString(rest)
	if err != nil {
		return errors.New("not base64")
	}
	signedURL, ok := strings.CutSuffix(string(raw), "&Version=1")
	if !ok {
		return errors.New("no &Version=1")
	}
	u, err := url.Parse("https://" + signedURL)
	if err != nil || u.Host != "bedrock.amazonaws.com" || u.Path != "/" {
		return fmt.Errorf("not a presigned bedrock.amazonaws.com URL")
	}
	q := u.Query()
	for k, want := range map[string]string{"Action": "CallWithBearerToken", "X-Amz-Algorithm": "AWS4-HMAC-SHA256", "X-Amz-SignedHeaders": "host"} {
		if got := q.Get(k); got != want {
			return fmt.Errorf("%s is %q, want %q", k, got, want)
		}
	}
	scope := strings.Split(q.Get("X-Amz-Credential"), "/")
	if len(scope) != 5 || scope[3] != "bedrock" || scope[4] != "aws4_request" {
		return fmt.Errorf("bad credential scope %q", q.Get("X-Amz-Credential"))
	}
	if scope[2] != s.opts.Region {
		return fmt.Errorf("key signed for region %s, this endpoint is %s", scope[2], s.opts.Region)
	}
	signedAt, err := time.Parse("20060102T150405Z", q.Get("X-Amz-Date"))
	if err != nil || scope[1] != signedAt.Format("20060102") {
		return errors.New("bad X-Amz-Date")
	}
	secs, err := strconv.Atoi(q.Get("X-Amz-Expires"))
	if err != nil || secs < 1 || secs > 43200 {
		return fmt.Errorf("bad X-Amz-Expires %q", q.Get("X-Amz-Expires"))
	}
	if exp := signedAt.Add(time.Duration(secs) * time.Second); !now.Before(exp) {
		return fmt.Errorf("key expired %s ago", now.Sub(exp).Round(time.Millisecond))
	}
	creds, ok := s.opts.Lookup(scope[0])
	if !ok {
		return fmt.Errorf("unknown access key id %s", scope[0])
	}
	if !creds.Expiry.IsZero() && !now.Before(creds.Expiry) {
		return fmt.Errorf("the credentials that signed the key expired %s ago", now.Sub(creds.Expiry).Round(time.Millisecond))
	}
	if q.Get("X-Amz-Security-Token") != creds.SessionToken {
		return errors.New("wrong session token")
	}
	// Recompute the signature over the request the key stands for.
	req, err := http.NewRequest(http.MethodPost, "https://bedrock.amazonaws.com/?Action=CallWithBearerToken&X-Amz-Expires="+strconv.Itoa(secs), nil)
	if err != nil {
		return err
	}
	ac := aws.Credentials{AccessKeyID: creds.AccessKeyID, SecretAccessKey: creds.SecretAccessKey, SessionToken: creds.SessionToken}
	want, _, err := v4.NewSigner().PresignHTTP(context.Background(), ac, req, "UNSIGNED-PAYLOAD", "bedrock", scope[2], signedAt)
	if err != nil {
		return err
	}
	wu, _ := url.Parse(want)
	if subtle.ConstantTimeCompare([]byte(wu.Query().Get("X-Amz-Signature")), []byte(q.Get("X-Amz-Signature"))) != 1 {
		return errors.New("signature does not match")
	}
	return nil
}
