package fakehosts

import (
	"bufio"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Proxy is a forward proxy on loopback for programs that resolve and dial
// host names themselves and cannot take the network's Go client, such as
// the Copilot runtime (pointed at it with HTTPS_PROXY). It answers CONNECT
// only: a tunnel to a host the network serves goes to that host's loopback
// listener; every other request is refused, so nothing reaches the real
// network through it.
type Proxy struct {
	// URL is the proxy's address, http://127.0.0.1:PORT.
	URL string

	n  *Network
	ln net.Listener

	mu      sync.Mutex
	tunnels []string // host:port of each CONNECT served, in order
	refused []string // what was asked for and refused
	conns   map[net.Conn]struct{}
	closed  bool
	wg      sync.WaitGroup
}

// StartProxy starts a proxy for the network's hosts on 127.0.0.1.
func (n *Network) StartProxy() *Proxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic("fakehosts: " + err.Error())
	}
	p := &Proxy{URL: "http://" + ln.Addr().String(), n: n, ln: ln, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	return p
}

// Tunnels returns the host:port of every tunnel the proxy opened.
func (p *Proxy) Tunnels() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.tunnels...)
}

// Refused returns what the proxy was asked for and refused: "CONNECT
// host:port" for a host the network does not serve, or the method and URL
// of a request that is not a CONNECT.
func (p *Proxy) Refused() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.refused...)
}

// Close stops the proxy and cuts its open tunnels.
func (p *Proxy) Close() error {
	p.mu.Lock()
	p.closed = true
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	err := p.ln.Close()
	p.wg.Wait()
	return err
}

func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		c.Close()
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *Proxy) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	c.Close()
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		if !p.track(c) {
			continue
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			defer p.untrack(c)
			p.serve(c)
		}()
	}
}

// serve answers one client connection: one CONNECT, then the tunnel.
func (p *Proxy) serve(c net.Conn) {
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(c)
	req, err := http.ReadRequest(br)
	if err != nil {
		return
	}
	c.SetReadDeadline(time.Time{})
	if req.Method != http.MethodConnect {
		p.refuse(c, req.Method+" "+req.URL.String(), http.StatusMethodNotAllowed)
		return
	}
	target := strings.ToLower(req.Host)
	p.n.mu.Lock()
	to, ok := p.n.routes[target]
	p.n.mu.Unlock()
	if !ok {
		p.refuse(c, "CONNECT "+target, http.StatusForbidden)
		return
	}
	up, err := net.DialTimeout("tcp", to, 10*time.Second)
	if err != nil {
		p.refuse(c, "CONNECT "+target+" ("+err.Error()+")", http.StatusBadGateway)
		return
	}
	if !p.track(up) {
		return
	}
	defer p.untrack(up)
	p.mu.Lock()
	p.tunnels = append(p.tunnels, target)
	p.mu.Unlock()
	if _, err := io.WriteString(c, "HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
		return
	}
	done := make(chan struct{}, 2)
	go func() {
		// Bytes the client sent after its CONNECT are in br.
		io.Copy(up, br)
		if tc, ok := up.(*net.TCPConn); ok {
			tc.CloseWrite()
		}
		done <- struct{}{}
	}()
	go func() {
		io.Copy(c, up)
		if tc, ok := c.(*net.TCPConn); ok {
			tc.CloseWrite()
		}
		done <- struct{}{}
	}()
	<-done
	<-done
}

func (p *Proxy) refuse(c net.Conn, what string, status int) {
	p.mu.Lock()
	p.refused = append(p.refused, what)
	p.mu.Unlock()
	fmt.Fprintf(c, "HTTP/1.1 %d %s\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", status, http.StatusText(status))
}

// WriteCA writes the network's test CA certificate as PEM into dir and
// returns the file's path, for programs that read extra trusted CAs from a
// file (NODE_EXTRA_CA_CERTS, SSL_CERT_FILE).
func (n *Network) WriteCA(dir string) (string, error) {
	path := filepath.Join(dir, "fakehosts-ca.pem")
	data := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: n.ca.Raw})
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return "", fmt.Errorf("fakehosts: writing the test CA: %w", err)
	}
	return path, nil
}
