package workflows

import (
	"slices"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/bucketferry/bucketferry/activities"
	"github.com/bucketferry/bucketferry/migration"
)

// Copying before the plan is made.
//
// Against a far-away source every probe of the planner is a round trip:
// the plan of a job took 4 s at 1 s a request, all of it before the first
// copy, and the first copies then took two more round trips to start
// (a listing ahead, and the range's own listing). So a job whose source
// answers slowly checks its stores first (one round trip), then starts its
// head shard at once, from the beginning of the key space and with no end,
// while the planner probes the rest. When the plan comes, the job sends
// the head the plan's boundaries (a ShardCut); the head ends at the first
// one it has not listed past and says which (a CutReport); the job starts
// the planned shards beyond it. The head has then listed less than a page
// or a few pages, so the plan's work is barely changed; the fleet copied
// meanwhile.
//
// On a near store the plan takes milliseconds and a head shard would only
// add one shard: the job plans first, as before.

// earlyVersion gates the early start: jobs recorded before it plan first.
const earlyVersion = "early-start"

// earlyNewest is early-start's newest version.
const earlyNewest = 2

// farSource is the source check's duration from which a job starts its
// head shard before planning: the planner's probes take a round trip each.
const farSource = 250 * time.Millisecond

// earlyStart is the state of a job copying while its plan is made.
type earlyStart struct {
	head    *migration.ListAheadResult // the source's first page, in chunks
	planned []migration.Shard          // the plan, once it came
	cut     *migration.CutReport       // the head's answer, once it came
	got     bool                       // the plan came
}

// checkFirst decides, once for a new job, whether it starts copying before
// its plan is made: it runs the stores' checks (the plan activity with
// CheckOnly) and looks at how long the source took. It returns true when
// the job has its head shard to start; false when the job plans as before
// (its plan then does not probe the stores again).
func (j *job) checkFirst(ctx workflow.Context) (bool, error) {
	v := j.gates.version(ctx, earlyVersion, earlyNewest)
	if v < 1 {
		return false, nil
	}
	// Only a job that lists its source and sizes its shards' windows by
	// the fleet: its head lists ahead and copies a window of ranges.
	if j.spec.Filters.Manifest != nil || j.target() == 0 {
		return false, nil
	}
	var a *activities.Activities
	var res migration.PlanResult
	err := workflow.ExecuteActivity(j.planContext(ctx), a.Plan, migration.PlanInput{JobID: j.id, Spec: j.spec, CheckOnly: true, CarryFromMS: carryFrom(v)}).Get(ctx, &res)
	if err != nil {
		if ctx.Err() != nil {
			return false, err
		}
		return false, j.fail(ctx, "planning failed: "+errorMessage(err))
	}
	j.checked = true
	if j.sized {
		j.st.Fleet = res.Fleet
	}
	if time.Duration(res.SourceRoundTripMS)*time.Millisecond < farSource {
		return false, nil
	}
	j.early = &earlyStart{head: res.Head}
	j.st.Plan = []migration.Shard{{Index: 0}}
	// Since early-start 2, the shards' last pages (and the head's first)
	// carry their objects to their copies: a range's own listing is a
	// round trip against such a source.
	j.st.CarryListed = v >= 2
	j.logger.Info("Source far away: copying while planning", "roundTripMs", res.SourceRoundTripMS)
	return true, nil
}

// carryFrom is, since early-start 2, the source round trip from which the
// check carries the first page's objects: the head's.
func carryFrom(v workflow.Version) int64 {
	if v < 2 {
		return 0
	}
	return farSource.Milliseconds()
}

// planning reports whether the job's plan is still being made (its head
// shard may run meanwhile).
func (j *job) planning() bool {
	return j.early != nil
}

// planEarly starts the plan activity of a job whose head shard copies
// meanwhile; fill starts the head.
func (j *job) planEarly(ctx workflow.Context) {
	var a *activities.Activities
	f := workflow.ExecuteActivity(j.planContext(ctx), a.Plan, migration.PlanInput{JobID: j.id, Spec: j.spec, Checked: true})
	j.sel.AddFuture(f, func(f workflow.Future) {
		var res migration.PlanResult
		if err := f.Get(ctx, &res); err != nil {
			if j.fatal == "" && ctx.Err() == nil {
				j.fatal = "planning failed: " + errorMessage(err)
			}
			return
		}
		j.onEarlyPlan(ctx, res)
	})
}

func (j *job) onEarlyPlan(ctx workflow.Context, res migration.PlanResult) {
	e := j.early
	e.planned, e.got = res.Shards, true
	if j.sized {
		j.st.Fleet = j.st.Fleet.Newer(res.Fleet)
	}
	if j.st.NextShard == 0 {
		// The head never started (the job was paused): the plan is the
		// plan.
		j.early = nil
		j.setPlan(e.planned)
		return
	}
	if e.cut == nil {
		bounds := make([]string, 0, len(e.planned))
		for _, s := range e.planned {
			if s.After != "" {
				bounds = append(bounds, s.After)
			}
		}
		slices.Sort(bounds)
		cut := migration.ShardCut{Bounds: bounds}
		// The head may have ended meanwhile (it listed everything): then
		// its final report says so and the signal finds no one.
		j.signaling = append(j.signaling, workflow.SignalExternalWorkflow(ctx, ShardWorkflowID(j.id, 0), "", migration.SignalShardCut, cut))
	}
	j.joinPlan()
}

// onCut takes the head's answer in.
func (j *job) onCut(r migration.ShardReport) {
	if j.early == nil || r.Shard != 0 {
		return
	}
	switch {
	case r.Cut != nil:
		j.early.cut = r.Cut
	case r.Done != nil:
		// A head that ended without a word of its cut (a worker of a
		// release before early starts ran it, as an upgrade that kept old
		// workers would) had no end: it copied everything.
		j.early.cut = &migration.CutReport{All: true}
	default:
		return
	}
	j.joinPlan()
}

// joinPlan adds the planned shards beyond the head to the job's plan, once
// both the plan and the head's answer came.
func (j *job) joinPlan() {
	e := j.early
	if !e.got || e.cut == nil {
		return
	}
	j.early = nil
	head := j.st.Plan[0]
	var rest []migration.Shard
	if !e.cut.All {
		head.Before = e.cut.Through + "\x00" // storage.JustAfter: the head takes in Through
		for _, s := range e.planned {
			// The bounds are the shards' Afters: a shard lies wholly
			// beyond the head or wholly within it.
			if s.After >= e.cut.Through {
				rest = append(rest, s)
			}
		}
	}
	j.setPlan(append([]migration.Shard{head}, rest...))
	j.logger.Info("Planned job", "shards", len(e.planned), "head takes", len(e.planned)-len(rest), "window", j.window)
}

// setPlan numbers the shards by their place in the plan: indexes name
// child workflows and failure-log chunks.
func (j *job) setPlan(plan []migration.Shard) {
	for i := range plan {
		plan[i].Index = i
	}
	j.st.Plan = plan
}

// openHead makes the input of the head shard: open, and with the first
// page the check listed as its first chunks.
func (j *job) openHead(in *migration.ShardInput) {
	in.Open = true
	h := j.early.head
	if h == nil {
		return
	}
	prev := ""
	for _, b := range h.Bounds {
		in.Ranges = append(in.Ranges, migration.Range{After: prev, Last: b, Page: in.Page})
		in.Page++
		prev = b
	}
	if in.CarryListed {
		attach(in.Ranges, h.Objects)
	}
	in.Cursor, in.Listed = prev, h.Done
}

// Shard side: the head.

// useCut listens for the plan's boundaries when the shard is an open head.
func (s *shard) useCut(ctx workflow.Context) {
	if !s.in.Open {
		return
	}
	ch := workflow.GetSignalChannel(ctx, migration.SignalShardCut)
	s.sel.AddReceive(ch, func(c workflow.ReceiveChannel, _ bool) {
		var cut migration.ShardCut
		c.Receive(ctx, &cut)
		if s.in.Open {
			s.cut = &cut
		}
	})
}

// cutting reports whether the head has the plan's boundaries to apply: it
// lists nothing more meanwhile.
func (s *shard) cutting() bool {
	return s.cut != nil
}

// applyCut ends the open head at the first boundary at or beyond the last
// key it listed, once no listing is in flight, and readies its answer.
func (s *shard) applyCut() {
	if s.cut == nil || s.listing || s.paging {
		return
	}
	bounds := s.cut.Bounds
	s.cut = nil
	s.in.Open = false
	s.cutReport = &migration.CutReport{All: true}
	if s.listed {
		return
	}
	// Cursor is the last key listed ("" before the first listing); the
	// head keeps every key up to the boundary it ends at.
	if i, _ := slices.BinarySearch(bounds, s.in.Cursor); i < len(bounds) {
		s.in.Shard.Before = bounds[i] + "\x00" // storage.JustAfter
		s.cutReport = &migration.CutReport{Through: bounds[i]}
	}
	s.logger.Info("Head shard cut", "through", s.cutReport.Through, "all", s.cutReport.All, "listed", s.in.Cursor)
}
