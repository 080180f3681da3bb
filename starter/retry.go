package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"

	"github.com/bucketferry/bucketferry/migration"
)

// maxRetries bounds the search for a job's newest retry.
const maxRetries = 10000

// retryJobID names the n-th retry of a job.
func retryJobID(job string, n int) string { return job + "-retry-" + strconv.Itoa(n) }

// runRetry starts a job that copies again exactly the objects that failed
// in a finished job, or in its newest retry, and reports how many of them
// now arrived.
func runRetry(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("retry", flag.ContinueOnError)
	setUsage(fs, "[flags] JOB", "Copy again exactly the objects that failed in a finished job: start job JOB-retry-N whose\n"+
		"scope is the failure log of JOB, or of its newest retry when there is one, with JOB's source,\n"+
		"destination and options. Objects that succeeded are never touched. Prints how many of the\n"+
		"failures now succeeded and how many still fail; exit status as for wait.")
	var cf connFlags
	cf.register(fs)
	detach := fs.Bool("detach", false, "return once the retry job is started")
	id, cn, err := cf.dialJob(ctx, fs, args)
	if err != nil {
		return err
	}
	defer cn.Close()
	h := hints{job: id, configPath: cf.configPath}
	return retryJob(ctx, cn, id, *detach, h, stdout)
}

// retryPlan is what a retry starts from.
type retryPlan struct {
	from   string             // the job whose failures are retried: JOB or its newest retry
	id     string             // the retry's job id
	failed int64              // objects failed in from
	log    migration.Location // from's failure log
	spec   migration.JobSpec
}

// planRetry finds the job to retry and builds the retry's spec: the
// original's, scoped to the failure log.
func planRetry(ctx context.Context, c jobClient, job string) (retryPlan, error) {
	orig, err := jobSpecOf(ctx, c, job)
	if err != nil {
		return retryPlan{}, err
	}
	last, err := newestDerived(ctx, c, job, "retries", retryJobID)
	if err != nil {
		return retryPlan{}, err
	}
	p := retryPlan{from: job, id: retryJobID(job, last+1)}
	if last > 0 {
		p.from = retryJobID(job, last)
	}
	d, err := describeJob(ctx, c, p.from)
	if err != nil {
		return retryPlan{}, err
	}
	if st := d.GetWorkflowExecutionInfo().GetStatus(); st != enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED {
		what := "wait for it to end"
		if st != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
			what = "it has no result to retry; start the job again instead"
		}
		return retryPlan{}, fmt.Errorf("job %s is %s: %s", p.from, executionStatus(d), what)
	}
	o, err := waitJob(ctx, c, p.from)
	if err != nil {
		return retryPlan{}, err
	}
	if o.err != nil {
		return retryPlan{}, fmt.Errorf("job %s %s: it has no failure list to retry", p.from, failedPhrase(o.err))
	}
	p.failed, p.log = o.result.Counts.Failed, o.result.FailureLog

	spec := orig
	spec.Filters.Manifest = &migration.ManifestRef{
		Store:  p.log.Store,
		Format: migration.ManifestFailures,
		Prefix: p.log.Prefix + "failures/",
	}
	if orig.FailureLog != nil {
		// A log of its own, next to the original's: the retry must not
		// write into the log it reads.
		spec.FailureLog = &migration.Location{Store: orig.FailureLog.Store, Prefix: orig.FailureLog.Prefix + p.id + "/"}
	}
	if err := spec.Validate(); err != nil {
		return retryPlan{}, fmt.Errorf("retry spec: %w", err)
	}
	p.spec = spec
	return p, nil
}

// newestDerived returns the number of the newest job derived from job and
// named by name (its retries, its restarts), 0 when there is none.
func newestDerived(ctx context.Context, c jobClient, job, what string, name func(string, int) string) (int, error) {
	for n := 1; n <= maxRetries; n++ {
		_, err := c.DescribeWorkflowExecution(ctx, name(job, n), "")
		var nf *serviceerror.NotFound
		if errors.As(err, &nf) {
			return n - 1, nil
		}
		if err != nil {
			return 0, fmt.Errorf("look for %s of %s: %w", what, job, err)
		}
	}
	return 0, fmt.Errorf("job %s has over %d %s", job, maxRetries, what)
}

func retryJob(ctx context.Context, cn *conn, job string, detach bool, h hints, w io.Writer) error {
	p, err := planRetry(ctx, cn.c, job)
	if err != nil {
		return err
	}
	if p.from != job {
		fmt.Fprintf(w, "job %s has been retried before: retrying the failures of its newest retry, %s\n", job, p.from)
	}
	if p.failed == 0 {
		fmt.Fprintf(w, "job %s has no failed objects: nothing to retry\n", p.from)
		return nil
	}
	run, err := cn.c.ExecuteWorkflow(ctx, startOptions(p.id, p.spec), migration.JobWorkflow, migration.JobInput{Spec: p.spec})
	if err != nil {
		return fmt.Errorf("start retry %s: %w", p.id, err)
	}
	rh := hints{job: p.id, configPath: h.configPath}
	fmt.Fprintf(w, "started job %s (run %s): copies again the %s failed objects of %s\n", p.id, run.GetRunID(), formatCount(p.failed), p.from)
	fmt.Fprintf(w, "  failures read from %s\n", formatLocation(migration.Location{Store: p.log.Store, Prefix: p.log.Prefix + "failures/"}))
	fmt.Fprintf(w, "  watch:   %s\n", rh.cmd("status", "-watch"))
	if detach {
		return nil
	}
	o, err := waitJob(ctx, cn.c, p.id)
	if err != nil {
		return err
	}
	if o.err == nil {
		fmt.Fprintln(w, retrySummary(p, o.result))
	}
	printOutcome(w, p.id, o, rh)
	return outcomeError(p.id, o)
}

// retrySummary says what a retry achieved.
func retrySummary(p retryPlan, r migration.JobResult) string {
	c := r.Counts
	s := fmt.Sprintf("retry %s: %s of %s failed objects of %s now copied", p.id, formatCount(c.Copied), formatCount(c.Objects()), p.from)
	if c.Skipped > 0 {
		s += fmt.Sprintf(", %s skipped (already at the destination)", formatCount(c.Skipped))
	}
	return s + fmt.Sprintf(", %s still fail", formatCount(c.Failed))
}
