// Package storelimit bounds what the secret-store modules read from a
// store: the HTTP answer, before the store's SDK buffers and parses it, and
// the value in it. A secret is a credential, at most 64 KiB in every store
// (Key Vault 25 KiB, Secrets Manager and Secret Manager 64 KiB), so a
// larger answer is a misdirected endpoint or a hostile one, and reading it
// whole would let it fill memory (issue 23, finding 17).
package storelimit

import (
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/byokcred/byokcred/secretfile"
)

// MaxValue caps a secret's value: the secret-file cap, which every store's
// own limit is within.
const MaxValue = secretfile.MaxSize

// MaxAnswer caps an HTTP answer from a store: a value of MaxValue bytes,
// base64- or JSON-escaped, with the answer's other fields, fits in it many
// times over.
const MaxAnswer = 1 << 20

// TooLargeError is the error of an answer cut at MaxAnswer.
type TooLargeError struct {
	// Size is the answer's Content-Length when it said, else -1.
	Size int64
}

func (e *TooLargeError) Error() string {
	if e.Size >= 0 {
		return fmt.Sprintf("the store answered with %d bytes; a secret is at most %d bytes, so the answer was not read (is the endpoint right?)", e.Size, MaxValue)
	}
	return fmt.Sprintf("the store's answer is more than %d bytes; a secret is at most %d bytes, so the rest was not read (is the endpoint right?)", MaxAnswer, MaxValue)
}

// NonRetriable tells azcore's retry policy not to ask again: the answer
// will be as large the next time.
func (*TooLargeError) NonRetriable() {}

// AsTooLarge finds a TooLargeError in err's chain.
func AsTooLarge(err error) (*TooLargeError, bool) {
	return errors.AsType[*TooLargeError](err)
}

// CheckValue refuses a value larger than MaxValue, naming its size.
func CheckValue(n int) error {
	if n > MaxValue {
		return fmt.Errorf("the secret's value is %d bytes; a credential is at most %d bytes: store the key alone in it", n, MaxValue)
	}
	return nil
}

// Doer is what the SDKs take to send requests (aws.HTTPClient,
// azcore's policy.Transporter, *http.Client).
type Doer interface {
	Do(*http.Request) (*http.Response, error)
}

// Client returns a Doer that sends with next and fails an answer larger
// than MaxAnswer: at once when its Content-Length says so, else when the
// SDK has read MaxAnswer bytes of it.
func Client(next Doer) Doer { return client{next} }

type client struct{ next Doer }

func (c client) Do(req *http.Request) (*http.Response, error) {
	resp, err := c.next.Do(req)
	if err != nil {
		return resp, err
	}
	if resp.ContentLength > MaxAnswer {
		resp.Body.Close()
		return nil, &TooLargeError{Size: resp.ContentLength}
	}
	resp.Body = &body{rc: resp.Body, left: MaxAnswer}
	return resp, nil
}

// RoundTripper is Client for an http.RoundTripper.
func RoundTripper(next http.RoundTripper) http.RoundTripper { return roundTripper{next} }

type roundTripper struct{ next http.RoundTripper }

func (rt roundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	return client{doFunc(rt.next.RoundTrip)}.Do(req)
}

type doFunc func(*http.Request) (*http.Response, error)

func (f doFunc) Do(req *http.Request) (*http.Response, error) { return f(req) }

// body fails a read past its limit.
type body struct {
	rc   io.ReadCloser
	left int64
}

func (b *body) Read(p []byte) (int, error) {
	if b.left <= 0 {
		// One byte more tells a body of exactly MaxAnswer from a longer one.
		var one [1]byte
		if n, err := b.rc.Read(one[:]); n > 0 {
			return 0, &TooLargeError{Size: -1}
		} else if err != nil {
			return 0, err
		}
		return 0, nil
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *body) Close() error { return b.rc.Close() }
