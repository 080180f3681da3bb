// Package console is bucketferry's web console: the jobs with their state,
// progress, failures and actions (pause, resume, cancel, limits, retry,
// export, second-pass schedule), a form that starts a job after a dry run,
// and the schedules. It calls package jobclient, as the starter command
// line does, and is built with Go alone: its pages are html/template and a
// little JavaScript and CSS embedded in the binary.
//
// Nobody uses it without signing in; a signed-in browser holds an HttpOnly,
// SameSite=Strict session cookie, and every action must also carry the
// session's CSRF token. Readers look; operators act. Every action is logged
// with the user who did it.
package console

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/client"
	"golang.org/x/crypto/bcrypt"

	"github.com/bucketferry/bucketferry/config"
	"github.com/bucketferry/bucketferry/jobclient"
)

//go:embed web
var webFS embed.FS

// Options configure a console.
type Options struct {
	// Client reaches the Temporal server the jobs run on.
	Client client.Client
	// Namespace is the client's namespace.
	Namespace string
	// Config gives the stores (by name) for failure logs, dry runs and the
	// new-job form.
	Config *config.Config
	// Users may sign in; at least one.
	Users []User
	// Logger receives the audit log: every sign-in and action, with who.
	Logger *slog.Logger
	// WebURL links a job to its page in Temporal Web; nil: no link.
	WebURL func(workflowID, runID string) string
}

// Server is the console's HTTP handler.
type Server struct {
	o         Options
	jobs      *jobclient.Lister
	sessions  sessions
	pages     map[string]*template.Template
	mux       *http.ServeMux
	dummyHash []byte
	now       func() time.Time
}

// New makes a console.
func New(o Options) (*Server, error) {
	if o.Client == nil || o.Config == nil {
		return nil, errors.New("console: a Temporal client and a configuration are required")
	}
	if len(o.Users) == 0 {
		return nil, errors.New("console: no user can sign in")
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	dummy, err := bcrypt.GenerateFromPassword([]byte("no such user"), bcrypt.DefaultCost)
	if err != nil {
		return nil, fmt.Errorf("console: %w", err)
	}
	s := &Server{
		o:         o,
		jobs:      &jobclient.Lister{C: o.Client, Namespace: o.Namespace},
		pages:     map[string]*template.Template{},
		mux:       http.NewServeMux(),
		dummyHash: dummy,
		now:       time.Now,
	}
	funcs := template.FuncMap{"json": toJSON}
	for _, name := range []string{"login", "jobs", "job", "new", "schedules"} {
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(webFS, "web/layout.html", "web/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("console: template %s: %w", name, err)
		}
		s.pages[name] = t
	}
	s.routes()
	return s, nil
}

func (s *Server) routes() {
	static, _ := fs.Sub(webFS, "web/static") // a literal path in the embedded tree
	s.mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	s.mux.HandleFunc("GET /login", s.loginPage)
	s.mux.HandleFunc("POST /login", s.login)
	s.mux.HandleFunc("POST /logout", s.action("sign out", s.logout))

	s.mux.HandleFunc("GET /{$}", s.page("jobs"))
	s.mux.HandleFunc("GET /jobs/{id}", s.page("job"))
	s.mux.HandleFunc("GET /new", s.page("new"))
	s.mux.HandleFunc("GET /schedules", s.page("schedules"))

	s.mux.HandleFunc("GET /api/jobs", s.read(s.listJobs))
	s.mux.HandleFunc("GET /api/jobs/{id}", s.read(s.getJob))
	s.mux.HandleFunc("GET /api/jobs/{id}/shards", s.read(s.getShards))
	s.mux.HandleFunc("GET /api/jobs/{id}/limits", s.read(s.getLimits))
	s.mux.HandleFunc("GET /api/jobs/{id}/failures", s.read(s.getFailures))
	s.mux.HandleFunc("GET /jobs/{id}/failures.csv", s.read(s.exportFailures(jobclient.FormatCSV)))
	s.mux.HandleFunc("GET /jobs/{id}/failures.jsonl", s.read(s.exportFailures(jobclient.FormatJSONL)))
	s.mux.HandleFunc("GET /api/schedules", s.read(s.listSchedules))

	s.mux.HandleFunc("POST /api/plan", s.action("dry run", s.plan))
	s.mux.HandleFunc("POST /api/jobs", s.operator("start", s.startJob))
	s.mux.HandleFunc("POST /api/jobs/{id}/pause", s.operator("pause", s.pause))
	s.mux.HandleFunc("POST /api/jobs/{id}/resume", s.operator("resume", s.resume))
	s.mux.HandleFunc("POST /api/jobs/{id}/cancel", s.operator("cancel", s.cancel))
	s.mux.HandleFunc("POST /api/jobs/{id}/retry", s.operator("retry failed", s.retry))
	s.mux.HandleFunc("POST /api/jobs/{id}/limits", s.operator("change limits", s.setLimits))
	s.mux.HandleFunc("POST /api/jobs/{id}/schedule", s.operator("schedule second pass", s.createSchedule))
	s.mux.HandleFunc("POST /api/schedules/{id}/delete", s.operator("delete schedule", s.deleteSchedule))
}

// ServeHTTP serves the console with headers that keep it out of frames
// and other sites' scripts.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'")
	s.mux.ServeHTTP(w, r)
}

// Serve serves the console on ln until ctx ends, then shuts it down.
func Serve(ctx context.Context, ln net.Listener, h http.Handler) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return fmt.Errorf("console: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx) // exports under way are cut: the browser sees an incomplete download
	<-done
	return nil
}

// pageData is what every page template gets.
type pageData struct {
	User, Role, CSRF string
	Operator         bool
	ID               string // the job or nothing
	WebURL           string
	Stores           []string
	States           []string
	Error            string
	Next             string
}

func (s *Server) page(name string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		se := s.session(r)
		if se == nil {
			s.renderLogin(w, http.StatusUnauthorized, "", r.URL.RequestURI())
			return
		}
		d := pageData{User: se.user, Role: se.role, CSRF: se.csrf, Operator: se.role == RoleOperator, ID: r.PathValue("id"), States: jobclient.States()}
		for name := range s.o.Config.Stores {
			d.Stores = append(d.Stores, name)
		}
		slices.Sort(d.Stores)
		if name == "job" && s.o.WebURL != nil {
			d.WebURL = s.o.WebURL(d.ID, "")
		}
		s.render(w, http.StatusOK, name, d)
	}
}

func (s *Server) render(w http.ResponseWriter, status int, name string, d pageData) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if err := s.pages[name].Execute(w, d); err != nil {
		s.o.Logger.Warn("console: render page", "page", name, "error", err)
	}
}

func (s *Server) renderLogin(w http.ResponseWriter, status int, msg, next string) {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/login") {
		next = "/"
	}
	s.render(w, status, "login", pageData{Error: msg, Next: next})
}

func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	s.renderLogin(w, http.StatusOK, "", r.URL.Query().Get("next"))
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if !sameOrigin(r) {
		// Another site's form must not sign a browser in (login CSRF).
		s.renderLogin(w, http.StatusForbidden, "Sign in from the console's own page.", "/")
		return
	}
	name, password := r.PostFormValue("user"), r.PostFormValue("password")
	u, ok := s.checkLogin(name, password)
	if !ok {
		s.o.Logger.Warn("console: sign-in refused", "user", name, "remote", r.RemoteAddr)
		s.renderLogin(w, http.StatusUnauthorized, "Wrong user name or password.", r.PostFormValue("next"))
		return
	}
	id, _ := s.sessions.create(u, s.now())
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: id, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode,
		Secure: r.TLS != nil, MaxAge: int(sessionTTL / time.Second),
	})
	s.o.Logger.Info("console: signed in", "user", u.Name, "role", u.Role, "remote", r.RemoteAddr)
	next := r.PostFormValue("next")
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") {
		next = "/"
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// checkLogin returns the user whose name and password match; an unknown
// name costs a bcrypt comparison too, so that timing does not tell names.
func (s *Server) checkLogin(name, password string) (User, bool) {
	for _, u := range s.o.Users {
		if u.Name == name {
			return u, bcrypt.CompareHashAndPassword(u.Hash, []byte(password)) == nil
		}
	}
	_ = bcrypt.CompareHashAndPassword(s.dummyHash, []byte(password))
	return User{}, false
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request, _ *session) (any, error) {
	if c, err := r.Cookie(sessionCookie); err == nil {
		s.sessions.remove(c.Value)
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode, MaxAge: -1})
	return map[string]string{"redirect": "/login"}, nil
}

func (s *Server) session(r *http.Request) *session {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return nil
	}
	return s.sessions.get(c.Value, s.now())
}

// apiFunc is an API handler: it returns what to send as JSON, or an error.
type apiFunc func(w http.ResponseWriter, r *http.Request, se *session) (any, error)

// read serves a request that changes nothing to any signed-in user.
func (s *Server) read(h apiFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		se := s.session(r)
		if se == nil {
			writeJSON(w, http.StatusUnauthorized, apiError{"sign in first"})
			return
		}
		v, err := h(w, r, se)
		s.reply(w, v, err)
	}
}

// action serves a POST that acts: it needs a session and the session's
// CSRF token, and is logged with who did it.
func (s *Server) action(name string, h apiFunc) http.HandlerFunc {
	return s.guard(name, false, h)
}

// operator is an action only operators may take.
func (s *Server) operator(name string, h apiFunc) http.HandlerFunc {
	return s.guard(name, true, h)
}

func (s *Server) guard(name string, operatorOnly bool, h apiFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
		id := r.PathValue("id")
		se := s.session(r)
		if se == nil {
			s.o.Logger.Warn("console: action refused: no session", "action", name, "job", id, "remote", r.RemoteAddr)
			writeJSON(w, http.StatusUnauthorized, apiError{"sign in first"})
			return
		}
		if !sameOrigin(r) || !csrfOK(r, se) {
			s.o.Logger.Warn("console: action refused: no valid CSRF token", "action", name, "job", id, "user", se.user, "remote", r.RemoteAddr)
			writeJSON(w, http.StatusForbidden, apiError{"the request lacks this session's CSRF token: reload the page"})
			return
		}
		if operatorOnly && se.role != RoleOperator {
			s.o.Logger.Warn("console: action refused: read-only user", "action", name, "job", id, "user", se.user)
			writeJSON(w, http.StatusForbidden, apiError{"user " + se.user + " may only look (role " + se.role + ")"})
			return
		}
		v, err := h(w, r, se)
		if err != nil {
			s.o.Logger.Info("console: action failed", "action", name, "job", id, "user", se.user, "error", err)
		} else {
			s.o.Logger.Info("console: action", "action", name, "job", id, "user", se.user)
		}
		s.reply(w, v, err)
	}
}

// sameOrigin refuses a request another site's page sent: browsers say
// where a POST comes from in Origin.
func sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return true // not a browser's cross-site request; the CSRF token decides
	}
	u, err := url.Parse(o)
	return err == nil && u.Host == r.Host
}

// userError is an error the user made (a bad form): 400, not 500.
type userError struct{ error }

func (s *Server) reply(w http.ResponseWriter, v any, err error) {
	if err != nil {
		status := http.StatusBadGateway // Temporal or a store said no
		var ue userError
		if errors.As(err, &ue) {
			status = http.StatusBadRequest
		}
		writeJSON(w, status, apiError{err.Error()})
		return
	}
	if v != nil {
		writeJSON(w, http.StatusOK, v)
	}
}
