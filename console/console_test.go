package console

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"go.temporal.io/sdk/client"
	"golang.org/x/crypto/bcrypt"

	"github.com/bucketferry/bucketferry/config"
)

func TestParseUser(t *testing.T) {
	h, err := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	u, err := ParseUser("alice:reader:" + string(h))
	if err != nil || u.Name != "alice" || u.Role != RoleReader || string(u.Hash) != string(h) {
		t.Fatalf("ParseUser: %+v, %v", u, err)
	}
	for _, bad := range []string{"alice", "alice:admin:" + string(h), "alice:operator:plaintext", ":operator:" + string(h)} {
		if _, err := ParseUser(bad); err == nil {
			t.Errorf("ParseUser(%q) accepted", bad)
		}
	}
}

// TestFirstStartToken: the token is returned once, its hash kept; a later
// start signs in with it and prints nothing.
func TestFirstStartToken(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state", "console-token")
	u, token, err := FirstStartToken(path)
	if err != nil || token == "" || u.Role != RoleOperator {
		t.Fatalf("first start: %+v %q %v", u, token, err)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("token file: %v %v", st, err)
	}
	if data, _ := os.ReadFile(path); strings.Contains(string(data), token) {
		t.Fatal("the token file holds the token itself")
	}
	u2, again, err := FirstStartToken(path)
	if err != nil || again != "" {
		t.Fatalf("second start printed %q (%v)", again, err)
	}
	if bcrypt.CompareHashAndPassword(u2.Hash, []byte(token)) != nil {
		t.Fatal("the kept hash does not match the token")
	}
}

// newTestServer is a console whose client never connects: these requests
// are refused or answered before any reaches Temporal.
func newTestServer(t *testing.T) (*httptest.Server, *syncLog) {
	t.Helper()
	c, err := client.NewLazyClient(client.Options{HostPort: "127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	hash := func(pw string) []byte {
		h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	cfg := config.Defaults()
	log := &syncLog{}
	s, err := New(Options{Client: c, Namespace: "default", Config: &cfg, Logger: slog.New(slog.NewTextHandler(log, nil)),
		Users: []User{{Name: "ops", Role: RoleOperator, Hash: hash("ops-pw")}, {Name: "viewer", Role: RoleReader, Hash: hash("viewer-pw")}}})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return ts, log
}

// syncLog is the audit log, written by the handlers' goroutines.
type syncLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *syncLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *syncLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// signIn returns a client with the session of user and the page's CSRF
// token.
func signIn(t *testing.T, base, user, pw string) (*http.Client, string) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	resp, err := c.PostForm(base+"/login", url.Values{"user": {user}, "password": {pw}})
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := regexp.MustCompile(`<meta name="csrf" content="([^"]+)">`).FindSubmatch(page)
	if resp.StatusCode != http.StatusOK || m == nil {
		t.Fatalf("sign in as %s: %s\n%.300s", user, resp.Status, page)
	}
	return c, string(m[1])
}

func post(t *testing.T, c *http.Client, u, csrf, origin string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader("{}"))
	req.Header.Set("Content-Type", "application/json")
	if csrf != "" {
		req.Header.Set("X-CSRF-Token", csrf)
	}
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestLoginSessionsAndCSRF(t *testing.T) {
	ts, log := newTestServer(t)

	resp, err := http.Get(ts.URL + "/jobs/x")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(string(body), `id="login-form"`) {
		t.Fatalf("a page without a session: %s\n%.300s", resp.Status, body)
	}
	if code := post(t, http.DefaultClient, ts.URL+"/api/jobs/x/pause", "", ""); code != http.StatusUnauthorized {
		t.Errorf("an action without a session: %d, want 401", code)
	}
	resp, err = http.PostForm(ts.URL+"/login", url.Values{"user": {"ops"}, "password": {"wrong"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || len(resp.Cookies()) != 0 {
		t.Errorf("a wrong password: %s with cookies %v", resp.Status, resp.Cookies())
	}

	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err = noRedirect.PostForm(ts.URL+"/login", url.Values{"user": {"ops"}, "password": {"ops-pw"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cookies := resp.Cookies()
	if resp.StatusCode != http.StatusSeeOther || len(cookies) != 1 || !cookies[0].HttpOnly || cookies[0].SameSite != http.SameSiteStrictMode {
		t.Fatalf("sign-in: %s, cookies %+v: want a redirect with one HttpOnly SameSite=Strict cookie", resp.Status, cookies)
	}

	ops, csrf := signIn(t, ts.URL, "ops", "ops-pw")
	if code := post(t, ops, ts.URL+"/api/jobs/x/pause", "", ""); code != http.StatusForbidden {
		t.Errorf("an action without the CSRF token: %d, want 403", code)
	}
	if code := post(t, ops, ts.URL+"/api/jobs/x/pause", "not-the-token", ""); code != http.StatusForbidden {
		t.Errorf("an action with a wrong CSRF token: %d, want 403", code)
	}
	if code := post(t, ops, ts.URL+"/api/jobs/x/pause", csrf, "http://evil.example"); code != http.StatusForbidden {
		t.Errorf("an action from another origin: %d, want 403", code)
	}
	viewer, vcsrf := signIn(t, ts.URL, "viewer", "viewer-pw")
	if code := post(t, viewer, ts.URL+"/api/jobs/x/cancel", vcsrf, ""); code != http.StatusForbidden {
		t.Errorf("a reader's action: %d, want 403", code)
	}
	if code := post(t, ops, ts.URL+"/logout", csrf, ""); code != http.StatusOK {
		t.Errorf("sign out: %d", code)
	}
	if code := post(t, ops, ts.URL+"/api/jobs/x/pause", csrf, ""); code != http.StatusUnauthorized {
		t.Errorf("an action after signing out: %d, want 401", code)
	}
	for _, want := range []string{`user=viewer`, `action refused: read-only user`, `action refused: no valid CSRF token`, `sign-in refused`, `user=ops`} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("the audit log lacks %q:\n%s", want, log.String())
		}
	}
}
