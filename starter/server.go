package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/bucketferry/bucketferry/config"
	"github.com/bucketferry/bucketferry/embedded"
	"github.com/bucketferry/bucketferry/internal/profiling"
	"github.com/bucketferry/bucketferry/jobclient"
	"github.com/bucketferry/bucketferry/migration"
	"github.com/bucketferry/bucketferry/runner"
)

// serverFlags override the config's server section.
type serverFlags struct {
	stateDir, address, uiAddress, consoleAddress string
}

func (f *serverFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.stateDir, "state-dir", "", "`DIR` of the embedded server's SQLite state (default server.stateDir, "+config.DefaultStateDir+")")
	fs.StringVar(&f.address, "address", "", "embedded server's frontend `HOST:PORT` (default server.address, "+config.DefaultServerAddress+")")
	fs.StringVar(&f.uiAddress, "ui-address", "", "Temporal Web UI `HOST:PORT`, - for none (default server.uiAddress, "+config.DefaultUIAddress+")")
	fs.StringVar(&f.consoleAddress, "console-address", "", "web console `HOST:PORT` on loopback, - for none (default console.address, "+config.DefaultConsoleAddress+")")
}

func (f *serverFlags) apply(cfg *config.Config) {
	s := &cfg.Server
	if f.consoleAddress != "" {
		cfg.Console.Address = f.consoleAddress
	}
	if f.stateDir != "" {
		s.StateDir = f.stateDir
	}
	if f.address != "" {
		s.Address = f.address
	}
	if f.uiAddress != "" {
		s.UIAddress = f.uiAddress
	}
}

// localServer is the embedded Temporal server with a client on it and,
// for start and demo, a worker in the same process.
type localServer struct {
	srv     *embedded.Server
	c       client.Client
	w       worker.Worker
	logFile *os.File
}

// startLocal starts the embedded server on cfg.Server and, with withWorker,
// a worker configured by cfg (its log goes to worker.log in the state
// directory so that the terminal shows the progress).
func startLocal(ctx context.Context, cfg *config.Config, withWorker bool) (*localServer, error) {
	srv, err := embedded.Start(ctx, embedded.Options{
		StateDir:         cfg.Server.StateDir,
		Address:          cfg.Server.Address,
		UIAddress:        cfg.Server.UIAddress,
		Namespace:        cfg.Temporal.Namespace,
		SearchAttributes: jobclient.SearchAttributeTypes(),
		PostgresDSN:      cfg.Server.PostgresDSN.Value(),
		TLS: embedded.TLSFiles{
			CertFile: cfg.Server.TLS.CertFile, KeyFile: cfg.Server.TLS.KeyFile, CAFile: cfg.Server.TLS.CAFile,
		},
		InsecureNetwork: cfg.Server.InsecureNetwork,
		UIUser:          cfg.Server.UIUser,
		UIPassword:      cfg.Server.UIPassword.Value(),
	})
	if err != nil {
		return nil, err
	}
	for _, w := range srv.Warnings() {
		// On stderr, where a terminal or a container log shows it even
		// when stdout is redirected.
		fmt.Fprintf(os.Stderr, "\n%s\n\n", w)
	}
	l := &localServer{srv: srv}
	l.c, err = client.DialContext(ctx, client.Options{
		HostPort:  srv.FrontendAddress(),
		Namespace: srv.Namespace(),
		Logger:    slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		// The server's internal identity: this process is the server.
		ConnectionOptions: client.ConnectionOptions{TLS: srv.ClientTLS()},
	})
	if err != nil {
		l.Close()
		return nil, fmt.Errorf("connect to the embedded server: %w", err)
	}
	if withWorker {
		path := filepath.Join(cfg.Server.StateDir, "worker.log")
		if l.logFile, err = os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644); err != nil {
			l.Close()
			return nil, fmt.Errorf("worker log: %w", err)
		}
		if l.w, err = runner.NewWorker(l.c, cfg, cfg.Logger(l.logFile)); err != nil {
			l.Close()
			return nil, err
		}
		if err := l.w.Start(); err != nil {
			l.w = nil
			l.Close()
			return nil, fmt.Errorf("start the in-process worker: %w", err)
		}
	}
	return l, nil
}

// conn is the connection the job sub-commands use, on the embedded server.
func (l *localServer) conn(cfg *config.Config) *conn {
	return &conn{cfg: cfg, c: l.c, namespace: l.srv.Namespace(), address: l.srv.FrontendAddress(), webUI: l.srv.WorkflowURL}
}

// console serves the web console on the embedded server, its audit log
// in the state directory beside the worker's, so that the terminal shows
// the job's progress.
func (l *localServer) console(ctx context.Context, cfg *config.Config) (*runningConsole, error) {
	audit := slog.New(slog.DiscardHandler)
	if l.logFile != nil {
		audit = slog.New(slog.NewTextHandler(l.logFile, nil))
	}
	return startConsole(ctx, cfg, l.c, l.srv.Namespace(), l.srv.WorkflowURL, audit)
}

// Close stops the worker (running activities get the worker's shutdown
// timeout, and their heartbeats let a later run resume them), the client
// and the server. The state stays in the state directory.
func (l *localServer) Close() {
	if l.w != nil {
		l.w.Stop()
	}
	if l.c != nil {
		l.c.Close()
	}
	_ = l.srv.Stop() // the state is in the file whatever Stop says
	if l.logFile != nil {
		l.logFile.Close()
	}
}

// runServer runs the embedded Temporal server (and Web UI) alone, for
// workers on this host or others, until interrupted.
func runServer(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	setUsage(fs, "[flags]", "Run a Temporal server with its state in a SQLite file, and the Temporal Web UI, until\ninterrupted. Workers on this host or others connect to its address (temporal.address);\njobs are started with `starter start` against it. Stopped and started again on the same\nstate directory, it resumes every job.")
	var cf connFlags
	cf.register(fs)
	var sf serverFlags
	sf.register(fs)
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to this `file` when the server stops")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("server: unexpected arguments %q", fs.Args())
	}
	cfg, err := config.Load(cf.configPath)
	if err != nil {
		return err
	}
	stopProfiling, err := profiling.Start("", *cpuProfile, slog.Default())
	if err != nil {
		return err
	}
	defer stopProfiling()
	sf.apply(cfg)
	l, err := startLocal(ctx, cfg, false)
	if err != nil {
		return err
	}
	defer l.Close()
	state := cfg.Server.StateDir
	if cfg.Server.PostgresDSN.Value() != "" {
		state = "PostgreSQL"
	}
	fmt.Fprintf(stdout, "Temporal server ready (state in %s)\n", state)
	fmt.Fprintf(stdout, "  frontend:  %s  namespace %s\n", l.srv.FrontendAddress(), l.srv.Namespace())
	if u := l.srv.UIURL(); u != "" {
		login := ""
		if cfg.Server.UIPassword != "" {
			login = fmt.Sprintf("  (login: %s and server.uiPassword)", cfg.Server.UIUser)
		}
		fmt.Fprintf(stdout, "  Web UI:    %s%s\n", u, login)
	}
	rc, err := startConsole(ctx, cfg, l.c, l.srv.Namespace(), l.srv.WorkflowURL, slog.New(slog.NewTextHandler(os.Stderr, nil)))
	if err != nil {
		return err
	}
	defer rc.stop()
	rc.print(stdout, "  console:   ")
	fmt.Fprintf(stdout, "workers:     worker -config FILE   with temporal.address: %s\n", advertised(cfg.Server.Address, l.srv.FrontendAddress()))
	if cfg.Server.TLS.Enabled() {
		fmt.Fprintf(stdout, "             and temporal.tls: enabled, caFile (the CA of %s), certFile and keyFile (a worker certificate)\n", cfg.Server.TLS.CertFile)
		fmt.Fprintln(stdout, "mutual TLS:  only clients with a certificate signed by "+cfg.Server.TLS.CAFile+" get in; certificate files are re-read when they change")
	}
	fmt.Fprintln(stdout, "Ctrl-C stops the server; running jobs resume when it starts again on the same state directory.")
	<-ctx.Done()
	fmt.Fprintln(stdout, "stopping the server")
	return nil
}

// advertised is the address to give workers: the configured one, unless
// it listens on every interface.
func advertised(configured, actual string) string {
	if host, port, err := net.SplitHostPort(configured); err == nil && (host == "0.0.0.0" || host == "::") {
		if name, err := os.Hostname(); err == nil {
			return name + ":" + port
		}
	}
	return actual
}

// startEmbedded runs `start` on the embedded server with an in-process
// worker: the single-host mode. The job's state lives in the state
// directory; killed at any moment and run again with the same command, the
// job resumes.
func startEmbedded(ctx context.Context, cfg *config.Config, id string, spec migration.JobSpec, f startFlags, w io.Writer) error {
	if f.detach {
		return errors.New("-detach needs a Temporal server that outlives this command: run `starter server` and set temporal.address (or BUCKETFERRY_TEMPORAL_ADDRESS) to its address")
	}
	// An unknown store would only fail in the worker: say it now.
	for _, name := range []string{spec.Source.Store, spec.Destination.Store} {
		if _, err := cfg.Store(name); err != nil {
			return fmt.Errorf("the in-process worker cannot make store %q: %w", name, err)
		}
	}
	f.serverFlags.apply(cfg)
	l, err := startLocal(ctx, cfg, true)
	if err != nil {
		return err
	}
	defer l.Close()
	cn := l.conn(cfg)
	fmt.Fprintf(w, "embedded Temporal server at %s, state in %s (worker log: %s)\n", cn.address, cfg.Server.StateDir,
		filepath.Join(cfg.Server.StateDir, "worker.log"))
	if u := l.srv.UIURL(); u != "" {
		fmt.Fprintf(w, "Temporal Web UI: %s\n", u)
	}
	rc, err := l.console(ctx, cfg)
	if err != nil {
		return err
	}
	defer rc.stop()
	rc.print(w, "console: ")
	if f.jobID == "" {
		// Run again after a crash, the same command finds its job.
		found, err := findRunningJob(ctx, cn.c, cn.namespace, spec)
		if err != nil {
			return err
		}
		if found != "" {
			id = found
		}
	}
	h := hints{job: id, configPath: f.conn.configPath}
	err = startJob(ctx, cn, id, spec, f, h, w)
	if ctx.Err() != nil {
		fmt.Fprintf(w, "the job's state is in %s: run the same command to resume it\n", cfg.Server.StateDir)
	}
	return err
}

// findRunningJob returns the id of a running job of the embedded server
// whose spec equals spec, or "".
func findRunningJob(ctx context.Context, c client.Client, namespace string, spec migration.JobSpec) (string, error) {
	resp, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
		Namespace: namespace,
		Query:     fmt.Sprintf("WorkflowType = %q AND ExecutionStatus = 'Running'", migration.JobWorkflow),
	})
	if err != nil {
		return "", fmt.Errorf("list running jobs: %w", err)
	}
	for _, e := range resp.GetExecutions() {
		id := e.GetExecution().GetWorkflowId()
		got, err := jobclient.SpecOf(ctx, c, id)
		if err != nil {
			continue // not a job this starter can read: not ours to attach to
		}
		// A run continued-as-new carries the spec with its defaults filled.
		got.SearchAttributes = spec.SearchAttributes
		a, errA := json.Marshal(got.WithDefaults(id))
		b, errB := json.Marshal(spec.WithDefaults(id))
		if errA == nil && errB == nil && bytes.Equal(a, b) {
			return id, nil
		}
	}
	return "", nil
}
