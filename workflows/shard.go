package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/bucketferry/bucketferry/activities"
	"github.com/bucketferry/bucketferry/migration"
)

// Activity options of a shard (see the design: a page lists and copies up
// to PageSize small objects; a large object may take hours).
const (
	pageTimeout      = time.Hour
	largeTimeout     = 24 * time.Hour
	heartbeatTimeout = 30 * time.Second
)

// Shard is the shard workflow (registered as migration.ShardWorkflow). It
// walks its shard page by page: a CopyPage activity lists the next page and
// copies its small objects, then one CopyLarge activity per large object
// runs, at most Spec.Concurrency.LargeObjects at once, while the next page
// is listed. After every page and large object it signals the job its
// progress; at the end it signals its result. It continues as new when the
// server suggests it, once nothing is in flight, carrying its cursor and
// counts in ShardInput.
//
// An activity that fails for good (migration.ErrFatal, or its retries
// exhausted) stops the shard: it reports the problem to the job, which stops
// the whole job, and fails with a non-retryable migration.ErrFatal error.
func Shard(ctx workflow.Context, in migration.ShardInput) (migration.ShardResult, error) {
	g := newGates(ctx)
	spec, err := runSpec(ctx, g, in.Spec, in.JobID, false)
	if err != nil {
		return migration.ShardResult{}, err
	}
	if in.JobID == "" {
		return migration.ShardResult{}, temporal.NewNonRetryableApplicationError(
			"invalid shard input: jobId is required", migration.ErrInvalidSpec, nil)
	}
	s := newShard(ctx, g, in, spec)
	s.useWindow(ctx)
	s.useSpread(ctx)
	s.useCut(ctx)
	return s.run(ctx)
}

// shard is the state of one run of a shard workflow.
type shard struct {
	gates    gates                // the run's versions
	in       migration.ShardInput // Cursor, ManifestCursor, Page, Counts advance
	spec     migration.JobSpec
	window   int
	manifest bool
	logger   log.Logger

	actx       workflow.Context // activities, cancelled when the shard stops
	cancelActs workflow.CancelFunc
	sel        workflow.Selector

	paging     bool                    // a CopyPage is in flight
	progressed bool                    // an activity of this run completed
	listed     bool                    // the last page has been listed
	queue      []migration.LargeObject // large objects not yet started
	large      int                     // CopyLarge activities in flight
	arch       *archiveFlow            // restores of archived objects, if any

	failures        []migration.Failure // sample of this run, for the result
	pending         migration.Counts    // not yet reported to the job
	pendingFailures []migration.Failure
	reports         int // report signals not yet delivered

	err      error  // what stops the shard
	fatal    string // err for a person
	jobGone  bool   // reporting failed: there is no job to tell
	canceled bool

	control workflow.ReceiveChannel // pause and resume (control.go)

	// Windowed shards (window.go).
	windowed bool
	windowCh workflow.ReceiveChannel
	listing  bool             // a ListAhead is in flight
	copying  int              // CopyPage activities of ranges in flight
	fleet    *migration.Fleet // newest fleet view not yet reported
	// seen is the newest fleet view of this run, reported or not.
	seen *migration.Fleet
	// reportedInFlight is the InFlight of the last report.
	reportedInFlight int
	// Spread large objects (spread.go): spreading counts their
	// activities in flight.
	spread     bool
	spreading  int
	spreadObjs int // spread objects before their final CopyLarge
	// pageAtOne: a windowed shard walks pages while its window is one.
	pageAtOne bool
	// chunked: the shard lists chunks of a pool round of keys and joins
	// them into ranges as it starts them (chunksPerRange).
	chunked bool
	// rampShare: while its window has empty slots, the shard shares what
	// it has listed over them (chunksPerRange).
	rampShare bool
	// listFirst: the shard's listings go ahead of copies waiting in the
	// task queue (listPriority).
	listFirst bool
	// carry: the listing of the shard's last page carries its objects to
	// the copies of its ranges (ShardInput.CarryListed).
	carry bool
	// pack: every listing packs its chunks' objects for the copies of
	// its ranges (packedState).
	pack bool

	// The open head of a job copying while its plan is made (early.go):
	// cut is the plan's boundaries not yet applied, cutReport the answer
	// not yet sent.
	cut       *migration.ShardCut
	cutReport *migration.CutReport
}

func newShard(ctx workflow.Context, g gates, in migration.ShardInput, spec migration.JobSpec) *shard {
	s := &shard{
		gates:    g,
		in:       in,
		spec:     spec,
		manifest: in.Spec.Filters.Manifest != nil,
		logger:   workflow.GetLogger(ctx),
		sel:      workflow.NewSelector(ctx),
	}
	s.window = min(s.spec.Concurrency.LargeObjects, maxWindow)
	s.actx, s.cancelActs = workflow.WithCancel(ctx)
	s.sel.AddReceive(ctx.Done(), func(workflow.ReceiveChannel, bool) { s.canceled = true })
	s.watchControl(ctx)
	return s
}

func (s *shard) run(ctx workflow.Context) (migration.ShardResult, error) {
	for {
		if s.canceled || ctx.Err() != nil {
			s.cancelActs()
			return migration.ShardResult{}, ctx.Err()
		}
		if s.err != nil {
			return migration.ShardResult{}, s.stop(ctx)
		}
		// A run hands over only after some progress of its own, so that a
		// suggestion can never make runs follow each other doing nothing.
		s.applyCut()
		// An open head hands over only once it has its end and said so.
		suggested := s.progressed && !s.in.Open && s.cutReport == nil && workflow.GetInfo(ctx).GetContinueAsNewSuggested()
		// Pages go one after the other (each starts after the last key of
		// the one before), and only once the large objects found so far
		// are under way, so the queue stays within one page.
		if s.windowed && s.ranging() {
			if !s.paging {
				s.startWindowed(ctx, suggested)
			}
		} else if !s.paging && !s.listed && len(s.queue) == 0 && !suggested && !s.in.Paused && !s.cutting() {
			s.startPage(ctx)
		}
		for !s.in.Paused && s.large < s.window && len(s.queue) > 0 {
			s.startLarge(ctx)
		}
		idle := !s.paging && s.large == 0 && len(s.queue) == 0 && !s.restoring() && !s.listing && s.copying == 0
		listed := s.listed && len(s.in.Ranges) == 0
		switch {
		case idle && listed && s.reports == 0:
			return s.finish(ctx)
		case idle && listed:
			// The final report goes after every progress report.
		case idle && suggested && s.reports == 0:
			s.flush(ctx)
			if s.reports == 0 {
				return migration.ShardResult{}, s.continueAsNew(ctx)
			}
		case !s.sel.HasPending():
			// One report for all the results of a workflow task.
			s.flush(ctx)
		}
		s.sel.Select(ctx)
	}
}

// activityContext is the context of one of the shard's activities: its
// summary in Temporal Web, a timeout, and the heartbeat and retry policy
// they all share.
func (s *shard) activityContext(summary string, timeout time.Duration) workflow.Context {
	return workflow.WithActivityOptions(s.actx, workflow.ActivityOptions{
		StartToCloseTimeout: timeout,
		HeartbeatTimeout:    heartbeatTimeout,
		RetryPolicy:         retryPolicy(s.spec),
		Summary:             summary,
	})
}

// after is the key the next page starts after.
func (s *shard) after() string {
	if s.in.Cursor != "" {
		return s.in.Cursor
	}
	return s.in.Shard.After
}

// offset is the manifest byte the next page starts at.
func (s *shard) offset() int64 {
	return max(s.in.ManifestCursor, s.in.Shard.ManifestStart)
}

func (s *shard) startPage(ctx workflow.Context) {
	in := migration.CopyPageInput{JobID: s.in.JobID, Spec: s.spec, Shard: s.in.Shard, Page: s.in.Page}
	var summary string
	if s.manifest {
		in.ManifestOffset = s.offset()
		summary = fmt.Sprintf("page %d at manifest byte %d", in.Page, in.ManifestOffset)
	} else {
		in.After = s.after()
		summary = fmt.Sprintf("page %d after %q", in.Page, in.After)
	}
	actx := s.activityContext(summary, pageTimeout)
	var a *activities.Activities
	f := workflow.ExecuteActivity(actx, a.CopyPage, in)
	s.paging = true
	s.sel.AddFuture(f, func(f workflow.Future) {
		s.paging = false
		var res migration.CopyPageResult
		if err := f.Get(ctx, &res); err != nil {
			s.failed(ctx, summary, err)
			return
		}
		s.onPage(ctx, summary, res)
	})
}

func (s *shard) onPage(ctx workflow.Context, what string, res migration.CopyPageResult) {
	if !res.Done {
		// A page that does not move the cursor would be listed forever.
		stuck := res.LastKey <= s.after()
		if s.manifest {
			stuck = res.NextManifest <= s.offset()
		}
		if stuck {
			s.failed(ctx, what, fmt.Errorf("the page ended without moving past its start"))
			return
		}
	}
	s.in.Page++
	if s.manifest {
		s.in.ManifestCursor = max(res.NextManifest, s.in.ManifestCursor)
	} else if res.LastKey > s.in.Cursor {
		s.in.Cursor = res.LastKey
	}
	s.listed = res.Done
	if s.windowed {
		s.in.Listed = res.Done
		s.heard(res.Fleet)
	}
	s.queue = append(s.queue, res.Large...)
	s.count(res.Counts, res.Failures)
	s.onArchived(ctx, res.Archived)
}

func (s *shard) startLarge(ctx workflow.Context) {
	obj := s.queue[0]
	s.queue = s.queue[1:]
	if s.spreads(obj) {
		s.startSpread(ctx, obj)
		return
	}
	summary := fmt.Sprintf("large %q (%s)", obj.Key, humanBytes(obj.Size))
	actx := s.activityContext(summary, largeTimeout)
	var a *activities.Activities
	f := workflow.ExecuteActivity(actx, a.CopyLarge, migration.CopyLargeInput{
		JobID:  s.in.JobID,
		Spec:   s.spec,
		Shard:  s.in.Shard.Index,
		Object: obj,
	})
	s.large++
	s.sel.AddFuture(f, func(f workflow.Future) {
		s.large--
		var res migration.CopyLargeResult
		if err := f.Get(ctx, &res); err != nil {
			s.failed(ctx, summary, err)
			return
		}
		var failures []migration.Failure
		if res.Failure != nil {
			failures = []migration.Failure{*res.Failure}
		}
		s.count(res.Counts, failures)
	})
}

// count adds an activity's outcome to the shard's totals and to what the
// job has yet to hear.
func (s *shard) count(c migration.Counts, failures []migration.Failure) {
	s.progressed = true
	s.in.Counts.Add(c)
	s.pending.Add(c)
	s.failures = appendSample(s.failures, failures)
	s.pendingFailures = appendSample(s.pendingFailures, failures)
}

// failed records the first failure that stops the shard. Failures that
// follow a cancellation are the cancellation's, not the shard's.
func (s *shard) failed(ctx workflow.Context, what string, err error) {
	if s.err != nil || ctx.Err() != nil {
		return
	}
	s.err = err
	s.fatal = fmt.Sprintf("%s: %s", what, errorMessage(err))
	if !isFatal(err) {
		s.fatal += " (retries exhausted)"
	}
}

// flush sends the job what it has yet to hear, if anything.
func (s *shard) flush(ctx workflow.Context) {
	// A windowed shard also tells the job when it has more activities in
	// flight than it last said: workers pace a limited job by them, and a
	// shard starts ranges after a listing that brings no counts. (Fewer
	// wait for the next report: it comes with the counts of what ended.)
	moved := s.windowed && s.inFlight() > s.reportedInFlight
	if s.pending == (migration.Counts{}) && len(s.pendingFailures) == 0 && s.fleet == nil && !moved && s.cutReport == nil {
		return
	}
	r := s.report(nil)
	f := workflow.SignalExternalWorkflow(ctx, s.in.JobID, "", migration.SignalShard, r)
	s.pending, s.pendingFailures, s.fleet, s.reportedInFlight, s.cutReport = migration.Counts{}, nil, nil, r.InFlight, nil
	s.reports++
	s.sel.AddFuture(f, func(f workflow.Future) {
		s.reports--
		if err := f.Get(ctx, nil); err != nil && s.err == nil && ctx.Err() == nil {
			s.err = err
			s.fatal = fmt.Sprintf("report to job %s: %s", s.in.JobID, errorMessage(err))
			s.jobGone = true
		}
	})
}

// report is the signal carrying what the job has yet to hear.
func (s *shard) report(done *migration.ShardResult) migration.ShardReport {
	r := migration.ShardReport{Shard: s.in.Shard.Index, Delta: s.pending, Failures: s.pendingFailures, Done: done, Cut: s.cutReport}
	if done != nil && s.in.Open {
		// A head that ends before its cut has listed the whole key space.
		r.Cut = &migration.CutReport{All: true}
	}
	if done == nil {
		r.InFlight = s.inFlight()
		if s.windowed {
			r.Pages, r.Fleet = s.pages(), s.fleet
		}
	}
	return r
}

// inFlight counts the shard's activities scheduled or running.
func (s *shard) inFlight() int {
	// A spread object counts its activities, not itself, until its
	// final CopyLarge.
	n := s.large - s.spreadObjs + s.copying + s.spreading
	if s.paging || s.listing {
		n++
	}
	if s.arch != nil {
		n += s.arch.acts
	}
	return n
}

func (s *shard) result() migration.ShardResult {
	return migration.ShardResult{Shard: s.in.Shard.Index, Counts: s.in.Counts, Failures: s.failures}
}

// sendFinal sends the final report, after every progress report has been
// delivered, and waits for it.
func (s *shard) sendFinal(ctx workflow.Context, res migration.ShardResult) error {
	for s.reports > 0 {
		s.sel.Select(ctx)
	}
	if s.jobGone {
		return s.err
	}
	return workflow.SignalExternalWorkflow(ctx, s.in.JobID, "", migration.SignalShard, s.report(&res)).Get(ctx, nil)
}

func (s *shard) finish(ctx workflow.Context) (migration.ShardResult, error) {
	res := s.result()
	if err := s.sendFinal(ctx, res); err != nil {
		return migration.ShardResult{}, fmt.Errorf("report to job %s: %w", s.in.JobID, err)
	}
	s.logger.Info("Shard done", "shard", res.Shard, "pages", s.in.Page, "copied", res.Counts.Copied,
		"skipped", res.Counts.Skipped, "failed", res.Counts.Failed)
	return res, nil
}

func (s *shard) continueAsNew(ctx workflow.Context) error {
	s.drainControl()
	s.drainWindow()
	next := s.in
	next.Spec = s.spec
	next.Runs++
	s.logger.Info("Shard continues as new", "shard", next.Shard.Index, "run", next.Runs, "page", next.Page,
		"cursor", next.Cursor)
	return workflow.NewContinueAsNewError(ctx, migration.ShardWorkflow, next)
}

// stop cancels what is in flight, tells the job why the shard stops, and
// returns the error the shard fails with.
func (s *shard) stop(ctx workflow.Context) error {
	s.cancelActs()
	s.logger.Error("Shard stopped", "shard", s.in.Shard.Index, "error", s.fatal)
	res := s.result()
	res.Fatal = s.fatal
	if err := s.sendFinal(ctx, res); err != nil {
		s.logger.Error("Report to job", "job", s.in.JobID, "error", err)
	}
	return temporal.NewNonRetryableApplicationError(s.fatal, migration.ErrFatal, s.err)
}
