// Package fakesecretsmanager is a loopback stand-in for AWS Secrets
// Manager's GetSecretValue, reached by the real SDK through
// AWS_ENDPOINT_URL_SECRETS_MANAGER. It speaks the AWS JSON 1.1 protocol and
// checks every request's SigV4 signature the way AWS does — recomputed with
// the SDK's own signer from the secret of the access key that signed it,
// which it finds with fakeaws.Server.Lookup — so only credentials the SDK
// really obtained from fakeaws are accepted.
package fakesecretsmanager

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/byokcred/byokcred/internal/testkit/fakeaws"
)

// Options configure a Server.
type Options struct {
	// Region the endpoint serves; requests signed for another are refused.
	// Default us-east-1.
	Region string
	// Account is the account id in ARNs. Default 123456789012.
	Account string
	// Lookup finds the credentials of an access key id
	// (fakeaws.Server.Lookup). Required.
	Lookup func(accessKeyID string) (fakeaws.Credentials, bool)
	// Now is the clock for creation dates and credential expiry. Default
	// time.Now.
	Now func() time.Time
}

// Rejection is one refused request.
type Rejection struct {
	// Code is the error's __type, e.g. AccessDeniedException.
	Code   string
	Reason string
}

// Version is one version of a secret, as Put created it.
type Version struct {
	ID      string
	Created time.Time
}

type version struct {
	id      string
	value   string
	binary  []byte
	created time.Time
	stages  []string
}

type secret struct {
	name, arn     string
	versions      []*version
	deleted       bool
	undecryptable bool
}

// Server is a running fake Secrets Manager endpoint.
type Server struct {
	URL  string // http://127.0.0.1:PORT
	opts Options
	srv  *http.Server

	mu        sync.Mutex
	secrets   map[string]*secret // by name
	denyAll   bool
	denied    map[string]bool // by access key id
	down      bool
	throttled bool
	requests  int
	readers   []string // access key id of each successful read
	rejected  []Rejection
}

// Start listens on 127.0.0.1 on a free port.
func Start(opts Options) (*Server, error) {
	if opts.Lookup == nil {
		return nil, fmt.Errorf("fakesecretsmanager: Options.Lookup is required")
	}
	if opts.Region == "" {
		opts.Region = "us-east-1"
	}
	if opts.Account == "" {
		opts.Account = "123456789012"
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("fakesecretsmanager: %w", err)
	}
	s := &Server{URL: "http://" + ln.Addr().String(), opts: opts, secrets: map[string]*secret{}, denied: map[string]bool{}}
	s.srv = &http.Server{Handler: http.HandlerFunc(s.serve), ReadHeaderTimeout: 10 * time.Second}
	go s.srv.Serve(ln)
	return s, nil
}

// Close stops the server.
func (s *Server) Close() error { return s.srv.Close() }

// Setenv points the SDK's Secrets Manager client at s for the test.
func (s *Server) Setenv(t interface {
	Helper()
	Setenv(key, value string)
}) {
	t.Helper()
	t.Setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", s.URL)
}

// Region is the region s serves.
func (s *Server) Region() string { return s.opts.Region }

// Put stores value as a new version of secret name (creating the secret):
// the new version becomes AWSCURRENT, the one before it AWSPREVIOUS.
func (s *Server) Put(name, value string) Version { return s.put(name, &version{value: value}) }

// PutBinary is Put for a SecretBinary value.
func (s *Server) PutBinary(name string, value []byte) Version {
	return s.put(name, &version{binary: bytes.Clone(value)})
}

func (s *Server) put(name string, v *version) Version {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec := s.secrets[name]
	if sec == nil {
		sec = &secret{name: name, arn: fmt.Sprintf("arn:aws:secretsmanager:%s:%s:secret:%s-%s", s.opts.Region, s.opts.Account, name, randomSuffix())}
		s.secrets[name] = sec
	}
	v.id = uuid()
	v.created = s.opts.Now().UTC().Truncate(time.Millisecond)
	v.stages = []string{"AWSCURRENT"}
	for _, old := range sec.versions {
		old.stages = slices.DeleteFunc(old.stages, func(st string) bool { return st == "AWSPREVIOUS" })
		if i := slices.Index(old.stages, "AWSCURRENT"); i >= 0 {
			old.stages[i] = "AWSPREVIOUS"
		}
	}
	sec.versions = append(sec.versions, v)
	return Version{ID: v.id, Created: v.created}
}

// ARN returns the full ARN of secret name (which must exist), with the
// random six-character suffix Secrets Manager appends.
func (s *Server) ARN(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.secrets[name].arn
}

// Delete schedules secret name for deletion: reads are refused with
// InvalidRequestException, as AWS does during the recovery window.
func (s *Server) Delete(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.secrets[name].deleted = true
}

// BreakKey makes secret name undecryptable (its KMS key disabled or not
// usable by the caller): reads fail with DecryptionFailure.
func (s *Server) BreakKey(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.secrets[name].undecryptable = true
}

// Deny refuses reads (AccessDeniedException) by the given access key ids,
// or by everyone when none is given.
func (s *Server) Deny(accessKeyIDs ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(accessKeyIDs) == 0 {
		s.denyAll = true
	}
	for _, id := range accessKeyIDs {
		s.denied[id] = true
	}
}

// Allow lifts every Deny.
func (s *Server) Allow() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.denyAll, s.denied = false, map[string]bool{}
}

// Down makes every request fail with 503 (true) until Down(false).
func (s *Server) Down(down bool) { s.mu.Lock(); s.down = down; s.mu.Unlock() }

// Throttle makes every request fail with ThrottlingException (true) until
// Throttle(false).
func (s *Server) Throttle(on bool) { s.mu.Lock(); s.throttled = on; s.mu.Unlock() }

// Requests counts requests received.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// Readers returns the access key id that signed each successful read.
func (s *Server) Readers() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.readers)
}

// Rejected returns the refused requests so far.
func (s *Server) Rejected() []Rejection {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.rejected)
}

// getSecretValueInput is the request body of GetSecretValue.
type getSecretValueInput struct {
	SecretID     string `json:"SecretId"`
	VersionID    string `json:"VersionId"`
	VersionStage string `json:"VersionStage"`
}

// apiError is an error answer: HTTP status, __type and message.
type apiError struct {
	status      int
	code, msg   string
	reasonExtra string // for Rejected only
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests++
	s.mu.Unlock()
	body, err := io.ReadAll(r.Body)
	if err != nil {
		s.fail(w, apiError{status: http.StatusBadRequest, code: "SerializationException", msg: "cannot read the body"})
		return
	}
	out, aerr := s.handle(r, body)
	if aerr != nil {
		s.fail(w, *aerr)
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-RequestId", uuid())
	json.NewEncoder(w).Encode(out)
}

func (s *Server) handle(r *http.Request, body []byte) (map[string]any, *apiError) {
	switch {
	case r.Method != http.MethodPost || r.URL.Path != "/":
		return nil, &apiError{status: http.StatusNotFound, code: "UnknownOperationException", msg: r.Method + " " + r.URL.Path}
	case r.Header.Get("X-Amz-Target") != "secretsmanager.GetSecretValue":
		return nil, &apiError{status: http.StatusBadRequest, code: "UnknownOperationException", msg: "only secretsmanager.GetSecretValue, not " + r.Header.Get("X-Amz-Target")}
	case r.Header.Get("Content-Type") != "application/x-amz-json-1.1":
		return nil, &apiError{status: http.StatusBadRequest, code: "SerializationException", msg: "Content-Type is " + r.Header.Get("Content-Type")}
	}
	caller, aerr := s.verify(r, body)
	if aerr != nil {
		return nil, aerr
	}
	var in getSecretValueInput
	if err := json.Unmarshal(body, &in); err != nil || in.SecretID == "" {
		return nil, &apiError{status: http.StatusBadRequest, code: "InvalidParameterException", msg: "SecretId is required"}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.down:
		return nil, &apiError{status: http.StatusServiceUnavailable, code: "ServiceUnavailable", msg: "fakesecretsmanager: down"}
	case s.throttled:
		return nil, &apiError{status: http.StatusBadRequest, code: "ThrottlingException", msg: "Rate exceeded"}
	case s.denyAll || s.denied[caller.AccessKeyID]:
		return nil, &apiError{status: http.StatusBadRequest, code: "AccessDeniedException", msg: fmt.Sprintf(
			"User: %s is not authorized to perform: secretsmanager:GetSecretValue on resource: %s because no identity-based policy allows the secretsmanager:GetSecretValue action",
			s.identity(caller), in.SecretID)}
	}
	sec := s.find(in.SecretID)
	if sec == nil {
		return nil, &apiError{status: http.StatusBadRequest, code: "ResourceNotFoundException", msg: "Secrets Manager can't find the specified secret."}
	}
	if sec.deleted {
		return nil, &apiError{status: http.StatusBadRequest, code: "InvalidRequestException", msg: "You can't perform this operation on the secret because it was marked for deletion."}
	}
	v, aerr := sec.pick(in)
	if aerr != nil {
		return nil, aerr
	}
	if sec.undecryptable {
		return nil, &apiError{status: http.StatusBadRequest, code: "DecryptionFailure", msg: "Secrets Manager can't decrypt the protected secret text using the provided KMS key."}
	}
	s.readers = append(s.readers, caller.AccessKeyID)
	out := map[string]any{
		"ARN":           sec.arn,
		"Name":          sec.name,
		"VersionId":     v.id,
		"VersionStages": v.stages,
		"CreatedDate":   float64(v.created.UnixMilli()) / 1000,
	}
	if v.binary != nil {
		out["SecretBinary"] = base64.StdEncoding.EncodeToString(v.binary)
	} else {
		out["SecretString"] = v.value
	}
	return out, nil
}

// find resolves a SecretId: a name, a full ARN or a partial ARN (without
// the random suffix).
func (s *Server) find(id string) *secret {
	if sec := s.secrets[id]; sec != nil && !strings.HasPrefix(id, "arn:") {
		return sec
	}
	for _, sec := range s.secrets {
		if id == sec.arn || id == sec.arn[:len(sec.arn)-7] {
			return sec
		}
	}
	return nil
}

// pick chooses the version a request asks for (AWSCURRENT by default).
func (sec *secret) pick(in getSecretValueInput) (*version, *apiError) {
	stage := in.VersionStage
	if in.VersionID == "" && stage == "" {
		stage = "AWSCURRENT"
	}
	var found *version
	if in.VersionID != "" {
		for _, v := range sec.versions {
			if v.id == in.VersionID {
				found = v
			}
		}
		if found == nil {
			return nil, &apiError{status: http.StatusBadRequest, code: "ResourceNotFoundException", msg: "Secrets Manager can't find the specified secret value for VersionId: " + in.VersionID}
		}
		if stage != "" && !slices.Contains(found.stages, stage) {
			return nil, &apiError{status: http.StatusBadRequest, code: "InvalidRequestException", msg: "You provided a VersionStage that is not associated to the provided VersionId."}
		}
		return found, nil
	}
	for _, v := range sec.versions {
		if slices.Contains(v.stages, stage) {
			return v, nil
		}
	}
	return nil, &apiError{status: http.StatusBadRequest, code: "ResourceNotFoundException", msg: "Secrets Manager can't find the specified secret value for staging label: " + stage}
}

// identity is the caller's ARN, as AWS names it in an AccessDenied message.
func (s *Server) identity(c fakeaws.Credentials) string {
	switch {
	case c.RoleARN != "":
		role := c.RoleARN[strings.LastIndex(c.RoleARN, "/")+1:]
		return fmt.Sprintf("arn:aws:sts::%s:assumed-role/%s/%s", s.opts.Account, role, c.SessionName)
	case c.Via == "container":
		return fmt.Sprintf("arn:aws:sts::%s:assumed-role/fake-task-role/%s", s.opts.Account, c.AccessKeyID)
	}
	return fmt.Sprintf("arn:aws:iam::%s:user/fake-user", s.opts.Account)
}

// signer recomputes signatures; it is safe for concurrent use.
var signer = v4.NewSigner()

// verify checks r's SigV4 signature: service secretsmanager, this region,
// a fresh date, credentials issued by fakeaws and not expired, the session
// token that goes with them, and the signature itself, recomputed over the
// headers the client signed.
func (s *Server) verify(r *http.Request, body []byte) (fakeaws.Credentials, *apiError) {
	deny := func(code, msg, reason string) (fakeaws.Credentials, *apiError) {
		return fakeaws.Credentials{}, &apiError{status: http.StatusBadRequest, code: code, msg: msg, reasonExtra: reason}
	}
	rest, ok := strings.CutPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 ")
	if !ok {
		return deny("MissingAuthenticationTokenException", "Request is missing Authentication Token", "no SigV4 Authorization header")
	}
	fields := map[string]string{}
	for f := range strings.SplitSeq(rest, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(f), "=")
		fields[k] = v
	}
	scope := strings.Split(fields["Credential"], "/")
	if len(scope) != 5 || scope[4] != "aws4_request" || fields["SignedHeaders"] == "" || fields["Signature"] == "" {
		return deny("IncompleteSignatureException", "Authorization header requires Credential, SignedHeaders and Signature", "incomplete Authorization header")
	}
	if scope[3] != "secretsmanager" {
		return deny("InvalidSignatureException", "Credential should be scoped to correct service: 'secretsmanager'.", "signed for service "+scope[3])
	}
	if scope[2] != s.opts.Region {
		return deny("InvalidSignatureException", fmt.Sprintf("Credential should be scoped to a valid region. Expected %s, got %s.", s.opts.Region, scope[2]), "signed for region "+scope[2])
	}
	signedAt, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
	if err != nil || scope[1] != signedAt.Format("20060102") {
		return deny("IncompleteSignatureException", "X-Amz-Date is missing or does not match the credential scope", "bad X-Amz-Date")
	}
	if skew := s.opts.Now().Sub(signedAt); skew > 5*time.Minute || skew < -5*time.Minute {
		return deny("InvalidSignatureException", "Signature expired", fmt.Sprintf("signed %s away from now", skew))
	}
	creds, ok := s.opts.Lookup(scope[0])
	if !ok {
		return deny("UnrecognizedClientException", "The security token included in the request is invalid.", "unknown access key id "+scope[0])
	}
	if !creds.Expiry.IsZero() && !s.opts.Now().Before(creds.Expiry) {
		return deny("ExpiredTokenException", "The security token included in the request is expired", "expired credentials "+scope[0])
	}
	if r.Header.Get("X-Amz-Security-Token") != creds.SessionToken {
		return deny("UnrecognizedClientException", "The security token included in the request is invalid.", "wrong session token for "+scope[0])
	}
	req, err := http.NewRequest(r.Method, "http://"+r.Host+r.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		return deny("InvalidSignatureException", "bad request", err.Error())
	}
	for h := range strings.SplitSeq(fields["SignedHeaders"], ";") {
		if h != "host" && h != "content-length" {
			req.Header[http.CanonicalHeaderKey(h)] = r.Header.Values(h)
		}
	}
	sum := sha256.Sum256(body)
	ac := aws.Credentials{AccessKeyID: creds.AccessKeyID, SecretAccessKey: creds.SecretAccessKey, SessionToken: creds.SessionToken}
	if err := signer.SignHTTP(context.Background(), ac, req, hex.EncodeToString(sum[:]), "secretsmanager", scope[2], signedAt); err != nil {
		return deny("InvalidSignatureException", "bad request", err.Error())
	}
	want := req.Header.Get("Authorization")
	if subtle.ConstantTimeCompare([]byte(want), []byte(r.Header.Get("Authorization"))) != 1 {
		return deny("InvalidSignatureException", "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.", "signature does not match")
	}
	return creds, nil
}

func (s *Server) fail(w http.ResponseWriter, e apiError) {
	reason := e.msg
	if e.reasonExtra != "" {
		reason = e.reasonExtra
	}
	s.mu.Lock()
	s.rejected = append(s.rejected, Rejection{Code: e.code, Reason: reason})
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-RequestId", uuid())
	w.WriteHeader(e.status)
	json.NewEncoder(w).Encode(map[string]string{"__type": e.code, "message": e.msg})
}

func uuid() string {
	b := make([]byte, 16)
	rand.Read(b)
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func randomSuffix() string {
	const letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	b := make([]byte, 6)
	rand.Read(b)
	for i := range b {
		b[i] = letters[int(b[i])%len(letters)]
	}
	return string(b)
}
