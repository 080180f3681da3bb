package storage

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"
)

// TransportConfig sizes an HTTP transport for a store. Zero fields take the
// defaults below.
type TransportConfig struct {
	// ConnectTimeout bounds dialing and the TLS handshake (default 10 s).
	ConnectTimeout time.Duration
	// StallTimeout fails a read or write that makes no progress this long
	// (default 60 s).
	StallTimeout time.Duration
	// MaxIdleConnsPerHost is how many idle connections are kept for reuse;
	// it should be at least the number of requests in flight (default 512).
	MaxIdleConnsPerHost int
	// Proxy picks the HTTP proxy of a request (default: the environment's,
	// http.ProxyFromEnvironment).
	Proxy func(*http.Request) (*url.URL, error)
}

// Transport defaults.
const (
	defaultConnectTimeout      = 10 * time.Second
	defaultStallTimeout        = 60 * time.Second
	defaultMaxIdleConnsPerHost = 512
	// connBuffer sizes each connection's read and write buffers: a small
	// object's answer, headers and body, comes in with one read (the OSS
	// SDK's own transport had 4 KiB, two reads and more).
	connBuffer  = 16 << 10
	maxIdleTime = 90 * time.Second
)

// smallBodyBytes is the largest request body sent from memory: such a body
// is read whole before the request goes out, so the request leaves in one
// write instead of headers, then each piece the source delivered.
const smallBodyBytes = 64 << 10

// NewTransport is the HTTP transport the OSS and COS stores share: a
// connection pool sized for many parallel transfers, HTTP/1.1 (one stream
// per connection spreads load better than HTTP/2 for bulk transfers), a
// stall timeout on every connection, no transparent decompression (objects
// are copied byte for byte, a stored Content-Encoding: gzip included), and
// small request bodies sent from memory.
func NewTransport(cfg TransportConfig) http.RoundTripper {
	connect := cmp.Or(cfg.ConnectTimeout, defaultConnectTimeout)
	stall := cmp.Or(cfg.StallTimeout, defaultStallTimeout)
	dialer := &net.Dialer{Timeout: connect, KeepAlive: 30 * time.Second}
	proxy := cfg.Proxy
	if proxy == nil {
		proxy = http.ProxyFromEnvironment
	}
	return smallBodies{next: &http.Transport{
		Proxy: proxy,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := dialer.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return &stallConn{Conn: c, timeout: stall}, nil
		},
		DisableCompression:  true,
		MaxIdleConnsPerHost: cmp.Or(cfg.MaxIdleConnsPerHost, defaultMaxIdleConnsPerHost),
		// Idle connections are closed before the stall timeout could fire
		// on their pending read.
		IdleConnTimeout:       min(maxIdleTime, stall/2),
		TLSHandshakeTimeout:   connect,
		ExpectContinueTimeout: time.Second,
		ReadBufferSize:        connBuffer,
		WriteBufferSize:       connBuffer,
	}}
}

// smallBodies reads a request body of at most smallBodyBytes into memory
// and sends it as a *bytes.Reader. net/http flushes the headers on their own
// before any body it does not know to be in memory (the SDKs wrap every body
// to hash it), then writes each piece the body yields: for a 4 KiB object
// streamed from a GET, three writes where one does. A body that fails while
// being read fails the request before anything is sent.
type smallBodies struct {
	next *http.Transport
}

func (t smallBodies) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body == nil || req.Body == http.NoBody || req.ContentLength <= 0 || req.ContentLength > smallBodyBytes {
		return t.next.RoundTrip(req)
	}
	buf, err := readBody(req.Body, req.ContentLength)
	if err != nil {
		return nil, err
	}
	sent := *req // a RoundTripper must not modify the caller's request
	sent.Body = io.NopCloser(bytes.NewReader(buf))
	sent.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf)), nil }
	return t.next.RoundTrip(&sent)
}

// readBody reads exactly n bytes and the end of body, and closes it, as
// net/http would while sending it.
func readBody(body io.ReadCloser, n int64) ([]byte, error) {
	defer body.Close()
	buf := make([]byte, n)
	if _, err := io.ReadFull(body, buf); err != nil {
		if err == io.ErrUnexpectedEOF || err == io.EOF {
			return nil, fmt.Errorf("http: ContentLength=%d with a shorter Body", n)
		}
		return nil, err
	}
	extra, err := io.Copy(io.Discard, body)
	if err != nil {
		return nil, err
	}
	if extra > 0 {
		return nil, fmt.Errorf("http: ContentLength=%d with Body length %d", n, n+extra)
	}
	return buf, nil
}

// CloseIdleConnections closes the pool's idle connections.
func (t smallBodies) CloseIdleConnections() { t.next.CloseIdleConnections() }

// stallConn fails a read or write that makes no progress for timeout. A
// write also extends the read deadline, so the answer to a request just sent
// gets the full timeout.
type stallConn struct {
	net.Conn
	timeout time.Duration
}

func (c *stallConn) Read(p []byte) (int, error) {
	if err := c.Conn.SetReadDeadline(time.Now().Add(c.timeout)); err != nil {
		return 0, err
	}
	return c.Conn.Read(p)
}

func (c *stallConn) Write(p []byte) (int, error) {
	if err := c.Conn.SetDeadline(time.Now().Add(c.timeout)); err != nil {
		return 0, err
	}
	return c.Conn.Write(p)
}
