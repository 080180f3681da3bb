package embedded

import (
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"golang.org/x/crypto/bcrypt"

	"github.com/temporalio/ui-server/v2/server/api"
	"github.com/temporalio/ui-server/v2/server/auth"
	uiconfig "github.com/temporalio/ui-server/v2/server/config"
	"github.com/temporalio/ui-server/v2/server/cors"
	"github.com/temporalio/ui-server/v2/server/csrf"
	"github.com/temporalio/ui-server/v2/server/headers"
	"github.com/temporalio/ui-server/v2/server/route"
	"github.com/temporalio/ui-server/v2/ui"
)

// DefaultUIUser is the user name of the Web UI's login when none is set.
const DefaultUIUser = "admin"

// IsLoopback reports whether a listen host only accepts connections from
// this host: 127.0.0.0/8, ::1 and "localhost". Every other host, names
// included, may be reachable from other hosts.
func IsLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// UILoginRequired decides whether the Web UI on host asks for a login: it
// does whenever a password is set, and it must when the UI listens beyond
// loopback, where anyone reaching the port could otherwise start, cancel
// and terminate jobs.
func UILoginRequired(host string, passwordSet bool) (bool, error) {
	if passwordSet {
		return true, nil
	}
	if !IsLoopback(host) {
		return false, fmt.Errorf("the Web UI would listen on %s, beyond loopback, without a login: set server.uiPassword (a bcrypt hash, or the password itself in BUCKETFERRY_SERVER_UIPASSWORD), or listen on 127.0.0.1", host)
	}
	return false, nil
}

// uiHandler is the Temporal Web UI as an http.Handler: the UI server's own
// routes and middleware (as its NewServer assembles them) without its
// listener, so that the embedded server can put a login in front and serve
// it over TLS with certificates re-read on change. Running the UI server
// on a loopback port behind a proxy would leave that port open, unguarded,
// to every local user.
func uiHandler(cfg *uiconfig.Config) (http.Handler, func(), error) {
	provider, err := uiconfig.NewConfigProviderWithRefresh(cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("embedded: Web UI configuration: %w", err)
	}
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.Use(middleware.Recover())
	e.Use(middleware.Gzip())
	e.Use(cors.CORSMiddleware(cors.CORSConfig{
		AllowHeaders: []string{
			echo.HeaderOrigin, echo.HeaderContentType, echo.HeaderAccept,
			echo.HeaderXCSRFToken, echo.HeaderAuthorization, auth.AuthorizationExtrasHeader,
			"Caller-Type",
		},
		AllowCredentials: true,
		ConfigProvider:   provider,
	}))
	e.Use(middleware.Secure())
	cookieSecure := !cfg.CORS.CookieInsecure
	e.Use(csrf.EnsureTokenCookie(cookieSecure))
	e.Use(middleware.CSRFWithConfig(csrf.MiddlewareConfig(provider, cookieSecure)))
	e.Pre(route.PublicPath(cfg.PublicPath))
	route.SetHealthRoute(e)
	if err := route.SetAPIRoutes(e, provider, []api.Middleware{
		headers.WithForwardHeaders([]string{auth.AuthorizationExtrasHeader, "Caller-Type"}),
	}); err != nil {
		provider.Close()
		return nil, nil, fmt.Errorf("embedded: Web UI: %w", err)
	}
	assets, err := ui.Assets()
	if err == nil {
		assets, err = fs.Sub(assets, "local")
	}
	if err != nil {
		provider.Close()
		return nil, nil, fmt.Errorf("embedded: Web UI assets: %w", err)
	}
	if err := route.SetUIRoutes(e, cfg.PublicPath, assets); err != nil {
		provider.Close()
		return nil, nil, fmt.Errorf("embedded: Web UI routes: %w", err)
	}
	route.SetRenderRoute(e, cfg.PublicPath)
	return e, provider.Close, nil
}

// login asks for HTTP basic authentication (over HTTPS when the server
// has TLS) before anything of the UI, health check included.
type login struct {
	user   string
	secret string // a bcrypt hash ($2a$, $2b$, $2y$) or the password itself
	next   http.Handler

	// verified holds digests of Authorization headers that passed, so
	// that bcrypt (tens of milliseconds on purpose) runs once per browser
	// session rather than on each of the UI's many API calls. Only correct
	// credentials are kept: it holds one entry per password in use.
	verified sync.Map
}

// realm is shown by browsers in their login prompt.
const realm = `bucketferry Temporal Web`

func (l *login) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !l.check(r) {
		w.Header().Set("WWW-Authenticate", `Basic realm="`+realm+`", charset="UTF-8"`)
		http.Error(w, "login required: sign in with the Web UI user and password (server.uiUser, server.uiPassword)", http.StatusUnauthorized)
		return
	}
	// The UI server forwards Authorization to the frontend and skips its
	// CSRF check for requests that carry one: the password must go no
	// further, and the CSRF check must apply.
	r.Header.Del("Authorization")
	l.next.ServeHTTP(w, r)
}

func (l *login) check(r *http.Request) bool {
	header := r.Header.Get("Authorization")
	if header == "" {
		return false
	}
	digest := sha256.Sum256([]byte(header))
	if _, ok := l.verified.Load(digest); ok {
		return true
	}
	user, password, ok := r.BasicAuth()
	if !ok {
		return false
	}
	userOK := subtle.ConstantTimeCompare([]byte(user), []byte(l.user)) == 1
	var passOK bool
	if isBcrypt(l.secret) {
		passOK = bcrypt.CompareHashAndPassword([]byte(l.secret), []byte(password)) == nil
	} else {
		a, b := sha256.Sum256([]byte(password)), sha256.Sum256([]byte(l.secret))
		passOK = subtle.ConstantTimeCompare(a[:], b[:]) == 1
	}
	if !userOK || !passOK {
		// Slows guessing down without holding a lock.
		time.Sleep(300 * time.Millisecond)
		return false
	}
	l.verified.Store(digest, struct{}{})
	return true
}

func isBcrypt(s string) bool {
	return strings.HasPrefix(s, "$2a$") || strings.HasPrefix(s, "$2b$") || strings.HasPrefix(s, "$2y$")
}

// uiServer serves the UI handler on its own listener.
type uiServer struct {
	http  *http.Server
	close func()
	done  chan struct{}
}

func startUIServer(ln net.Listener, h http.Handler, tlsCfg *tls.Config, closeHandler func()) *uiServer {
	s := &uiServer{
		http: &http.Server{
			Handler:           h,
			TLSConfig:         tlsCfg,
			ReadHeaderTimeout: 30 * time.Second,
		},
		close: closeHandler,
		done:  make(chan struct{}),
	}
	go func() {
		defer close(s.done)
		// Both return when stop closes the server.
		if tlsCfg != nil {
			_ = s.http.ServeTLS(ln, "", "") // certificates from tlsCfg.GetCertificate
		} else {
			_ = s.http.Serve(ln)
		}
	}()
	return s
}

func (s *uiServer) stop() {
	_ = s.http.Close()
	<-s.done
	s.close()
}
