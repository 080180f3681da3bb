package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"go.temporal.io/sdk/client"

	"github.com/bucketferry/bucketferry/config"
	"github.com/bucketferry/bucketferry/console"
)

// consoleUsers returns who may sign in to the console: the users of the
// configuration or, with none, the token login, whose token is returned
// too at its first start only (to be printed once).
func consoleUsers(cfg *config.Config) ([]console.User, string, string, error) {
	var users []console.User
	for _, s := range strings.FieldsFunc(cfg.Console.Users, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\t' }) {
		u, err := console.ParseUser(s)
		if err != nil {
			return nil, "", "", fmt.Errorf("config: console.users: %w", err)
		}
		users = append(users, u)
	}
	if len(users) > 0 {
		return users, "", "", nil
	}
	path := cfg.Console.TokenFile
	if path == "" {
		path = filepath.Join(cfg.Server.StateDir, "console-token")
	}
	u, token, err := console.FirstStartToken(path)
	if err != nil {
		return nil, "", "", err
	}
	return []console.User{u}, token, path, nil
}

// runningConsole is a console served in the background.
type runningConsole struct {
	url       string
	token     string // printed once, at the first start
	tokenFile string
	moved     string // the configured address, when it was taken
	done      chan error
	cancel    context.CancelFunc
}

// startConsole serves the console on cfg.Console.Address (a free port
// when that one is taken: another starter may run on this host) until
// stop or ctx ends; nil when the console is turned off.
func startConsole(ctx context.Context, cfg *config.Config, c client.Client, namespace string, webURL func(string, string) string, audit *slog.Logger) (*runningConsole, error) {
	if cfg.Console.Address == "-" {
		return nil, nil
	}
	users, token, tokenFile, err := consoleUsers(cfg)
	if err != nil {
		return nil, err
	}
	if webURL == nil && cfg.Console.WebUIURL != "" {
		webURL = webUILinks(cfg.Console.WebUIURL, namespace)
	}
	h, err := console.New(console.Options{Client: c, Namespace: namespace, Config: cfg, Users: users, Logger: audit, WebURL: webURL})
	if err != nil {
		return nil, err
	}
	rc := &runningConsole{token: token, tokenFile: tokenFile, done: make(chan error, 1)}
	ln, err := net.Listen("tcp", cfg.Console.Address)
	if err != nil {
		host, _, _ := net.SplitHostPort(cfg.Console.Address)
		if ln, err = net.Listen("tcp", net.JoinHostPort(host, "0")); err != nil {
			return nil, fmt.Errorf("console: %w", err)
		}
		rc.moved = cfg.Console.Address
	}
	rc.url = "http://" + ln.Addr().String()
	sctx, cancel := context.WithCancel(ctx)
	rc.cancel = cancel
	go func() { rc.done <- console.Serve(sctx, ln, h) }()
	return rc, nil
}

// stop shuts the console down and waits for it.
func (rc *runningConsole) stop() {
	if rc == nil {
		return
	}
	rc.cancel()
	<-rc.done
}

// print writes the console's address line and, at its first start, the
// token to sign in with.
func (rc *runningConsole) print(w io.Writer, label string) {
	if rc == nil {
		return
	}
	fmt.Fprintf(w, "%s%s\n", label, rc.url)
	if rc.moved != "" {
		fmt.Fprintf(w, "             (console.address %s is in use: the console took a free port)\n", rc.moved)
	}
	if rc.token != "" {
		fmt.Fprintf(w, "             sign in as %s with the token %s\n", console.TokenUser, rc.token)
		fmt.Fprintf(w, "             (shown this once; its hash is in %s: remove that file for a new token)\n", rc.tokenFile)
	} else if rc.tokenFile != "" {
		fmt.Fprintf(w, "             sign in as %s with the token printed at its first start (or remove %s for a new one)\n", console.TokenUser, rc.tokenFile)
	}
}

// webUILinks links to a workflow in the Temporal Web at base.
func webUILinks(base, namespace string) func(string, string) string {
	base = strings.TrimRight(base, "/") + "/namespaces/" + url.PathEscape(namespace) + "/workflows"
	return func(id, run string) string {
		if run == "" {
			return base + "?query=" + url.QueryEscape(fmt.Sprintf("WorkflowId=%q", id))
		}
		return base + "/" + url.PathEscape(id) + "/" + url.PathEscape(run) + "/history"
	}
}

// runConsole serves the console alone, against the Temporal server of the
// configuration (self-hosted, Temporal Cloud, or `starter server`).
func runConsole(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("console", flag.ContinueOnError)
	setUsage(fs, "[flags]", "Serve the web console (jobs, progress, failures, actions, new jobs, schedules) against the\n"+
		"Temporal server of the configuration (temporal.*), until interrupted. Sign in with a user of\n"+
		"console.users or, with none, the token printed at the first start.")
	var cf connFlags
	cf.register(fs)
	addr := fs.String("address", "", "console `HOST:PORT` on loopback (default console.address, "+config.DefaultConsoleAddress+")")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("console: unexpected arguments %q", fs.Args())
	}
	cfg, err := config.Load(cf.configPath)
	if err != nil {
		return err
	}
	if *addr != "" {
		cfg.Console.Address = *addr
		if err := cfg.Validate(); err != nil {
			return err
		}
	}
	if cfg.Console.Address == "-" {
		return errors.New("console.address is \"-\": the console is turned off")
	}
	cn, err := dialConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer cn.Close()
	rc, err := startConsole(ctx, cfg, cn.c, cn.namespace, nil, slog.New(slog.NewTextHandler(os.Stderr, nil)))
	if err != nil {
		return err
	}
	defer rc.stop()
	fmt.Fprintf(stdout, "console of the jobs at %s (namespace %s)\n", cn.address, cn.namespace)
	rc.print(stdout, "  console:   ")
	fmt.Fprintln(stdout, "Ctrl-C stops the console.")
	select {
	case <-ctx.Done():
	case err := <-rc.done:
		rc.done <- err // for stop
		return err
	}
	return nil
}
