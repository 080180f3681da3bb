package workflows

import (
	"fmt"
	"slices"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/bucketferry/bucketferry/activities"
	"github.com/bucketferry/bucketferry/migration"
)

// ShardWorkflowID is the workflow id of a job's shard: derived from the job
// so that a re-run of the job finds the shards still running.
func ShardWorkflowID(jobID string, index int) string {
	return fmt.Sprintf("%s/shard-%05d", jobID, index)
}

// Job is the job workflow (registered as migration.JobWorkflow). It
// validates the spec, plans the shards (first run only), runs one shard
// workflow per shard with at most Spec.Concurrency.Shards at once, sums the
// shards' reports, and returns the outcome. It continues as new when the
// server suggests it, carrying its state in JobInput.State.
//
// A shard that reports a fatal problem (bad credentials, a missing bucket),
// or that ends without its final report, stops the job: the running shards
// are cancelled and the job fails with a non-retryable migration.ErrFatal
// error naming the problem.
func Job(ctx workflow.Context, in migration.JobInput) (migration.JobResult, error) {
	g := newGates(ctx)
	spec, err := runSpec(ctx, g, in.Spec, workflow.GetInfo(ctx).WorkflowExecution.ID, in.State == nil)
	if err != nil {
		return migration.JobResult{}, err
	}
	j := newJob(ctx, g, in, spec)
	j.useFleet(ctx)
	err = workflow.SetQueryHandler(ctx, migration.QueryProgress, func() (migration.Progress, error) {
		return j.progress(ctx), nil
	})
	if err != nil {
		return migration.JobResult{}, fmt.Errorf("register progress query: %w", err)
	}
	if err := j.registerControl(ctx); err != nil {
		return migration.JobResult{}, fmt.Errorf("register pause and resume: %w", err)
	}
	if err := j.registerLimits(ctx); err != nil {
		return migration.JobResult{}, err
	}
	j.watchStalls(ctx, in.State == nil)
	j.upsert(ctx, true)
	if in.State == nil {
		early, err := j.checkFirst(ctx)
		if err != nil {
			return migration.JobResult{}, err
		}
		if !early {
			if err := j.plan(ctx); err != nil {
				return migration.JobResult{}, err
			}
		}
		j.status = migration.StatusRunning
		j.upsert(ctx, false)
	}
	return j.run(ctx)
}

// job is the state of one run of the job workflow.
type job struct {
	gates  gates // the run's versions
	id     string
	spec   migration.JobSpec
	st     migration.JobState
	window int
	logger log.Logger

	status migration.Status
	errMsg string // why the job failed, for the progress query
	fatal  string // set once a shard stops the job

	sel        workflow.Selector
	signals    workflow.ReceiveChannel
	childCtx   workflow.Context // the shards' context: not the job's, see run
	children   []*child         // started by this run and not yet ended
	ended      []endedShard     // children ended, waiting for the reports before them
	canceled   bool
	progressed bool                    // a report or a shard's end came in this run
	ctl        *control                // pause and resume (control.go)
	stalls     workflow.ReceiveChannel // stall signals (stall.go)
	planned    workflow.Channel        // ends the planning phase's stall watch
	// inFlight is each running shard's last reported activities in
	// flight, for the pacing query. It is not carried across
	// continue-as-new: the next run counts one per shard until it hears.
	inFlight map[int]int

	// Sized by the fleet (fleet.go): pages is each running shard's last
	// reported use for pages, sent the window part last signalled to it,
	// signaling the window signals not yet delivered; settledWindows:
	// the window is split once a workflow task (settled-windows).
	sized          bool
	settledWindows bool
	pages          map[int]int
	sent           map[int]int
	signaling      []workflow.Future

	// early is set while the plan is made and the head shard copies
	// (early.go); nil otherwise.
	early *earlyStart
	// checked: the stores were checked before the plan (early.go).
	checked bool
}

// child is a shard workflow started by the current run: the only ones whose
// end the run can watch.
type child struct {
	index  int
	future workflow.ChildWorkflowFuture
}

// endedShard is a child whose workflow ended, successfully or not.
type endedShard struct {
	child  *child
	result migration.ShardResult
	err    error
}

func newJob(ctx workflow.Context, g gates, in migration.JobInput, spec migration.JobSpec) *job {
	j := &job{
		gates:  g,
		id:     workflow.GetInfo(ctx).WorkflowExecution.ID,
		spec:   spec,
		logger: workflow.GetLogger(ctx),
		status: migration.StatusPlanning,
	}
	j.window = min(j.spec.Concurrency.Shards, maxWindow)
	if in.State != nil {
		j.st = *in.State
		j.st.Running = slices.Clone(in.State.Running)
		slices.Sort(j.st.Running)
		j.status = migration.StatusRunning
	} else {
		j.st.Started = workflow.Now(ctx)
		j.st.Samples = addSample(nil, j.st.Started, migration.Counts{})
	}
	return j
}

// planHeartbeatVersion gates the plan's heartbeat timeout.
const planHeartbeatVersion = "plan-heartbeat"

// plan runs the planning activity, which also checks that both stores can
// be reached with the workers' credentials.
func (j *job) plan(ctx workflow.Context) error {
	var a *activities.Activities
	var res migration.PlanResult
	err := workflow.ExecuteActivity(j.planContext(ctx), a.Plan, migration.PlanInput{JobID: j.id, Spec: j.spec, Checked: j.checked}).Get(ctx, &res)
	if err != nil {
		if ctx.Err() != nil {
			return err
		}
		return j.fail(ctx, "planning failed: "+errorMessage(err))
	}
	// Shard indexes name child workflows and failure-log chunks; the
	// position in the plan is the one the job relies on.
	j.setPlan(res.Shards)
	if j.sized {
		j.st.Fleet = res.Fleet
	}
	j.logger.Info("Planned job", "shards", len(j.st.Plan), "window", j.window)
	return nil
}

// planContext is the context of the planning activity.
func (j *job) planContext(ctx workflow.Context) workflow.Context {
	opts := workflow.ActivityOptions{
		// The planner probes split points rather than listing every key,
		// but a large bucket or manifest still takes a while.
		StartToCloseTimeout: time.Hour,
		RetryPolicy:         retryPolicy(j.spec),
		Summary:             fmt.Sprintf("plan %s -> %s", location(j.spec.Source), location(j.spec.Destination)),
	}
	if j.gates.version(ctx, planHeartbeatVersion, 1) == 1 {
		// The plan heartbeats all along (a ticker beside every phase): a
		// worker that dies while planning hands the plan to another
		// within the timeout, not after the hour.
		opts.HeartbeatTimeout = heartbeatTimeout
	}
	return workflow.WithActivityOptions(ctx, opts)
}

// fail marks the job failed and returns the error that stops it.
func (j *job) fail(ctx workflow.Context, msg string) error {
	j.status = migration.StatusFailed
	j.errMsg = msg
	j.logger.Error("Job failed", "error", msg)
	j.upsert(ctx, false)
	return temporal.NewNonRetryableApplicationError(msg, migration.ErrFatal, nil)
}

// run fans the shards out and follows their reports until the job ends or
// this run hands over to the next.
func (j *job) run(ctx workflow.Context) (migration.JobResult, error) {
	j.signals = workflow.GetSignalChannel(ctx, migration.SignalShard)
	// Shards are cancelled by id, and waited for, when the job is: the
	// cancellation that follows a context is sent with the job's closing
	// and is then lost.
	j.childCtx, _ = workflow.NewDisconnectedContext(ctx)
	j.sel = workflow.NewSelector(ctx)
	// Reports come first: a shard's final report precedes its end in
	// history, and must be counted before the end is judged.
	j.sel.AddReceive(j.signals, func(c workflow.ReceiveChannel, _ bool) {
		var r migration.ShardReport
		c.Receive(ctx, &r)
		j.onReport(ctx, r)
	})
	j.sel.AddReceive(ctx.Done(), func(workflow.ReceiveChannel, bool) { j.canceled = true })
	j.watchControl()
	j.listenStalls(ctx)
	if j.planning() {
		j.planEarly(ctx)
	}

	for {
		j.settle(ctx)
		switch {
		case j.canceled:
			return j.cancel(ctx)
		case j.fatal != "":
			return migration.JobResult{}, j.stop(ctx)
		case j.st.NextShard >= len(j.st.Plan) && len(j.st.Running) == 0 && !j.planning():
			return j.finish(ctx), nil
		case j.progressed && !j.planning() && workflow.GetInfo(ctx).GetContinueAsNewSuggested():
			// Hand over only what is settled: no child half started, no
			// report or end waiting in this run. (And only after some
			// progress of this run's own, so that runs never follow each
			// other doing nothing.) No shard starts meanwhile.
			if !j.allStarted() || !controlIdle(ctx) || !j.signalsDelivered() {
				if err := workflow.Await(ctx, func() bool { return j.allStarted() && controlIdle(ctx) && j.signalsDelivered() }); err != nil {
					j.canceled = true
				}
				continue
			}
			if j.sel.HasPending() {
				j.sel.Select(ctx)
				continue
			}
			return migration.JobResult{}, j.continueAsNew(ctx)
		}
		j.fill(ctx)
		if j.rebalanceNow() {
			j.rebalance(ctx)
		}
		j.sel.Select(ctx)
	}
}

// fill starts shards while the window has room.
func (j *job) fill(ctx workflow.Context) {
	for !j.st.Paused && len(j.st.Running) < j.shardWindow() && j.st.NextShard < len(j.st.Plan) {
		s := j.st.Plan[j.st.NextShard]
		j.st.NextShard++
		j.startShard(ctx, s)
	}
}

func (j *job) startShard(ctx workflow.Context, s migration.Shard) {
	cctx := workflow.WithChildOptions(j.childCtx, workflow.ChildWorkflowOptions{
		WorkflowID: ShardWorkflowID(j.id, s.Index),
		// Shards outlive the run that started them: the job continues
		// as new while they copy, and they report by the job's id.
		ParentClosePolicy:     enumspb.PARENT_CLOSE_POLICY_ABANDON,
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		StaticSummary:         describeShard(j.spec, s),
	})
	in := migration.ShardInput{JobID: j.id, Spec: j.spec, Shard: s, CarryListed: j.st.CarryListed}
	if j.planning() {
		j.openHead(&in)
	}
	if w := j.firstWindow(); w > 0 {
		in.Window = w
		if j.sent == nil {
			j.sent = map[int]int{}
		}
		j.sent[s.Index] = w
	}
	f := workflow.ExecuteChildWorkflow(cctx, migration.ShardWorkflow, in)
	c := &child{index: s.Index, future: f}
	j.children = append(j.children, c)
	j.addRunning(s.Index)
	j.sel.AddFuture(f, func(f workflow.Future) {
		var res migration.ShardResult
		err := f.Get(ctx, &res)
		j.ended = append(j.ended, endedShard{child: c, result: res, err: err})
	})
}

// allStarted reports whether every child of this run has been started (or
// failed to start).
func (j *job) allStarted() bool {
	for _, c := range j.children {
		if !c.future.GetChildWorkflowExecution().IsReady() {
			return false
		}
	}
	return true
}

// settle judges the children that ended, after taking in every report
// already delivered: a shard's final report is in history before its end.
func (j *job) settle(ctx workflow.Context) {
	if len(j.ended) == 0 {
		return
	}
	for {
		var r migration.ShardReport
		if !j.signals.ReceiveAsync(&r) {
			break
		}
		j.onReport(ctx, r)
	}
	for _, e := range j.ended {
		j.onEnded(ctx, e)
	}
	j.ended = nil
}

func (j *job) onEnded(ctx workflow.Context, e endedShard) {
	j.progressed = true
	j.children = slices.DeleteFunc(j.children, func(c *child) bool { return c == e.child })
	index := e.child.index
	switch {
	case e.err != nil && temporal.IsWorkflowExecutionAlreadyStartedError(e.err):
		// A shard of an earlier run of this job id still runs; it reports
		// to the job's id like any other.
		j.logger.Info("Shard already running, following its reports", "shard", index)
	case !j.isRunning(index):
		// Its final report came first, as it should.
	case e.err == nil:
		j.logger.Warn("Shard ended before its final report", "shard", index)
		j.shardDone(ctx, index, &e.result)
	default:
		j.removeRunning(index)
		j.st.Done++
		if j.fatal == "" {
			j.fatal = fmt.Sprintf("shard %d ended without reporting: %s", index, errorMessage(e.err))
		}
	}
}

func (j *job) onReport(ctx workflow.Context, r migration.ShardReport) {
	j.progressed = true
	j.noteReport(r)
	j.onCut(r)
	j.st.Counts.Add(r.Delta)
	j.st.Failures = appendSample(j.st.Failures, r.Failures)
	j.st.Samples = addSample(j.st.Samples, workflow.Now(ctx), j.st.Counts)
	if r.Done != nil {
		j.shardDone(ctx, r.Shard, r.Done)
	} else if j.isRunning(r.Shard) {
		if j.inFlight == nil {
			j.inFlight = map[int]int{}
		}
		j.inFlight[r.Shard] = r.InFlight
	}
}

func (j *job) shardDone(ctx workflow.Context, index int, res *migration.ShardResult) {
	if !j.removeRunning(index) {
		j.logger.Warn("Final report of a shard not running", "shard", index)
		return
	}
	j.st.Done++
	if res.Fatal != "" {
		if j.fatal == "" {
			j.fatal = fmt.Sprintf("shard %d: %s", index, res.Fatal)
		}
		return
	}
	j.logger.Info("Shard done", "shard", index, "objects", res.Counts.Objects(), "failed", res.Counts.Failed,
		"done", j.st.Done, "of", len(j.st.Plan))
	j.upsert(ctx, false)
}

func (j *job) isRunning(index int) bool {
	_, ok := slices.BinarySearch(j.st.Running, index)
	return ok
}

func (j *job) addRunning(index int) {
	if i, ok := slices.BinarySearch(j.st.Running, index); !ok {
		j.st.Running = slices.Insert(j.st.Running, i, index)
	}
}

func (j *job) removeRunning(index int) bool {
	i, ok := slices.BinarySearch(j.st.Running, index)
	if ok {
		j.st.Running = slices.Delete(j.st.Running, i, i+1)
		delete(j.inFlight, index)
		delete(j.pages, index)
		delete(j.sent, index)
	}
	return ok
}

// activitiesInFlight sums what the running shards last reported in flight,
// counting one for a shard not heard from yet.
func (j *job) activitiesInFlight() int {
	n := 0
	for _, index := range j.st.Running {
		if k, ok := j.inFlight[index]; ok {
			n += k
		} else {
			n++
		}
	}
	return n
}

func (j *job) continueAsNew(ctx workflow.Context) error {
	j.drainStalls(ctx)
	st := j.st
	st.Runs++
	j.logger.Info("Job continues as new", "run", st.Runs, "nextShard", st.NextShard,
		"running", len(st.Running), "done", st.Done)
	return workflow.NewContinueAsNewError(ctx, migration.JobWorkflow, migration.JobInput{Spec: j.spec, State: &st})
}

func (j *job) finish(ctx workflow.Context) migration.JobResult {
	// Nothing should report after the last shard is done; count it anyway.
	for {
		var r migration.ShardReport
		if !j.signals.ReceiveAsync(&r) {
			break
		}
		j.onReport(ctx, r)
	}
	j.status = migration.StatusSucceeded
	if j.st.Counts.Failed > 0 {
		j.status = migration.StatusCompletedWithFailures
	}
	j.upsert(ctx, false)
	res := migration.JobResult{
		Status:        j.status,
		Counts:        j.st.Counts,
		Shards:        len(j.st.Plan),
		FailureSample: j.st.Failures,
		FailureLog:    *j.spec.FailureLog,
		Started:       j.st.Started,
		Finished:      workflow.Now(ctx),
	}
	j.logger.Info("Job finished", "status", res.Status, "copied", res.Counts.Copied,
		"skipped", res.Counts.Skipped, "failed", res.Counts.Failed)
	return res
}

// stop cancels every running shard and fails the job with the fatal
// problem.
func (j *job) stop(ctx workflow.Context) error {
	// A child being started cannot be cancelled yet.
	_ = workflow.Await(ctx, j.allStarted)
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	j.cancelShards(dctx, j.st.Running)
	return j.fail(dctx, j.fatal)
}

// cancel ends a cancelled job, once its running shards are asked to stop.
func (j *job) cancel(ctx workflow.Context) (migration.JobResult, error) {
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	_ = workflow.Await(dctx, j.allStarted)
	j.cancelShards(dctx, j.st.Running)
	j.status = migration.StatusFailed
	j.errMsg = "canceled"
	j.upsert(dctx, false)
	return migration.JobResult{}, ctx.Err()
}

// cancelShards asks shards to stop and waits until each request is
// delivered: requests still in flight when the job closes are dropped.
func (j *job) cancelShards(ctx workflow.Context, indexes []int) {
	futures := make([]workflow.Future, len(indexes))
	for i, index := range indexes {
		futures[i] = workflow.RequestCancelExternalWorkflow(ctx, ShardWorkflowID(j.id, index), "")
	}
	for i, f := range futures {
		// A shard that ended meanwhile cannot be cancelled: nothing to do.
		if err := f.Get(ctx, nil); err != nil {
			j.logger.Warn("Cancel shard", "shard", indexes[i], "error", err)
		}
	}
}

// upsert publishes the job's status and counts as search attributes when
// the spec turns them on; all adds the attributes that never change.
func (j *job) upsert(ctx workflow.Context, all bool) {
	if !j.spec.SearchAttributes {
		return
	}
	updates := []temporal.SearchAttributeUpdate{
		temporal.NewSearchAttributeKeyKeyword(migration.SAStatus).ValueSet(string(j.displayStatus())),
		temporal.NewSearchAttributeKeyInt64(migration.SAObjectsCopied).ValueSet(j.st.Counts.Copied),
		temporal.NewSearchAttributeKeyInt64(migration.SABytesCopied).ValueSet(j.st.Counts.BytesCopied),
		temporal.NewSearchAttributeKeyInt64(migration.SAObjectsFailed).ValueSet(j.st.Counts.Failed),
	}
	if all {
		updates = append(updates,
			temporal.NewSearchAttributeKeyKeyword(migration.SASource).ValueSet(location(j.spec.Source)),
			temporal.NewSearchAttributeKeyKeyword(migration.SADestination).ValueSet(location(j.spec.Destination)),
		)
	}
	if err := workflow.UpsertTypedSearchAttributes(ctx, updates...); err != nil {
		j.logger.Warn("Upsert search attributes", "error", err)
	}
}

// progress answers the progress query.
func (j *job) progress(ctx workflow.Context) migration.Progress {
	now := workflow.Now(ctx)
	total := len(j.st.Plan)
	p := migration.Progress{
		Status: j.displayStatus(),
		Shards: migration.ShardCounts{
			Total:   total,
			Done:    j.st.Done,
			Running: len(j.st.Running),
			Pending: max(total-j.st.NextShard, 0),
		},
		Counts:        j.st.Counts,
		Started:       j.st.Started,
		Elapsed:       now.Sub(j.st.Started).Round(time.Second).String(),
		FailureSample: slices.Clone(j.st.Failures),
		FailureLog:    *j.spec.FailureLog,
		Error:         j.errMsg,
		Fleet:         j.st.Fleet,
		Window:        j.target(),
		Activities:    j.activitiesInFlight(),
		Stalls:        slices.Clone(j.st.Stalls),
	}
	p.BytesPerSecond, p.ObjectsPerSecond = rates(j.st.Samples, now, j.st.Counts)
	return p
}
