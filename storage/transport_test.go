package storage

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// streamed is a body net/http cannot know to be in memory, delivered in
// pieces as a network source would.
type streamed struct {
	data  []byte
	piece int
	err   error // returned instead of io.EOF at the end
}

func (s *streamed) Read(p []byte) (int, error) {
	if len(s.data) == 0 {
		return 0, cmpErr(s.err, io.EOF)
	}
	n := copy(p[:min(len(p), s.piece)], s.data)
	s.data = s.data[n:]
	return n, nil
}

func cmpErr(err, def error) error {
	if err != nil {
		return err
	}
	return def
}

// countingTransport is the shared transport's pool with every connection
// write counted.
func countingTransport(writes *atomic.Int64) *http.Transport {
	var d net.Dialer
	return &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return &countingConn{Conn: c, writes: writes}, nil
		},
		WriteBufferSize: 64 << 10,
	}
}

type countingConn struct {
	net.Conn
	writes *atomic.Int64
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(p)
}

// echoServer answers every request with its body, and counts requests.
func echoServer(t *testing.T) (*httptest.Server, *atomic.Int64) {
	var requests atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		b, _ := io.ReadAll(r.Body)
		w.Write(b)
	}))
	t.Cleanup(srv.Close)
	return srv, &requests
}

func put(t *testing.T, rt http.RoundTripper, url string, body io.Reader, n int64) (*http.Response, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, url, body)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = n
	return rt.RoundTrip(req)
}

func TestSmallBodyLeavesInOneWrite(t *testing.T) {
	srv, _ := echoServer(t)
	data := bytes.Repeat([]byte("0123456789abcdef"), 256) // 4 KiB
	for _, tc := range []struct {
		name      string
		rt        func(*atomic.Int64) http.RoundTripper
		maxWrites int64
	}{
		{"small bodies", func(w *atomic.Int64) http.RoundTripper { return smallBodies{next: countingTransport(w)} }, 1},
		// The reason for smallBodies: net/http alone flushes the headers,
		// then writes each piece of a body it cannot see is in memory.
		{"net/http alone", func(w *atomic.Int64) http.RoundTripper { return countingTransport(w) }, 99},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var writes atomic.Int64
			rt := tc.rt(&writes)
			resp, err := put(t, rt, srv.URL, &streamed{data: bytes.Clone(data), piece: 3000}, int64(len(data)))
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("echo: %d bytes, %v", len(got), err)
			}
			n := writes.Load()
			if tc.maxWrites == 1 && n != 1 {
				t.Fatalf("request took %d writes, want 1", n)
			}
			if tc.maxWrites > 1 && n < 3 {
				t.Fatalf("net/http alone took %d writes; the premise of smallBodies (headers flushed, then each piece) no longer holds", n)
			}
		})
	}
}

func TestSmallBodyFailuresSendNothing(t *testing.T) {
	srv, requests := echoServer(t)
	rt := NewTransport(TransportConfig{})
	readErr := errors.New("source failed its checksum")
	for _, tc := range []struct {
		name string
		body io.Reader
		n    int64
		is   error
		msg  string
	}{
		{"read error", &streamed{data: []byte("abcd"), piece: 2, err: readErr}, 4, readErr, ""},
		{"short", &streamed{data: []byte("abc"), piece: 2}, 4, nil, "ContentLength=4 with a shorter Body"},
		{"long", &streamed{data: []byte("abcde"), piece: 2}, 4, nil, "ContentLength=4 with Body length 5"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := put(t, rt, srv.URL, tc.body, tc.n)
			if err == nil {
				resp.Body.Close()
				t.Fatal("no error")
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Fatalf("error %v is not %v", err, tc.is)
			}
			if tc.msg != "" && !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("error %q lacks %q", err, tc.msg)
			}
		})
	}
	if n := requests.Load(); n != 0 {
		t.Fatalf("the server saw %d requests, want none", n)
	}
}

func TestLargeBodyStreams(t *testing.T) {
	// The server must receive the first bytes before the body yields the
	// rest: a body over smallBodyBytes is sent as it is read, not held.
	started := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		head := make([]byte, 1000)
		if _, err := io.ReadFull(r.Body, head); err != nil {
			return
		}
		close(started)
		rest, _ := io.ReadAll(r.Body)
		w.Write(append(head, rest...))
	}))
	t.Cleanup(srv.Close)
	data := bytes.Repeat([]byte{7}, smallBodyBytes+1)
	body := &gatedReader{data: data, first: 1000, gate: started}
	resp, err := put(t, NewTransport(TransportConfig{}), srv.URL, body, int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("echo: %d bytes, %v", len(got), err)
	}
}

// gatedReader yields its first bytes, then the rest only once gate closes.
type gatedReader struct {
	data  []byte
	first int
	off   int
	gate  chan struct{}
}

func (g *gatedReader) Read(p []byte) (int, error) {
	if g.off >= len(g.data) {
		return 0, io.EOF
	}
	if g.off >= g.first {
		select {
		case <-g.gate:
		case <-time.After(5 * time.Second):
			return 0, errors.New("the server got nothing: the body was held, not streamed")
		}
	} else {
		p = p[:min(len(p), g.first-g.off)]
	}
	n := copy(p, g.data[g.off:])
	g.off += n
	return n, nil
}
