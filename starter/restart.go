package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strconv"

	enumspb "go.temporal.io/api/enums/v1"

	"github.com/bucketferry/bucketferry/jobclient"
	"github.com/bucketferry/bucketferry/migration"
)

// restartJobID names the n-th restart of a job.
func restartJobID(job string, n int) string { return job + "-r" + strconv.Itoa(n) }

// runRestart starts again a job that failed or was cancelled, as a new job
// that sends nothing already at the destination.
func runRestart(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("restart", flag.ContinueOnError)
	setUsage(fs, "[flags] JOB", "Finish a job that failed or was cancelled: start job JOB-rN with JOB's spec (or that of its\n"+
		"newest restart), except that objects already at the destination with the same size and CRC64\n"+
		"are skipped, not sent again, whatever JOB's conflict policy was. Prints the new job id, then\n"+
		"follows it as wait does (exit status as for wait), unless -detach.")
	var cf connFlags
	cf.register(fs)
	detach := fs.Bool("detach", false, "return once the new job is started")
	id, cn, err := cf.dialJob(ctx, fs, args)
	if err != nil {
		return err
	}
	defer cn.Close()
	p, err := planRestart(ctx, cn.c, id)
	if err != nil {
		return err
	}
	if p.from != id {
		fmt.Fprintf(stdout, "job %s has been restarted before: restarting its newest restart, %s\n", id, p.from)
	}
	run, err := cn.c.ExecuteWorkflow(ctx, jobclient.StartOptions(p.id, p.spec), migration.JobWorkflow, migration.JobInput{Spec: p.spec})
	if err != nil {
		return fmt.Errorf("start restart %s: %w", p.id, err)
	}
	rh := hints{job: p.id, configPath: cf.configPath}
	fmt.Fprintf(stdout, "started job %s (run %s): finishes %s, skipping objects already at the destination (conflict %s)\n",
		p.id, run.GetRunID(), p.from, p.spec.Conflict)
	fmt.Fprintf(stdout, "  watch:   %s\n", rh.cmd("status", "-watch"))
	if *detach {
		return nil
	}
	o, err := jobclient.Wait(ctx, cn.c, p.id)
	if err != nil {
		return err
	}
	printOutcome(stdout, p.id, o, rh)
	return outcomeError(p.id, o)
}

// restartPlan is what a restart starts from.
type restartPlan struct {
	from string // the job restarted: JOB or its newest restart
	id   string // the new job's id
	spec migration.JobSpec
}

// planRestart finds the job to restart (JOB, or its newest restart), checks
// that it stopped without finishing, and builds the new job's spec.
func planRestart(ctx context.Context, c jobclient.Client, job string) (restartPlan, error) {
	last, err := jobclient.NewestDerived(ctx, c, job, "restarts", restartJobID)
	if err != nil {
		return restartPlan{}, err
	}
	p := restartPlan{from: job, id: restartJobID(job, last+1)}
	if last > 0 {
		p.from = restartJobID(job, last)
	}
	d, err := jobclient.Describe(ctx, c, p.from)
	if err != nil {
		return restartPlan{}, err
	}
	switch st := d.GetWorkflowExecutionInfo().GetStatus(); st {
	case enumspb.WORKFLOW_EXECUTION_STATUS_FAILED, enumspb.WORKFLOW_EXECUTION_STATUS_CANCELED,
		enumspb.WORKFLOW_EXECUTION_STATUS_TERMINATED, enumspb.WORKFLOW_EXECUTION_STATUS_TIMED_OUT:
	case enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED:
		return restartPlan{}, fmt.Errorf("job %s is %s: it ran to its end; use retry for its failed objects, or sync for a second pass",
			p.from, jobclient.ExecutionStatus(d))
	default:
		return restartPlan{}, fmt.Errorf("job %s is %s: only a job that failed or was cancelled can be restarted", p.from, jobclient.ExecutionStatus(d))
	}
	spec, err := jobclient.SpecOf(ctx, c, p.from)
	if err != nil {
		return restartPlan{}, err
	}
	p.spec = restartSpec(spec, p.id)
	if err := p.spec.Validate(); err != nil {
		return restartPlan{}, fmt.Errorf("restart spec: %w", err)
	}
	return p, nil
}

// restartSpec is the spec of a restart: the stopped job's, with a conflict
// policy that sends nothing already at the destination with the source's
// size and CRC64. Skip and changed do that already (skip even more);
// overwrite becomes skip-identical. An explicit failure log gets a prefix
// of the restart's own, as the default one does.
func restartSpec(spec migration.JobSpec, id string) migration.JobSpec {
	switch spec.Conflict {
	case migration.Skip, migration.SkipIdentical, migration.Changed:
	default:
		spec.Conflict = migration.SkipIdentical
	}
	if spec.FailureLog != nil {
		log := *spec.FailureLog
		log.Prefix += id + "/"
		spec.FailureLog = &log
	}
	return spec
}
