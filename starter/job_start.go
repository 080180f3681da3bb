package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"go.temporal.io/api/serviceerror"

	"github.com/bucketferry/bucketferry/config"
	"github.com/bucketferry/bucketferry/jobclient"
	"github.com/bucketferry/bucketferry/migration"
)

// stringList is a repeatable flag.
type stringList []string

func (l *stringList) String() string { return strings.Join(*l, ",") }

func (l *stringList) Set(s string) error {
	*l = append(*l, s)
	return nil
}

// startFlags are the start sub-command's settings.
type startFlags struct {
	conn             connFlags
	serverFlags      serverFlags
	specPath         string
	source           string
	destination      string
	include          stringList
	exclude          stringList
	conflict         string
	storageClass     string
	shards           int
	jobID            string
	detach           bool
	searchAttributes bool
	interval         time.Duration
	limits           limitFlags
}

func (f *startFlags) register(fs *flag.FlagSet) {
	f.conn.register(fs)
	f.serverFlags.register(fs)
	fs.StringVar(&f.specPath, "spec", "", "job spec `FILE`, a JSON migration.JobSpec (\"-\": standard input); flags override its fields")
	fs.StringVar(&f.source, "source", "", "source `STORE[:PREFIX]` (a store named in the workers' configuration)")
	fs.StringVar(&f.destination, "destination", "", "destination `STORE[:PREFIX]`")
	fs.Var(&f.include, "include", "copy only keys matching this `GLOB` (repeatable; replaces the spec's list)")
	fs.Var(&f.exclude, "exclude", "skip keys matching this `GLOB` (repeatable; replaces the spec's list)")
	fs.StringVar(&f.conflict, "conflict", "", "`POLICY` when the destination has the key: overwrite (default), skip, skip-identical, changed (a second pass: see sync)")
	fs.StringVar(&f.storageClass, "storage-class", "", "force this destination storage `CLASS` (default: map the source's)")
	fs.IntVar(&f.shards, "shards", 0, fmt.Sprintf("key-range shards to aim for (default %d)", migration.DefaultShards))
	fs.StringVar(&f.jobID, "job-id", "", "job `ID`, the workflow id (default job-YYYYMMDD-HHMMSS-xxxx)")
	fs.BoolVar(&f.detach, "detach", false, "print the job id and return instead of watching the job to its end")
	fs.BoolVar(&f.searchAttributes, "search-attributes", true, "register and set the Bucketferry* search attributes")
	fs.DurationVar(&f.interval, "interval", 0, "refresh interval while watching (default 1s on a terminal, 5s otherwise)")
	f.limits.register(fs, false)
}

// buildSpec reads the spec file, if any, and applies the flags set on the
// command line over it.
func (f *startFlags) buildSpec(fs *flag.FlagSet, stdin io.Reader) (migration.JobSpec, error) {
	var spec migration.JobSpec
	if f.specPath != "" {
		var err error
		if spec, err = readSpec(f.specPath, stdin); err != nil {
			return spec, err
		}
	}
	return f.overlay(fs, spec)
}

// readSpec reads a JSON spec file ("-": stdin).
func readSpec(path string, stdin io.Reader) (migration.JobSpec, error) {
	var (
		data []byte
		err  error
	)
	if path == "-" {
		data, err = io.ReadAll(stdin)
	} else {
		data, err = os.ReadFile(path)
	}
	if err != nil {
		return migration.JobSpec{}, fmt.Errorf("read spec: %w", err)
	}
	spec, err := decodeSpec(data)
	if err != nil {
		return spec, fmt.Errorf("spec %s: %w", path, err)
	}
	return spec, nil
}

// overlay applies the flags set on the command line over spec and
// validates the result.
func (f *startFlags) overlay(fs *flag.FlagSet, spec migration.JobSpec) (migration.JobSpec, error) {
	var err error
	fs.Visit(func(fl *flag.Flag) {
		if err != nil {
			return
		}
		switch fl.Name {
		case "source":
			spec.Source, err = parseLocation(f.source)
		case "destination":
			spec.Destination, err = parseLocation(f.destination)
		case "include":
			spec.Filters.Include = slices.Clone(f.include)
		case "exclude":
			spec.Filters.Exclude = slices.Clone(f.exclude)
		case "conflict":
			spec.Conflict = migration.ConflictPolicy(f.conflict)
		case "storage-class":
			spec.StorageClass = f.storageClass
		case "shards":
			spec.Shards = f.shards
		case "qps", "bandwidth", "window":
			f.limits.apply(fl.Name, &spec.Limits)
		}
		if err != nil {
			err = fmt.Errorf("-%s: %w", fl.Name, err)
		}
	})
	if err != nil {
		return spec, err
	}
	if err := spec.Validate(); err != nil {
		return spec, fmt.Errorf("invalid job spec:\n%w", err)
	}
	return spec, nil
}

// decodeSpec reads a JSON spec strictly: a misspelt field would otherwise
// be dropped and the job would run without it.
func decodeSpec(data []byte) (migration.JobSpec, error) {
	var spec migration.JobSpec
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&spec); err != nil {
		return spec, err
	}
	if dec.More() {
		return spec, errors.New("more than one JSON value")
	}
	return spec, nil
}

// runStart starts a migration job, or attaches to the running job of the
// same id, and unless -detach watches it to its end.
func runStart(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("start", flag.ContinueOnError)
	setUsage(fs, "[flags]", "Start a migration job from a JSON spec (-spec) and/or flags, then watch it to its end\n(-detach returns at once). Starting the id of a running job attaches to it; the id of a\njob that has ended is refused. Exit status as for wait.\n\nWith temporal.address empty, start runs a Temporal server (state in -state-dir), the Web UI\nand a worker in this process: killed at any moment, the same command resumes the job.")
	var f startFlags
	f.register(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("start: unexpected arguments %q (the job is given by -spec and flags)", fs.Args())
	}
	spec, err := f.buildSpec(fs, os.Stdin)
	if err != nil {
		return err
	}
	id := f.jobID
	if id == "" {
		id = jobclient.NewJobID(time.Now())
	}
	if strings.TrimSpace(id) != id || id == "" {
		return fmt.Errorf("-job-id %q: must not be empty or begin or end with spaces", id)
	}

	cfg, err := config.Load(f.conn.configPath)
	if err != nil {
		return err
	}
	if cfg.Temporal.Address == "" {
		return startEmbedded(ctx, cfg, id, spec, f, stdout)
	}
	cn, err := dialConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer cn.Close()
	h := hints{job: id, configPath: f.conn.configPath}
	return startJob(ctx, cn, id, spec, f, h, stdout)
}

func startJob(ctx context.Context, cn *conn, id string, spec migration.JobSpec, f startFlags, h hints, w io.Writer) error {
	spec.SearchAttributes = false
	if f.searchAttributes {
		if err := jobclient.RegisterSearchAttributes(ctx, cn.c, cn.namespace); err != nil {
			fmt.Fprintf(w, "warning: search attributes not available, the job runs without them: %v\n", err)
		} else {
			spec.SearchAttributes = true
		}
	}

	// Only to tell the user whether this start attaches to a running job:
	// the server's conflict policy decides.
	var runningRun string
	if d, err := cn.c.DescribeWorkflowExecution(ctx, id, ""); err == nil && jobclient.IsRunning(d) {
		runningRun = d.GetWorkflowExecutionInfo().GetExecution().GetRunId()
	}

	input := migration.JobInput{Spec: spec}
	run, err := cn.c.ExecuteWorkflow(ctx, jobclient.StartOptions(id, spec), migration.JobWorkflow, input)
	var already *serviceerror.WorkflowExecutionAlreadyStarted
	if errors.As(err, &already) {
		status := "it ended"
		if d, derr := cn.c.DescribeWorkflowExecution(ctx, id, ""); derr == nil {
			status = "it ended " + jobclient.ExecutionStatus(d)
		}
		return fmt.Errorf("job %s already ran (%s) and a job id never runs twice: see its result with: %s; or start again with another -job-id",
			id, status, h.cmd("status"))
	}
	if err != nil {
		return fmt.Errorf("start job %s: %w", id, err)
	}

	attached := runningRun != "" && runningRun == run.GetRunID()
	if attached {
		fmt.Fprintf(w, "job %s is already running (run %s): attached to it; it runs with the spec it was started with\n", id, run.GetRunID())
	} else {
		fmt.Fprintf(w, "started job %s (run %s)\n", id, run.GetRunID())
		fmt.Fprintf(w, "  %s\n", jobclient.Summary(spec))
	}
	if cn.webUI != nil {
		if u := cn.webUI(id, run.GetRunID()); u != "" {
			fmt.Fprintf(w, "  Web UI:  %s\n", u)
		}
	}
	fmt.Fprintf(w, "  watch:   %s\n", h.cmd("status", "-watch"))
	fmt.Fprintf(w, "  wait:    %s\n", h.cmd("wait"))
	fmt.Fprintf(w, "  cancel:  %s\n", h.cmd("cancel"))
	if spec.SearchAttributes {
		fmt.Fprintf(w, "  all running jobs: temporal workflow list --address %s --namespace %s --query %s\n", shellQuote(cn.address), shellQuote(cn.namespace),
			shellQuote(fmt.Sprintf("%s = %q", migration.SAStatus, migration.StatusRunning)))
	}
	if !attached {
		line, err := temporalCLI(cn, id, input)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "the same start with the Temporal CLI:\n%s\n", line)
		if cn.secure {
			fmt.Fprintln(w, "  (add the TLS or API key flags of your connection)")
		}
	}
	if f.detach {
		return nil
	}
	fmt.Fprintln(w)
	return watchJob(ctx, cn.c, id, w, watchOptions{interval: f.interval, hints: h, namespace: cn.namespace})
}

// temporalCLI is the `temporal workflow start` command line that starts the
// same job: the input is plain JSON with no secrets in it.
func temporalCLI(cn *conn, id string, input migration.JobInput) (string, error) {
	js, err := json.Marshal(input)
	if err != nil {
		return "", fmt.Errorf("encode job input: %w", err)
	}
	args := [][2]string{
		{"--address", cn.address},
		{"--namespace", cn.namespace},
		{"--task-queue", migration.TaskQueue},
		{"--type", migration.JobWorkflow},
		{"--workflow-id", id},
		{"--id-conflict-policy", "UseExisting"},
		{"--id-reuse-policy", "RejectDuplicate"},
		{"--static-summary", jobclient.Summary(input.Spec)},
		{"--input", string(js)},
	}
	var b strings.Builder
	b.WriteString("  temporal workflow start")
	for _, a := range args {
		fmt.Fprintf(&b, " \\\n      %s %s", a[0], shellQuote(a[1]))
	}
	return b.String(), nil
}
