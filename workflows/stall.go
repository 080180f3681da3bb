package workflows

import (
	"slices"

	"go.temporal.io/sdk/workflow"

	"github.com/bucketferry/bucketferry/migration"
)

// Stalls: a worker that finds one of the job's stores out (see package
// outage) signals the job once when it starts waiting and once when the
// store answers again (migration.SignalStall); the job keeps the open
// stalls, earliest first, shows "stalled" while there are any, and carries
// them across continue-as-new. The signals only change state read by the
// progress query and the status search attribute: no shard or activity is
// started or stopped by them, the activities wait by themselves.

// stallVersion gates the search-attribute upsert a stall signal makes, the
// one command stalls add. Histories recorded before it hold no stall
// signals, so they never reach it; the gate keeps it that way if one did.
const stallVersion = "stall-status"

// watchStalls takes the stall signals while the job plans, in a coroutine
// of its own (the plan is one blocking activity), so that a store out at
// the start shows. Once the job runs, listenStalls hands them to the main
// loop's selector: only there are they sure to be taken in before the job
// continues as new (a value handed to a coroutine blocked in a receive is
// lost if the run ends before that coroutine runs again).
func (j *job) watchStalls(ctx workflow.Context, planning bool) {
	j.stalls = workflow.GetSignalChannel(ctx, migration.SignalStall)
	if !planning {
		return
	}
	j.planned = workflow.NewBufferedChannel(ctx, 1)
	workflow.Go(ctx, func(gctx workflow.Context) {
		sel := workflow.NewSelector(gctx)
		done := false
		sel.AddReceive(j.stalls, func(c workflow.ReceiveChannel, _ bool) {
			var s migration.StallSignal
			c.Receive(gctx, &s)
			j.onStall(gctx, s)
		})
		sel.AddReceive(j.planned, func(c workflow.ReceiveChannel, _ bool) {
			c.Receive(gctx, nil)
			done = true
		})
		for !done {
			sel.Select(gctx)
		}
	})
}

// listenStalls moves the stall signals to the main loop's selector.
func (j *job) listenStalls(ctx workflow.Context) {
	if j.planned != nil {
		j.planned.SendAsync(struct{}{})
	}
	j.sel.AddReceive(j.stalls, func(c workflow.ReceiveChannel, _ bool) {
		var s migration.StallSignal
		c.Receive(ctx, &s)
		j.onStall(ctx, s)
	})
}

// drainStalls takes in the stall signals delivered but not yet read, so
// that a run handing over carries the newest state.
func (j *job) drainStalls(ctx workflow.Context) {
	for {
		var s migration.StallSignal
		if !j.stalls.ReceiveAsync(&s) {
			return
		}
		j.onStall(ctx, s)
	}
}

func (j *job) onStall(ctx workflow.Context, s migration.StallSignal) {
	was := j.displayStatus()
	i := slices.IndexFunc(j.st.Stalls, func(o migration.Stall) bool { return o.Store == s.Store && o.What == s.What })
	switch {
	case s.Stalled && i < 0:
		j.st.Stalls = append(j.st.Stalls, s.Stall)
		slices.SortStableFunc(j.st.Stalls, func(a, b migration.Stall) int { return a.Since.Compare(b.Since) })
		j.logger.Warn("Store out, job stalled", "store", s.Store, "what", s.What, "since", s.Since, "reason", s.Reason)
	case s.Stalled && s.Since.Before(j.st.Stalls[i].Since):
		// Another worker saw it first.
		j.st.Stalls[i] = s.Stall
	case !s.Stalled && i >= 0:
		j.st.Stalls = slices.Delete(j.st.Stalls, i, i+1)
		j.logger.Info("Store answers again", "store", s.Store, "what", s.What, "stalledSince", s.Since)
	}
	if j.displayStatus() == was {
		return
	}
	if j.gates.version(ctx, stallVersion, 1) == workflow.DefaultVersion {
		return
	}
	j.upsert(ctx, false)
}
