package workflows

import (
	"errors"
	"slices"

	"go.temporal.io/sdk/workflow"

	"github.com/bucketferry/bucketferry/migration"
)

// Pause and resume.
//
// The job takes migration.UpdatePause and migration.UpdateResume as
// Temporal Updates (the caller learns when the change is in force and how
// many shards were told). Paused, the job starts no new shard, and it
// pushes the change to every running shard with a migration.ShardControl
// signal; a shard then starts no new CopyPage or CopyLarge activity, while
// those in flight finish their page or object. Signals reach a shard within
// a workflow task, so new copies stop within seconds however many shards
// run, without timers or polling that would grow every shard's history
// while nothing changes. Each change carries a growing sequence number, so
// a shard keeps the newest whatever order signals arrive in, and both
// workflows carry the state across continue-as-new.

// control is the pause state machinery of one job run.
type control struct {
	// wake tells the job's main loop that the state changed: a resumed
	// job has shards to start.
	wake workflow.Channel
}

// registerControl installs the pause and resume update handlers.
func (j *job) registerControl(ctx workflow.Context) error {
	j.ctl = &control{wake: workflow.NewBufferedChannel(ctx, 1)}
	for _, u := range []struct {
		name   string
		paused bool
	}{{migration.UpdatePause, true}, {migration.UpdateResume, false}} {
		err := workflow.SetUpdateHandlerWithOptions(ctx, u.name,
			func(ctx workflow.Context) (migration.ControlResult, error) { return j.setPaused(ctx, u.paused) },
			workflow.UpdateHandlerOptions{Validator: func(workflow.Context) error { return j.controlAllowed() }},
		)
		if err != nil {
			return err
		}
	}
	return nil
}

// watchControl lets the main loop's selector wake on a state change.
func (j *job) watchControl() {
	j.sel.AddReceive(j.ctl.wake, func(c workflow.ReceiveChannel, _ bool) { c.ReceiveAsync(nil) })
}

// controlAllowed rejects pause and resume once the job is ending.
func (j *job) controlAllowed() error {
	switch {
	case j.canceled:
		return errors.New("the job is being canceled")
	case j.fatal != "" || j.status == migration.StatusFailed:
		return errors.New("the job is failing: " + j.fatal + j.errMsg)
	case j.status == migration.StatusSucceeded || j.status == migration.StatusCompletedWithFailures:
		return errors.New("the job has finished")
	}
	return nil
}

// setPaused changes the pause state and tells the running shards.
func (j *job) setPaused(ctx workflow.Context, paused bool) (migration.ControlResult, error) {
	res := migration.ControlResult{Paused: paused}
	if j.st.Paused == paused {
		return res, nil
	}
	j.st.Paused = paused
	j.st.ControlSeq++
	seq := j.st.ControlSeq
	res.Changed = true
	j.logger.Info("Job paused or resumed", "paused", paused, "seq", seq)
	j.ctl.wake.SendAsync(struct{}{})
	j.upsert(ctx, false)
	// A shard being started cannot be signalled yet.
	if err := workflow.Await(ctx, j.allStarted); err != nil {
		return res, err
	}
	if seq != j.st.ControlSeq {
		return res, nil // a later change tells them
	}
	running := slices.Clone(j.st.Running)
	sig := migration.ShardControl{Paused: paused, Seq: seq}
	futures := make([]workflow.Future, len(running))
	for i, index := range running {
		futures[i] = workflow.SignalExternalWorkflow(ctx, ShardWorkflowID(j.id, index), "", migration.SignalShardControl, sig)
	}
	for i, f := range futures {
		// A shard that ended meanwhile needs nothing.
		if err := f.Get(ctx, nil); err != nil {
			j.logger.Info("Shard not told of pause or resume", "shard", running[i], "error", err)
			continue
		}
		res.ShardsNotified++
	}
	return res, nil
}

// controlIdle reports whether no pause or resume is being handled: a run
// hands over only then.
func controlIdle(ctx workflow.Context) bool { return workflow.AllHandlersFinished(ctx) }

// displayStatus is the job's status as people see it: "paused" while a
// running job is paused, "stalled" while it waits for a store that is out.
func (j *job) displayStatus() migration.Status {
	live := j.status == migration.StatusRunning || j.status == migration.StatusPlanning
	switch {
	case j.st.Paused && live:
		return migration.StatusPaused
	case len(j.st.Stalls) > 0 && live:
		// Waiting for a store that is out (stall.go).
		return migration.StatusStalled
	}
	return j.status
}

// watchControl lets a shard's selector take pause and resume signals.
func (s *shard) watchControl(ctx workflow.Context) {
	s.control = workflow.GetSignalChannel(ctx, migration.SignalShardControl)
	s.sel.AddReceive(s.control, func(c workflow.ReceiveChannel, _ bool) {
		var sig migration.ShardControl
		c.Receive(ctx, &sig)
		s.onControl(sig)
	})
}

func (s *shard) onControl(sig migration.ShardControl) {
	if sig.Seq <= s.in.ControlSeq {
		return
	}
	s.in.Paused, s.in.ControlSeq = sig.Paused, sig.Seq
	s.logger.Info("Shard paused or resumed", "shard", s.in.Shard.Index, "paused", sig.Paused, "seq", sig.Seq)
}

// drainControl takes in the signals delivered but not yet read, so that a
// run handing over carries the newest state.
func (s *shard) drainControl() {
	for {
		var sig migration.ShardControl
		if !s.control.ReceiveAsync(&sig) {
			return
		}
		s.onControl(sig)
	}
}
