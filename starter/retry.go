package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/bucketferry/bucketferry/jobclient"
	"github.com/bucketferry/bucketferry/migration"
)

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

func retryJob(ctx context.Context, cn *conn, job string, detach bool, h hints, w io.Writer) error {
	p, err := jobclient.PlanRetry(ctx, cn.c, job)
	if err != nil {
		return err
	}
	if p.From != job {
		fmt.Fprintf(w, "job %s has been retried before: retrying the failures of its newest retry, %s\n", job, p.From)
	}
	if p.Failed == 0 {
		fmt.Fprintf(w, "job %s has no failed objects: nothing to retry\n", p.From)
		return nil
	}
	run, err := cn.c.ExecuteWorkflow(ctx, jobclient.StartOptions(p.ID, p.Spec), migration.JobWorkflow, migration.JobInput{Spec: p.Spec})
	if err != nil {
		return fmt.Errorf("start retry %s: %w", p.ID, err)
	}
	rh := hints{job: p.ID, configPath: h.configPath}
	fmt.Fprintf(w, "started job %s (run %s): copies again the %s failed objects of %s\n", p.ID, run.GetRunID(), formatCount(p.Failed), p.From)
	fmt.Fprintf(w, "  failures read from %s\n", formatLocation(migration.Location{Store: p.Log.Store, Prefix: p.Log.Prefix + "failures/"}))
	fmt.Fprintf(w, "  watch:   %s\n", rh.cmd("status", "-watch"))
	if detach {
		return nil
	}
	o, err := jobclient.Wait(ctx, cn.c, p.ID)
	if err != nil {
		return err
	}
	if o.Err == nil {
		fmt.Fprintln(w, retrySummary(p, o.Result))
	}
	printOutcome(w, p.ID, o, rh)
	return outcomeError(p.ID, o)
}

// retrySummary says what a retry achieved.
func retrySummary(p jobclient.RetryPlan, r migration.JobResult) string {
	c := r.Counts
	s := fmt.Sprintf("retry %s: %s of %s failed objects of %s now copied", p.ID, formatCount(c.Copied), formatCount(c.Objects()), p.From)
	if c.Skipped > 0 {
		s += fmt.Sprintf(", %s skipped (already at the destination)", formatCount(c.Skipped))
	}
	return s + fmt.Sprintf(", %s still fail", formatCount(c.Failed))
}
