package workflows

import (
	"fmt"
	"slices"

	"go.temporal.io/sdk/workflow"

	"github.com/bucketferry/bucketferry/migration"
)

// A job sized by its fleet.
//
// The workers polling the task queue heartbeat their activity slots to
// Temporal; every activity brings back its worker's view of them
// (migration.Fleet), the shards pass the newest on in their reports, and
// the job keeps that many page activities in flight over all its shards,
// plus a quarter: the extra ones wait in the task queue, so that a worker
// that joins finds work at once and a slot that frees finds the next page
// without a round trip through the workflow. The job runs enough shards
// for the pages (at least Concurrency.Shards, about pagesPerShard each)
// and splits the window among them: each gets an equal part, a shard that
// cannot use all of its part (its last ranges listed) gets what it can use,
// and the others share the rest. A part that changes is sent to the shard
// in a ShardWindow signal. Without a fleet view (a server that keeps no
// worker heartbeats, or before any worker's first) the window is one page
// for each shard of Concurrency.Shards, as before windows existed, until a
// view comes.

// fleetVersion gates the sized job: jobs recorded before it replay with a
// fixed window of sequential shards.
const fleetVersion = "fleet-window"

// settledWindowsVersion gates windows split once a workflow task: 0, after
// every event the job takes in; 1, once the task's events are all in.
const settledWindowsVersion = "settled-windows"

// maxShardPages caps one shard's window: a run past 2,000 pending
// activities is stuck, and at the end of a job one shard may be the only
// one left to take the whole window.
const maxShardPages = 500

// pagesPerShard is about how many pages of the window one shard copies at
// once: enough for its listing to keep ahead, few enough that the job runs
// many shards and a shard's end leaves little of the window idle.
const pagesPerShard = 8

// useFleet decides, once per run, whether the job sizes its work by the
// fleet.
func (j *job) useFleet(ctx workflow.Context) {
	j.sized = j.gates.version(ctx, fleetVersion, 1) == 1
	j.settledWindows = j.sized && j.gates.version(ctx, settledWindowsVersion, 1) == 1
}

// rebalanceNow says whether the job splits its window now: at once for a
// run recorded before settled-windows, else once the events of this
// workflow task are all taken in. One event at a time, the end of a job
// sent a shard three windows in one task (4, 5 and 7 pages), each a
// signal, a workflow task of the shard's and an event of the job's, where
// the last alone mattered; and signals sent to shards that had ended
// meanwhile failed.
func (j *job) rebalanceNow() bool {
	return j.sized && (!j.settledWindows || !j.sel.HasPending())
}

// target is how many page activities the job keeps in flight: the
// fleet's slots and a quarter, or, while no worker's slots are known, one
// page for each shard of the window (as before windows existed); 0 for a
// job recorded before windows.
func (j *job) target() int {
	if !j.sized || j.limited() {
		return 0
	}
	f := j.st.Fleet
	if f == nil || f.Slots <= 0 {
		return j.window
	}
	t := f.Slots + max(2, (f.Slots+3)/4)
	if c := j.spec.Concurrency.Activities; c > 0 {
		t = min(t, c)
	}
	return t
}

// limited reports whether the job has QPS or bandwidth limits. Such a job
// goes at its limits' pace, split among the workers by their share of its
// activities in flight, and its new shards walk one page at a time as
// before windows: windowed shards, with more and shorter pages whose
// object pools drain at their ends, left 10 to 15 % of a bandwidth limit
// unused (TestJobBandwidthLimitAcrossThreeWorkers).
func (j *job) limited() bool {
	return j.st.Limits != nil && !j.st.Limits.IsZero()
}

// shardWindow is how many shards run at once: Concurrency.Shards, more
// for a fleet whose window that many would not list ahead for, and fewer
// for a fleet with fewer slots than that (a shard runs at least a page).
func (j *job) shardWindow() int {
	t := j.target()
	if t == 0 {
		return j.window
	}
	return min(max(j.window, (t+pagesPerShard-1)/pagesPerShard), t, maxWindow)
}

// firstWindow is the part of the window a shard starts with; 0 starts
// it sequential.
func (j *job) firstWindow() int {
	t := j.target()
	if t == 0 {
		return 0
	}
	shards := min(j.shardWindow(), len(j.st.Running)+len(j.st.Plan)-j.st.NextShard)
	return min(max(1, t/max(shards, 1)), maxShardPages)
}

// noteReport takes what a report tells of the fleet and of the shard's
// use for pages.
func (j *job) noteReport(r migration.ShardReport) {
	if !j.sized {
		return
	}
	j.st.Fleet = j.st.Fleet.Newer(r.Fleet)
	if r.Done == nil && j.isRunning(r.Shard) && r.Pages != 0 {
		if j.pages == nil {
			j.pages = map[int]int{}
		}
		j.pages[r.Shard] = r.Pages
	}
}

// rebalance splits the window among the running shards and signals each
// shard whose part changed enough to matter.
func (j *job) rebalance(ctx workflow.Context) {
	t := j.target()
	if f := j.st.Fleet; t == 0 || f == nil || f.Slots <= 0 || len(j.st.Running) == 0 {
		return // without a view of the fleet, a page a shard
	}
	running := slices.Clone(j.st.Running) // sorted: signals go in a fixed order
	demands := make([]int, len(running))
	for i, index := range running {
		d, ok := j.pages[index]
		if !ok {
			d = -1
		}
		demands[i] = d
	}
	parts := allot(t, demands)
	for i, index := range running {
		old, sent := j.sent[index]
		if sent && !changed(old, parts[i]) || !j.started(index) {
			continue
		}
		if j.sent == nil {
			j.sent = map[int]int{}
		}
		j.sent[index] = parts[i]
		j.st.WindowSeq++
		sig := migration.ShardWindow{Pages: parts[i], Seq: j.st.WindowSeq}
		// A shard that ended meanwhile needs no window: the outcome is not
		// read, only waited for before the run hands over.
		j.signaling = append(j.signaling, workflow.SignalExternalWorkflow(ctx, ShardWorkflowID(j.id, index), "", migration.SignalShardWindow, sig))
	}
	j.showFleet(ctx)
}

// signalsDelivered reports whether every window signal sent has been
// delivered (or has failed): a run hands over only then, since signals in
// flight when it closes are dropped.
func (j *job) signalsDelivered() bool {
	j.signaling = slices.DeleteFunc(j.signaling, func(f workflow.Future) bool { return f.IsReady() })
	return len(j.signaling) == 0
}

// started reports whether the shard can be signalled: not a child of this
// run still being started.
func (j *job) started(index int) bool {
	for _, c := range j.children {
		if c.index == index {
			return c.future.GetChildWorkflowExecution().IsReady()
		}
	}
	return true
}

// changed says whether a shard's part moved enough to tell it: any growth,
// and a shrink of more than a quarter (a shard running over its part only
// delays the others' growth until its pages end).
func changed(old, now int) bool {
	return now > old || now < old-max(1, old/4)
}

// allot splits t pages among shards by water-filling: each gets an equal
// part, except that a shard whose demand (pages it can run, -1 for no end)
// is under its part gets its demand, and the rest is shared by the others.
// Every shard gets at least one page.
func allot(t int, demands []int) []int {
	parts := make([]int, len(demands))
	open := make([]int, 0, len(demands))
	for i := range demands {
		open = append(open, i)
	}
	left := t
	for len(open) > 0 {
		share := left / len(open)
		capped := false
		rest := open[:0]
		for _, i := range open {
			if d := demands[i]; d >= 0 && d < share {
				parts[i] = max(d, 1)
				left -= parts[i]
				capped = true
				continue
			}
			rest = append(rest, i)
		}
		open = rest
		if capped {
			continue
		}
		for k, i := range open {
			parts[i] = share
			if k < left%len(open) {
				parts[i]++
			}
		}
		break
	}
	for i := range parts {
		parts[i] = min(max(parts[i], 1), maxShardPages)
	}
	return parts
}

// showFleet puts the fleet and the window in the job's current details,
// which Temporal Web shows on the job's page.
func (j *job) showFleet(ctx workflow.Context) {
	f := j.st.Fleet
	if f == nil {
		return
	}
	workflow.SetCurrentDetails(ctx, fmt.Sprintf(
		"**Workers** %d with %d activity slots (%d busy)  \n**Window** %d page activities over %d shards; %d activities in flight",
		f.Workers, f.Slots, f.Used, j.target(), len(j.st.Running), j.activitiesInFlight()))
}
