// Package fakehosts serves loopback fakes under the host names of the
// services they stand in for (myvault.vault.azure.net,
// login.microsoftonline.com, secretmanager.googleapis.com,
// sts.googleapis.com, iamcredentials.googleapis.com), over TLS with a
// test CA, so that the real SDKs run every check they run in production
// (Key Vault's challenge-resource verification, MSAL's authority rules,
// https only). It gives the HTTP client a test injects through
// registry.Options.HTTPClient: its dialer sends those names to the loopback
// listeners, and it trusts the test CA. A program that resolves and dials
// names itself (the Copilot runtime) reaches the same fakes through
// StartProxy's forward proxy, trusting the CA file WriteCA writes. Nothing
// in the shipped binary imports it; nothing in it is process-wide.
package fakehosts

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"
)

// Network is a set of fakes served under real host names, and the client
// that reaches them. It is safe for concurrent use.
type Network struct {
	ca     *x509.Certificate
	caKey  *ecdsa.PrivateKey
	pool   *x509.CertPool
	client *http.Client

	mu     sync.Mutex
	routes map[string]string // "host:port" → the loopback listener's address
}

// New makes a network with a fresh test CA.
func New() *Network {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic("fakehosts: " + err.Error())
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "fakehosts test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		panic("fakehosts: " + err.Error())
	}
	ca, _ := x509.ParseCertificate(der)
	n := &Network{ca: ca, caKey: key, pool: x509.NewCertPool(), routes: map[string]string{}}
	n.pool.AddCert(ca)
	dialer := &net.Dialer{Timeout: 10 * time.Second}
	n.client = &http.Client{Transport: &http.Transport{
		// No proxy from the environment: the fakes are on loopback.
		Proxy: nil,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			n.mu.Lock()
			to, ok := n.routes[strings.ToLower(addr)]
			n.mu.Unlock()
			if ok {
				addr = to
			}
			// Any other address (a loopback fake reached by its IP, such as
			// a managed identity endpoint) is dialled as it is.
			return dialer.DialContext(ctx, network, addr)
		},
		TLSClientConfig:     &tls.Config{RootCAs: n.pool, MinVersion: tls.VersionTLS12},
		ForceAttemptHTTP2:   true,
		MaxIdleConnsPerHost: 16,
		IdleConnTimeout:     30 * time.Second,
	}}
	return n
}

// Client is the client that reaches the network's hosts (and dials every
// other address as it is), trusting only the test CA for TLS.
func (n *Network) Client() *http.Client { return n.client }

// Serve starts a TLS server for h on 127.0.0.1 with a certificate of the
// test CA naming hosts (and 127.0.0.1), and routes each host's port 443 to
// it. The caller closes the server.
func (n *Network) Serve(h http.Handler, hosts ...string) *httptest.Server {
	if len(hosts) == 0 {
		panic("fakehosts: Serve with no host name")
	}
	srv := httptest.NewUnstartedServer(h)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{n.certificate(hosts)}}
	srv.StartTLS()
	addr := srv.Listener.Addr().String()
	n.mu.Lock()
	for _, host := range hosts {
		n.routes[strings.ToLower(host)+":443"] = addr
	}
	n.mu.Unlock()
	return srv
}

func (n *Network) certificate(hosts []string) tls.Certificate {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic("fakehosts: " + err.Error())
	}
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: hosts[0]},
		DNSNames:     hosts,
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, n.ca, &key.PublicKey, n.caKey)
	if err != nil {
		panic(fmt.Sprintf("fakehosts: certificate for %v: %v", hosts, err))
	}
	return tls.Certificate{Certificate: [][]byte{der, n.ca.Raw}, PrivateKey: key}
}
