package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/bucketferry/bucketferry/config"
	"github.com/bucketferry/bucketferry/jobclient"
	"github.com/bucketferry/bucketferry/migration"
)

// Exit codes of the job sub-commands (wait, and start or status while they
// watch a job to its end).
const (
	exitSucceeded            = 0
	exitFailed               = 1
	exitCompletedWithFailure = 3
)

// exitError carries the process exit code a job's jobclient.Outcome maps to, so that
// main can stay a single call to run.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// ExitCode is the status the process should exit with.
func (e *exitError) ExitCode() int { return e.code }

// exitCode maps an error returned by run to the process exit code.
func exitCode(err error) int {
	if err == nil {
		return exitSucceeded
	}
	var ee interface{ ExitCode() int }
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	return exitFailed
}

// connFlags are the flags every job sub-command has.
type connFlags struct {
	configPath string
}

func (f *connFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.configPath, "config", os.Getenv("BUCKETFERRY_CONFIG"),
		"configuration `FILE` with the Temporal connection (and the stores, for failures); default $BUCKETFERRY_CONFIG")
}

// conn is an open connection to Temporal.
type conn struct {
	cfg       *config.Config
	c         client.Client
	namespace string
	address   string
	secure    bool // TLS or an API key: the printed CLI line needs more flags
	// webUI links to a workflow in the Web UI, when the starter serves it.
	webUI func(workflowID, runID string) string
}

func (c *conn) Close() { c.c.Close() }

// dial loads the configuration and connects to Temporal. The SDK logs only
// warnings, to stderr, so that stdout stays the command's own output.
func (f *connFlags) dial(ctx context.Context) (*conn, error) {
	cfg, err := config.Load(f.configPath)
	if err != nil {
		return nil, err // names the file
	}
	return dialConfig(ctx, cfg)
}

// dialJob parses a job sub-command's flags and its JOB argument, then
// connects.
func (f *connFlags) dialJob(ctx context.Context, fs *flag.FlagSet, args []string) (string, *conn, error) {
	id, err := jobArg(fs, args)
	if err != nil {
		return "", nil, err
	}
	cn, err := f.dial(ctx)
	if err != nil {
		return "", nil, err
	}
	return id, cn, nil
}

// dialConfig connects to the Temporal server cfg names.
func dialConfig(ctx context.Context, cfg *config.Config) (*conn, error) {
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	opts, err := cfg.ClientOptions(logger)
	if errors.Is(err, config.ErrNoAddress) {
		// Like the Temporal CLI: a local server (the embedded one, or
		// `temporal server start-dev`) at the default address.
		local := *cfg
		local.Temporal.Address = client.DefaultHostPort
		opts, err = local.ClientOptions(logger)
	}
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	c, err := client.DialContext(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("connect to Temporal at %s: %w", cmp.Or(opts.HostPort, client.DefaultHostPort), cfg.ExplainDialError(ctx, err))
	}
	return &conn{
		cfg: cfg, c: c,
		namespace: cmp.Or(opts.Namespace, client.DefaultNamespace),
		address:   cmp.Or(opts.HostPort, client.DefaultHostPort),
		secure:    opts.ConnectionOptions.TLS != nil || opts.Credentials != nil,
	}, nil
}

// parseInterleaved parses flags that may come before or after positional
// arguments ("status JOB -watch" as well as "status -watch JOB"), which the
// flag package alone does not allow.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// jobArg parses a sub-command's flags and its one JOB argument.
func jobArg(fs *flag.FlagSet, args []string) (string, error) {
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return "", err
	}
	if len(pos) != 1 {
		fs.Usage()
		return "", fmt.Errorf("%s: want exactly one JOB id, got %d arguments", fs.Name(), len(pos))
	}
	return pos[0], nil
}

// setUsage gives a sub-command a usage message that says what it does.
func setUsage(fs *flag.FlagSet, args, about string) {
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: starter %s %s\n\n%s\n\nflags:\n", fs.Name(), args, about)
		fs.PrintDefaults()
	}
}

// hints are the command lines a user can type next about a job.
type hints struct {
	job        string
	configPath string
}

func (h hints) cmd(sub string, extra ...string) string {
	s := "starter " + sub
	for _, e := range extra {
		s += " " + e
	}
	if h.configPath != "" && h.configPath != os.Getenv("BUCKETFERRY_CONFIG") {
		s += " -config " + shellQuote(h.configPath)
	}
	return s + " " + shellQuote(h.job)
}

// outcomeError turns a job's jobclient.Outcome into run's error and so into the
// process exit code.
func outcomeError(id string, o jobclient.Outcome) error {
	if o.Err != nil {
		return &exitError{code: exitFailed, err: fmt.Errorf("job %s %s", id, jobclient.FailedPhrase(o.Err))}
	}
	switch o.Result.Status {
	case migration.StatusSucceeded:
		return nil
	case migration.StatusCompletedWithFailures:
		return &exitError{code: exitCompletedWithFailure, err: fmt.Errorf("job %s completed with %s failed objects", id, formatCount(o.Result.Counts.Failed))}
	}
	return &exitError{code: exitFailed, err: fmt.Errorf("job %s ended with status %q", id, o.Result.Status)}
}

// printOutcome writes how a job ended.
func printOutcome(w io.Writer, id string, o jobclient.Outcome, h hints) {
	if o.Err != nil {
		fmt.Fprintf(w, "job %s %s\n", id, jobclient.FailedPhrase(o.Err))
		return
	}
	for _, l := range renderResult(id, o.Result, h) {
		fmt.Fprintln(w, l)
	}
}

// runStatus prints a job's progress, or its result once it has ended; with
// -watch it keeps the display up to date until the job ends.
func runStatus(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	setUsage(fs, "[flags] JOB", "Show a job's progress (status, shards, counts, rate, ETA, failures) or, once it has ended,\nits result. With -watch, follow it to its end and exit as wait does.")
	var cf connFlags
	cf.register(fs)
	watch := fs.Bool("watch", false, "keep watching until the job ends (redraws in place on a terminal, timestamped lines otherwise)")
	interval := fs.Duration("interval", 0, "refresh interval of -watch (default 1s on a terminal, 5s otherwise)")
	id, cn, err := cf.dialJob(ctx, fs, args)
	if err != nil {
		return err
	}
	defer cn.Close()
	h := hints{job: id, configPath: cf.configPath}
	if *watch {
		return watchJob(ctx, cn.c, id, stdout, watchOptions{interval: *interval, hints: h, namespace: cn.namespace})
	}
	d, err := jobclient.Describe(ctx, cn.c, id)
	if err != nil {
		return err
	}
	if !jobclient.IsRunning(d) {
		o, err := jobclient.Wait(ctx, cn.c, id)
		if err != nil {
			return err
		}
		printOutcome(stdout, id, o, h)
		return nil
	}
	v := jobView{id: id, now: time.Now(), hints: h}
	p, err := jobclient.Progress(ctx, cn.c, id)
	if err != nil {
		v.problem = err.Error()
		v.started = d.GetWorkflowExecutionInfo().GetStartTime().AsTime()
	} else {
		v.progress = &p
		if f, err := jobclient.InFlightOf(ctx, cn.c, cn.namespace, id); err == nil {
			v.inFlight = f
		}
	}
	for _, l := range renderProgress(v) {
		fmt.Fprintln(stdout, l)
	}
	return nil
}

// runWait blocks until a job ends and exits 0 when it succeeded, 3 when it
// completed with failed objects, 1 otherwise.
func runWait(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("wait", flag.ContinueOnError)
	setUsage(fs, "[flags] JOB", "Wait for a job to end and print its result. Exit status: 0 succeeded, 3 completed with\nfailed objects (see the failures sub-command), 1 failed, canceled or terminated.")
	var cf connFlags
	cf.register(fs)
	id, cn, err := cf.dialJob(ctx, fs, args)
	if err != nil {
		return err
	}
	defer cn.Close()
	o, err := jobclient.Wait(ctx, cn.c, id)
	if err != nil {
		return err
	}
	printOutcome(stdout, id, o, hints{job: id, configPath: cf.configPath})
	return outcomeError(id, o)
}

// runCancel asks a job to stop. The job cancels its shards and ends as
// canceled; "wait" shows when.
func runCancel(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("cancel", flag.ContinueOnError)
	setUsage(fs, "[flags] JOB", "Ask a running job to stop: it cancels its shards and ends as canceled.")
	var cf connFlags
	cf.register(fs)
	id, cn, err := cf.dialJob(ctx, fs, args)
	if err != nil {
		return err
	}
	defer cn.Close()
	if err := jobclient.Cancel(ctx, cn.c, id); err != nil {
		return err
	}
	h := hints{job: id, configPath: cf.configPath}
	fmt.Fprintf(stdout, "cancellation of job %s requested; it stops its shards and ends as canceled\n", id)
	fmt.Fprintf(stdout, "  wait for it: %s\n", h.cmd("wait"))
	return nil
}
