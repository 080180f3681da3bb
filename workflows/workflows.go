// Package workflows holds the Temporal workflows of a migration: a job
// workflow that plans key-range shards and fans them out as child workflows
// through a bounded window, and a shard workflow that walks its key range
// page by page with batch and large-object activities. Both continue as new
// when the server suggests it, carrying their state in their inputs, so a
// job of any size keeps every run's history small.
//
// Workflow code here must stay deterministic: no clock, no I/O, no
// goroutines, no map iteration; everything observable goes through the
// workflow package.
package workflows

import (
	"errors"
	"fmt"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/bucketferry/bucketferry/migration"
)

// Register registers the job and shard workflows under their migration
// names (migration.JobWorkflow and migration.ShardWorkflow), so that jobs
// can be started by name from any client or the Temporal CLI. A worker, a
// test environment and a workflow replayer all qualify.
func Register(r worker.WorkflowRegistry) {
	r.RegisterWorkflowWithOptions(Job, workflow.RegisterOptions{Name: migration.JobWorkflow})
	r.RegisterWorkflowWithOptions(Shard, workflow.RegisterOptions{Name: migration.ShardWorkflow})
}

// maxWindow caps the children a job runs at once and the large-object
// activities a shard runs at once: the server refuses a workflow task that
// would take a run past 2,000 pending children or activities, and such a run
// is stuck, whatever the spec asks for.
const maxWindow = 1000

// retryPolicy is the retry policy of every activity of a job. Attempts are
// unlimited, at most spec.OutageBackoff's cap apart: an activity fails for
// good only with a non-retryable error (bad credentials, a missing bucket,
// an invalid spec), so a listing that fails through an outage of any
// length is tried again until the store answers. One object's budget
// (spec.MaxAttempts) is kept by the activities themselves, which record
// the object failed on their last attempt and succeed. (The attributes of
// a retry policy are not part of what a history replays, so this needs no
// version gate; see docs/outages.md.)
func retryPolicy(spec migration.JobSpec) *temporal.RetryPolicy {
	initial, maximum := spec.OutageBackoff()
	return &temporal.RetryPolicy{
		InitialInterval:        initial,
		BackoffCoefficient:     2,
		MaximumInterval:        maximum,
		MaximumAttempts:        0,
		NonRetryableErrorTypes: []string{migration.ErrFatal, migration.ErrInvalidSpec},
	}
}

// invalidSpec is the error a workflow fails with when its input cannot run.
func invalidSpec(err error) error {
	return temporal.NewNonRetryableApplicationError("invalid job spec: "+err.Error(), migration.ErrInvalidSpec, err)
}

// errorMessage is the part of an activity or child workflow error worth
// showing a person: what the activity or child failed with, rather than the
// wrapper around it ("activity error (type: CopyPage, scheduledEventID:
// ...)").
func errorMessage(err error) string {
	var act *temporal.ActivityError
	var child *temporal.ChildWorkflowExecutionError
	switch {
	case errors.As(err, &act) && act.Unwrap() != nil:
		err = act.Unwrap()
	case errors.As(err, &child) && child.Unwrap() != nil:
		err = child.Unwrap()
	}
	// Not errors.As: a timeout wraps the last attempt's failure, and what
	// stopped the activity is the timeout.
	if app, ok := err.(*temporal.ApplicationError); ok && app.Message() != "" {
		return app.Message()
	}
	return err.Error()
}

// isFatal reports whether err carries an application error of type
// migration.ErrFatal, as opposed to a failure that merely exhausted its
// retries.
func isFatal(err error) bool {
	var app *temporal.ApplicationError
	return errors.As(err, &app) && app.Type() == migration.ErrFatal
}

// location renders a store location for summaries and search attributes.
func location(l migration.Location) string { return l.String() }

// describeShard says which keys a shard covers, for child summaries.
func describeShard(spec migration.JobSpec, s migration.Shard) string {
	if spec.Filters.Manifest != nil {
		return fmt.Sprintf("shard %d: manifest bytes [%d, %d)", s.Index, s.ManifestStart, s.ManifestEnd)
	}
	after, before := "(start)", "(end)"
	if s.After != "" {
		after = fmt.Sprintf("%q", s.After)
	}
	if s.Before != "" {
		before = fmt.Sprintf("%q", s.Before)
	}
	return fmt.Sprintf("shard %d of %s: keys after %s before %s", s.Index, location(spec.Source), after, before)
}

// humanBytes renders a size in binary units: "1.2 GiB".
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 5; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// appendSample appends failures to a sample until it holds
// migration.FailureSampleSize of them.
func appendSample(sample, failures []migration.Failure) []migration.Failure {
	for _, f := range failures {
		if len(sample) >= migration.FailureSampleSize {
			break
		}
		sample = append(sample, f)
	}
	return sample
}
