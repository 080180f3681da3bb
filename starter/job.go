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

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"

	"github.com/bucketferry/bucketferry/config"
	"github.com/bucketferry/bucketferry/migration"
)

// Exit codes of the job sub-commands (wait, and start or status while they
// watch a job to its end).
const (
	exitSucceeded            = 0
	exitFailed               = 1
	exitCompletedWithFailure = 3
)

// exitError carries the process exit code a job's outcome maps to, so that
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

// jobClient is the part of client.Client the job sub-commands use.
type jobClient interface {
	ExecuteWorkflow(ctx context.Context, options client.StartWorkflowOptions, workflow any, args ...any) (client.WorkflowRun, error)
	GetWorkflow(ctx context.Context, workflowID, runID string) client.WorkflowRun
	QueryWorkflow(ctx context.Context, workflowID, runID, queryType string, args ...any) (converter.EncodedValue, error)
	CancelWorkflow(ctx context.Context, workflowID, runID string) error
	DescribeWorkflowExecution(ctx context.Context, workflowID, runID string) (*workflowservice.DescribeWorkflowExecutionResponse, error)
	GetWorkflowHistory(ctx context.Context, workflowID, runID string, isLongPoll bool, filterType enumspb.HistoryEventFilterType) client.HistoryEventIterator
	OperatorService() operatorservice.OperatorServiceClient
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

// describeJob returns the job's current run, or an error saying it does
// not exist.
func describeJob(ctx context.Context, c jobClient, id string) (*workflowservice.DescribeWorkflowExecutionResponse, error) {
	d, err := c.DescribeWorkflowExecution(ctx, id, "")
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		return nil, fmt.Errorf("job %q not found", id)
	}
	if err != nil {
		return nil, fmt.Errorf("describe job %q: %w", id, err)
	}
	return d, nil
}

func isRunning(d *workflowservice.DescribeWorkflowExecutionResponse) bool {
	return d.GetWorkflowExecutionInfo().GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING
}

// queryTimeout bounds a progress query: with no worker polling the task
// queue, a query waits until its deadline.
const queryTimeout = 10 * time.Second

func queryProgress(ctx context.Context, c jobClient, id string) (migration.Progress, error) {
	ctx, cancel := context.WithTimeout(ctx, queryTimeout)
	defer cancel()
	var p migration.Progress
	v, err := c.QueryWorkflow(ctx, id, "", migration.QueryProgress)
	if err == nil {
		err = v.Get(&p)
	}
	if err != nil {
		if ctx.Err() != nil {
			return p, fmt.Errorf("no answer to the progress query within %s: is a worker polling task queue %q?", queryTimeout, migration.TaskQueue)
		}
		return p, fmt.Errorf("progress query: %w", err)
	}
	return p, nil
}

// outcome is how a job ended: its result, or the error it ended with.
type outcome struct {
	result migration.JobResult
	err    error // the workflow failed, was canceled, terminated or timed out
}

// waitJob blocks until the job (following its continue-as-new runs) ends.
// The error it returns is about waiting itself (interrupted, unreachable
// server); the job's own failure is in the outcome.
func waitJob(ctx context.Context, c jobClient, id string) (outcome, error) {
	var o outcome
	err := c.GetWorkflow(ctx, id, "").Get(ctx, &o.result)
	if ctx.Err() != nil {
		return o, ctx.Err()
	}
	if err != nil {
		var nf *serviceerror.NotFound
		if errors.As(err, &nf) {
			return o, fmt.Errorf("job %q not found", id)
		}
		if !isWorkflowOutcome(err) {
			return o, fmt.Errorf("wait for job %q: %w", id, err)
		}
		o.err = err
	}
	return o, nil
}

// isWorkflowOutcome tells the ways a workflow ends from errors in reaching
// the server.
func isWorkflowOutcome(err error) bool {
	var (
		app        *temporal.ApplicationError
		canceled   *temporal.CanceledError
		terminated *temporal.TerminatedError
		timeout    *temporal.TimeoutError
		panicked   *temporal.PanicError
		exec       *temporal.WorkflowExecutionError
	)
	return errors.As(err, &app) || errors.As(err, &canceled) || errors.As(err, &terminated) ||
		errors.As(err, &timeout) || errors.As(err, &panicked) || errors.As(err, &exec)
}

// describeOutcomeError says in a few words why a job ended without a
// result, without the SDK's wrapping of workflow and run ids.
func describeOutcomeError(err error) string {
	var (
		app        *temporal.ApplicationError
		canceled   *temporal.CanceledError
		terminated *temporal.TerminatedError
		timeout    *temporal.TimeoutError
	)
	switch {
	case errors.As(err, &canceled):
		return "canceled"
	case errors.As(err, &terminated):
		return "terminated"
	case errors.As(err, &timeout):
		return "timed out"
	case errors.As(err, &app):
		if app.Message() != "" {
			return app.Message()
		}
		return app.Error()
	}
	return err.Error()
}

// outcomeError turns a job's outcome into run's error and so into the
// process exit code.
func outcomeError(id string, o outcome) error {
	if o.err != nil {
		return &exitError{code: exitFailed, err: fmt.Errorf("job %s %s", id, failedPhrase(o.err))}
	}
	switch o.result.Status {
	case migration.StatusSucceeded:
		return nil
	case migration.StatusCompletedWithFailures:
		return &exitError{code: exitCompletedWithFailure, err: fmt.Errorf("job %s completed with %s failed objects", id, formatCount(o.result.Counts.Failed))}
	}
	return &exitError{code: exitFailed, err: fmt.Errorf("job %s ended with status %q", id, o.result.Status)}
}

func failedPhrase(err error) string {
	s := describeOutcomeError(err)
	switch s {
	case "canceled", "terminated", "timed out":
		return "was " + s
	}
	return "failed: " + s
}

// printOutcome writes how a job ended.
func printOutcome(w io.Writer, id string, o outcome, h hints) {
	if o.err != nil {
		fmt.Fprintf(w, "job %s %s\n", id, failedPhrase(o.err))
		return
	}
	for _, l := range renderResult(id, o.result, h) {
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
		return watchJob(ctx, cn.c, id, stdout, watchOptions{interval: *interval, hints: h})
	}
	d, err := describeJob(ctx, cn.c, id)
	if err != nil {
		return err
	}
	if !isRunning(d) {
		o, err := waitJob(ctx, cn.c, id)
		if err != nil {
			return err
		}
		printOutcome(stdout, id, o, h)
		return nil
	}
	v := jobView{id: id, now: time.Now(), hints: h}
	p, err := queryProgress(ctx, cn.c, id)
	if err != nil {
		v.problem = err.Error()
		v.started = d.GetWorkflowExecutionInfo().GetStartTime().AsTime()
	} else {
		v.progress = &p
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
	o, err := waitJob(ctx, cn.c, id)
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
	d, err := describeJob(ctx, cn.c, id)
	if err != nil {
		return err
	}
	if !isRunning(d) {
		return fmt.Errorf("job %s is not running (%s); nothing to cancel", id, executionStatus(d))
	}
	if err := cn.c.CancelWorkflow(ctx, id, ""); err != nil {
		return fmt.Errorf("cancel job %s: %w", id, err)
	}
	h := hints{job: id, configPath: cf.configPath}
	fmt.Fprintf(stdout, "cancellation of job %s requested; it stops its shards and ends as canceled\n", id)
	fmt.Fprintf(stdout, "  wait for it: %s\n", h.cmd("wait"))
	return nil
}

// executionStatus is Temporal's word for a run's state, in lower case.
func executionStatus(d *workflowservice.DescribeWorkflowExecutionResponse) string {
	switch d.GetWorkflowExecutionInfo().GetStatus() {
	case enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING:
		return "running"
	case enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED:
		return "completed"
	case enumspb.WORKFLOW_EXECUTION_STATUS_FAILED:
		return "failed"
	case enumspb.WORKFLOW_EXECUTION_STATUS_CANCELED:
		return "canceled"
	case enumspb.WORKFLOW_EXECUTION_STATUS_TERMINATED:
		return "terminated"
	case enumspb.WORKFLOW_EXECUTION_STATUS_TIMED_OUT:
		return "timed out"
	case enumspb.WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW:
		return "continued as new"
	}
	return "unknown"
}
