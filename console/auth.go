package console

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// Roles a user can have.
const (
	RoleOperator = "operator" // every action
	RoleReader   = "reader"   // looks, exports, but changes nothing
)

// User is one login of the console.
type User struct {
	Name string
	Role string
	// Hash is the bcrypt hash of the password.
	Hash []byte
}

// ParseUser reads NAME:ROLE:BCRYPT-HASH, the form of console.users.
func ParseUser(s string) (User, error) {
	name, rest, ok1 := strings.Cut(strings.TrimSpace(s), ":")
	role, hash, ok2 := strings.Cut(rest, ":")
	if !ok1 || !ok2 || name == "" {
		return User{}, errors.New("want NAME:ROLE:BCRYPT-HASH")
	}
	if role != RoleOperator && role != RoleReader {
		return User{}, fmt.Errorf("user %s: role %q: want %s or %s", name, role, RoleOperator, RoleReader)
	}
	if _, err := bcrypt.Cost([]byte(hash)); err != nil {
		return User{}, fmt.Errorf("user %s: the password must be a bcrypt hash ($2a$..., e.g. from `htpasswd -nbB NAME PASSWORD`): %w", name, err)
	}
	return User{Name: name, Role: role, Hash: []byte(hash)}, nil
}

// TokenUser is the user name of the token login.
const TokenUser = "admin"

// FirstStartToken returns the operator login of a console with no users
// configured: a random token whose bcrypt hash is kept in path. The token
// itself is returned only when the file is created (at the first start),
// to be printed once; later starts read the hash and return "". Removing
// the file makes a new token.
func FirstStartToken(path string) (User, string, error) {
	u := User{Name: TokenUser, Role: RoleOperator}
	if h, err := os.ReadFile(path); err == nil {
		if _, err := bcrypt.Cost(h); err != nil {
			return u, "", fmt.Errorf("console token file %s: not a bcrypt hash (remove it for a new token): %w", path, err)
		}
		u.Hash = h
		return u, "", nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return u, "", fmt.Errorf("console token file: %w", err)
	}
	token := randomString(18)
	h, err := bcrypt.GenerateFromPassword([]byte(token), bcrypt.DefaultCost)
	if err != nil {
		return u, "", fmt.Errorf("console token: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return u, "", fmt.Errorf("console token file: %w", err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return u, "", fmt.Errorf("console token file: %w", err)
	}
	_, err = f.Write(h)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return u, "", fmt.Errorf("console token file: %w", err)
	}
	u.Hash = h
	return u, token, nil
}

func randomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return base64.RawURLEncoding.EncodeToString(b)
}

// session is a signed-in browser.
type session struct {
	user    string
	role    string
	csrf    string
	expires time.Time
}

// sessionTTL is how long a session lasts without use.
const sessionTTL = 12 * time.Hour

// maxSessions bounds the sessions kept: signing in again and again must
// not grow memory without end.
const maxSessions = 10000

// sessions are the signed-in browsers, in memory: a restarted console asks
// everyone to sign in again.
type sessions struct {
	mu sync.Mutex
	m  map[string]*session
}

func (s *sessions) create(u User, now time.Time) (string, *session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = make(map[string]*session)
	}
	if len(s.m) >= maxSessions {
		for id, se := range s.m {
			if now.After(se.expires) {
				delete(s.m, id)
			}
		}
		if len(s.m) >= maxSessions {
			clear(s.m)
		}
	}
	id := randomString(32)
	se := &session{user: u.Name, role: u.Role, csrf: randomString(32), expires: now.Add(sessionTTL)}
	s.m[id] = se
	return id, se
}

func (s *sessions) get(id string, now time.Time) *session {
	s.mu.Lock()
	defer s.mu.Unlock()
	se := s.m[id]
	if se == nil {
		return nil
	}
	if now.After(se.expires) {
		delete(s.m, id)
		return nil
	}
	se.expires = now.Add(sessionTTL)
	cp := *se
	return &cp
}

func (s *sessions) remove(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, id)
}

const sessionCookie = "bucketferry_console"

// csrfOK checks the token an action carries (header X-CSRF-Token, or form
// field csrf) against the session's.
func csrfOK(r *http.Request, se *session) bool {
	got := r.Header.Get("X-CSRF-Token")
	if got == "" {
		got = r.PostFormValue("csrf")
	}
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(se.csrf)) == 1
}
