package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/bucketferry/bucketferry/activities"
	"github.com/bucketferry/bucketferry/migration"
)

// restoreTimeout bounds one RestoreArchived call (HEADs and restore
// requests for at most a page of objects).
const restoreTimeout = 10 * time.Minute

// archiveFlow is a shard's restore sub-flows (the ArchiveRestore policy):
// one coroutine per page that found archived objects. Each asks for the
// restores, then waits with durable workflow timers between short
// RestoreArchived activities until every object is readable or the wait is
// over, and hands the readable objects to the shard's large-object queue.
type archiveFlow struct {
	updates workflow.Channel // restoreUpdate from the coroutines
	running int              // batches not yet done
	acts    int              // RestoreArchived activities in flight
}

// restoreUpdate is what a restore coroutine tells its shard.
type restoreUpdate struct {
	restored []migration.LargeObject
	counts   migration.Counts
	failures []migration.Failure
	done     bool
}

// restoring reports whether restore batches are still waiting; a shard
// neither ends nor continues as new while they are.
func (s *shard) restoring() bool { return s.arch != nil && s.arch.running > 0 }

// onArchived starts the restore sub-flow of one page's archived objects.
func (s *shard) onArchived(ctx workflow.Context, objs []migration.LargeObject) {
	if len(objs) == 0 {
		return
	}
	if s.arch == nil {
		s.arch = &archiveFlow{updates: workflow.NewChannel(ctx)}
		s.sel.AddReceive(s.arch.updates, func(c workflow.ReceiveChannel, _ bool) {
			var u restoreUpdate
			c.Receive(ctx, &u)
			s.onRestoreUpdate(u)
		})
	}
	s.arch.running++
	batch := s.in.Page - 1 // the page that found them: unique in the shard
	// The coroutine's context derives from the activities' one: stopping
	// the shard cancels its activities and timers too.
	workflow.Go(s.actx, func(gctx workflow.Context) { s.restoreBatch(gctx, batch, objs) })
}

func (s *shard) onRestoreUpdate(u restoreUpdate) {
	s.queue = append(s.queue, u.restored...)
	s.count(u.counts, u.failures)
	if u.done {
		s.arch.running--
	}
}

// restoreBatch runs one batch in its own coroutine (ctx is the
// coroutine's): RestoreArchived, then timers with backoff and
// RestoreArchived again, until nothing is pending.
func (s *shard) restoreBatch(ctx workflow.Context, batch int, pending []migration.LargeObject) {
	opts := restoreSettings(s.spec)
	poll := time.Duration(opts.PollSeconds) * time.Second
	deadline := workflow.Now(ctx).Add(time.Duration(opts.MaxWaitSeconds) * time.Second)
	wait := poll
	what := fmt.Sprintf("restore of %d archived objects of page %d", len(pending), batch)
	var a *activities.Activities
	for round := 0; ; round++ {
		actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
			StartToCloseTimeout: restoreTimeout,
			RetryPolicy:         retryPolicy(s.spec),
			Summary:             fmt.Sprintf("%s, round %d", what, round),
		})
		in := migration.RestoreInput{JobID: s.in.JobID, Spec: s.spec, Shard: s.in.Shard.Index, Objects: pending,
			Batch: batch, Round: round, Final: round > 0 && !workflow.Now(ctx).Before(deadline)}
		var res migration.RestoreResult
		s.arch.acts++
		err := workflow.ExecuteActivity(actx, a.RestoreArchived, in).Get(ctx, &res)
		s.arch.acts--
		if err != nil {
			s.failed(ctx, what, err)
			s.arch.updates.Send(ctx, restoreUpdate{done: true})
			return
		}
		pending = res.Pending
		done := len(pending) == 0
		s.arch.updates.Send(ctx, restoreUpdate{restored: res.Restored, counts: res.Counts, failures: res.Failures, done: done})
		if done {
			return
		}
		// A durable timer: the wait survives worker restarts and costs no
		// worker slot. The last one ends at the deadline.
		d := min(wait, max(deadline.Sub(workflow.Now(ctx)), 0))
		if err := workflow.Sleep(ctx, d); err != nil {
			s.arch.updates.Send(ctx, restoreUpdate{done: true})
			return
		}
		wait = min(2*wait, 16*poll)
	}
}

// restoreSettings are the spec's restore options for the shard's timers.
// WithDefaults fills them in for a restoring job; a spec filled in before
// it did (v0.1.0) takes the defaults of that release, frozen here, so that
// its timers replay the same whatever migration's defaults become.
func restoreSettings(spec migration.JobSpec) migration.RestoreOptions {
	var o migration.RestoreOptions
	if spec.Restore != nil {
		o = *spec.Restore
	}
	if o.PollSeconds <= 0 {
		o.PollSeconds = 300
	}
	if o.MaxWaitSeconds <= 0 {
		o.MaxWaitSeconds = 7 * 24 * 3600
	}
	return o
}
