package jobclient

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/bucketferry/bucketferry/migration"
)

// maxDerived bounds the search for a job's newest retry or restart.
const maxDerived = 10000

// RetryJobID names the n-th retry of a job.
func RetryJobID(job string, n int) string { return job + "-retry-" + strconv.Itoa(n) }

// RetryOf returns the job a retry id retries ("job-retry-2": "job"), or ""
// when id does not name a retry.
func RetryOf(id string) string {
	i := strings.LastIndex(id, "-retry-")
	if i <= 0 {
		return ""
	}
	if _, err := strconv.Atoi(id[i+len("-retry-"):]); err != nil {
		return ""
	}
	return id[:i]
}

// RetryPlan is what a retry starts from.
type RetryPlan struct {
	From   string             // the job whose failures are retried: JOB or its newest retry
	ID     string             // the retry's job id
	Failed int64              // objects failed in From
	Log    migration.Location // From's failure log
	Spec   migration.JobSpec
}

// PlanRetry finds the job to retry (JOB, or its newest retry) and builds
// the retry's spec: the original's, scoped to the failure log.
func PlanRetry(ctx context.Context, c Client, job string) (RetryPlan, error) {
	orig, err := SpecOf(ctx, c, job)
	if err != nil {
		return RetryPlan{}, err
	}
	last, err := NewestDerived(ctx, c, job, "retries", RetryJobID)
	if err != nil {
		return RetryPlan{}, err
	}
	p := RetryPlan{From: job, ID: RetryJobID(job, last+1)}
	if last > 0 {
		p.From = RetryJobID(job, last)
	}
	d, err := Describe(ctx, c, p.From)
	if err != nil {
		return RetryPlan{}, err
	}
	if st := d.GetWorkflowExecutionInfo().GetStatus(); st != enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED {
		what := "wait for it to end"
		if st != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
			what = "it has no result to retry; start the job again instead"
		}
		return RetryPlan{}, fmt.Errorf("job %s is %s: %s", p.From, ExecutionStatus(d), what)
	}
	o, err := Wait(ctx, c, p.From)
	if err != nil {
		return RetryPlan{}, err
	}
	if o.Err != nil {
		return RetryPlan{}, fmt.Errorf("job %s %s: it has no failure list to retry", p.From, FailedPhrase(o.Err))
	}
	p.Failed, p.Log = o.Result.Counts.Failed, o.Result.FailureLog

	spec := orig
	spec.Filters.Manifest = &migration.ManifestRef{
		Store:  p.Log.Store,
		Format: migration.ManifestFailures,
		Prefix: p.Log.Prefix + "failures/",
	}
	if orig.FailureLog != nil {
		// A log of its own, next to the original's: the retry must not
		// write into the log it reads.
		spec.FailureLog = &migration.Location{Store: orig.FailureLog.Store, Prefix: orig.FailureLog.Prefix + p.ID + "/"}
	}
	if err := spec.Validate(); err != nil {
		return RetryPlan{}, fmt.Errorf("retry spec: %w", err)
	}
	p.Spec = spec
	return p, nil
}

// StartRetry starts the retry a plan describes.
func StartRetry(ctx context.Context, c Client, p RetryPlan) (client.WorkflowRun, error) {
	run, err := c.ExecuteWorkflow(ctx, StartOptions(p.ID, p.Spec), migration.JobWorkflow, migration.JobInput{Spec: p.Spec})
	if err != nil {
		return nil, fmt.Errorf("start retry %s: %w", p.ID, err)
	}
	return run, nil
}

// NewestDerived returns the number of the newest job derived from job and
// named by name (its retries, its restarts), 0 when there is none.
func NewestDerived(ctx context.Context, c Client, job, what string, name func(string, int) string) (int, error) {
	for n := 1; n <= maxDerived; n++ {
		_, err := c.DescribeWorkflowExecution(ctx, name(job, n), "")
		var nf *serviceerror.NotFound
		if errors.As(err, &nf) {
			return n - 1, nil
		}
		if err != nil {
			return 0, fmt.Errorf("look for %s of %s: %w", what, job, err)
		}
	}
	return 0, fmt.Errorf("job %s has over %d %s", job, maxDerived, what)
}
