// Package schedule runs a migration job's second pass (the changed conflict
// policy) on a Temporal Schedule, for a sync that keeps the destination
// current until cut-over. Each scheduled run is an ordinary job workflow
// with its own workflow id (the schedule's id prefix plus the start time),
// its own result and failure log; a run still going when the next is due
// makes the schedule skip that one (overlap policy SKIP).
package schedule

import (
	"context"
	"errors"
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/bucketferry/bucketferry/migration"
)

// MinEvery is the shortest interval accepted: a pass lists both buckets.
const MinEvery = time.Second

// Options describe a sync schedule.
type Options struct {
	// ID names the schedule; scheduled runs get workflow ids ID-<time>.
	ID string
	// Spec is the job; its conflict policy is forced to migration.Changed.
	Spec migration.JobSpec
	// Every is the interval between runs.
	Every time.Duration
	// Now runs the first pass at once instead of after Every.
	Now bool
}

// Create creates the schedule. An existing schedule of the same id is an
// error (temporal.ErrScheduleAlreadyRunning): delete it first to change it.
func Create(ctx context.Context, c client.Client, o Options) (client.ScheduleHandle, error) {
	if o.ID == "" {
		return nil, errors.New("schedule: an id is required")
	}
	if o.Every < MinEvery {
		return nil, fmt.Errorf("schedule: interval %v is shorter than %v", o.Every, MinEvery)
	}
	spec := o.Spec
	spec.Conflict = migration.Changed
	if err := spec.Validate(); err != nil {
		return nil, fmt.Errorf("schedule: invalid job spec: %w", err)
	}
	h, err := c.ScheduleClient().Create(ctx, client.ScheduleOptions{
		ID:   o.ID,
		Spec: client.ScheduleSpec{Intervals: []client.ScheduleIntervalSpec{{Every: o.Every}}},
		Action: &client.ScheduleWorkflowAction{
			ID:            o.ID,
			Workflow:      migration.JobWorkflow,
			Args:          []any{migration.JobInput{Spec: spec}},
			TaskQueue:     migration.TaskQueue,
			StaticSummary: fmt.Sprintf("sync %s -> %s", spec.Source, spec.Destination),
		},
		Overlap:            enumspb.SCHEDULE_OVERLAP_POLICY_SKIP,
		TriggerImmediately: o.Now,
		Note:               "bucketferry sync: second pass of a migration job (conflict policy changed)",
	})
	if err != nil {
		return nil, fmt.Errorf("create schedule %s: %w", o.ID, err)
	}
	return h, nil
}

// Delete deletes a schedule; runs it started go on to their end.
func Delete(ctx context.Context, c client.Client, id string) error {
	if err := c.ScheduleClient().GetHandle(ctx, id).Delete(ctx); err != nil {
		return fmt.Errorf("delete schedule %s: %w", id, err)
	}
	return nil
}

// Runs returns the workflow ids of the schedule's most recent runs, oldest
// first, as the server keeps them (a handful).
func Runs(ctx context.Context, c client.Client, id string) ([]string, error) {
	d, err := c.ScheduleClient().GetHandle(ctx, id).Describe(ctx)
	if err != nil {
		return nil, fmt.Errorf("describe schedule %s: %w", id, err)
	}
	var ids []string
	for _, a := range d.Info.RecentActions {
		if a.StartWorkflowResult != nil {
			ids = append(ids, a.StartWorkflowResult.WorkflowID)
		}
	}
	return ids, nil
}
