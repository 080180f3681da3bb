package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer is a command's output, read while the command runs.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func newJar(t *testing.T) http.CookieJar {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return jar
}

// TestConsoleCommand serves the console alone against a Temporal server:
// it prints its address and a token once, answers without a session with
// the login page, and signs in with the token to list the jobs.
func TestConsoleCommand(t *testing.T) {
	e := newServerEnv(t)
	if out, code, err := e.cmd(t, runStart, "-source", "reports:partial/", "-destination", "reports:copy/", "-job-id", "listed", "-detach"); code != 0 {
		t.Fatalf("start: exit %d, %v\n%s", code, err, out)
	}
	t.Setenv("BUCKETFERRY_CONSOLE_TOKENFILE", filepath.Join(t.TempDir(), "console-token"))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out lockedBuffer
	done := make(chan error, 1)
	go func() { done <- runConsole(ctx, []string{"-config", e.cfgPath, "-address", "127.0.0.1:0"}, &out) }()
	re := regexp.MustCompile(`console:\s+(http://\S+)\n(?:\s+\(console\.address \S+ is in use[^\n]*\n)?\s+sign in as admin with the token (\S+)`)
	var m []string
	for m == nil {
		select {
		case err := <-done:
			t.Fatalf("console ended: %v\n%s", err, out.String())
		case <-ctx.Done():
			t.Fatalf("no console address printed:\n%s", out.String())
		case <-time.After(50 * time.Millisecond):
		}
		m = re.FindStringSubmatch(out.String())
	}
	base, token := m[1], m[2]

	resp, err := http.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(string(page), `action="/login"`) {
		t.Fatalf("without a session: %s\n%.300s", resp.Status, page)
	}
	c := &http.Client{Jar: newJar(t)}
	if resp, err = c.PostForm(base+"/login", url.Values{"user": {"admin"}, "password": {token}}); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	resp, err = c.Get(base + "/api/jobs")
	if err != nil {
		t.Fatal(err)
	}
	list, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(list), `"id":"listed"`) {
		t.Fatalf("jobs with the token's session: %s\n%s", resp.Status, list)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("console: %v", err)
	}
}
