package workflows

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/bucketferry/bucketferry/migration"
)

// fakeShards stands in for the shard workflows: each records its start and
// then waits (a day, or until cancelled) while the test plays its reports
// to the job with env.SignalWorkflow. It is registered as the shard
// workflow rather than mocked with env.OnWorkflow because the test
// environment resolves a mocked child's start only when the mock returns,
// and the job waits for its children's starts before it hands over or
// cancels them.
type fakeShards struct {
	window int

	mu     sync.Mutex
	inputs []migration.ShardInput
	ids    []string
	done   []int // shards the test reported done
	most   int   // most shards running at once, as the job sees them
}

func (f *fakeShards) run(ctx workflow.Context, in migration.ShardInput) (migration.ShardResult, error) {
	f.mu.Lock()
	f.inputs = append(f.inputs, in)
	f.ids = append(f.ids, workflow.GetInfo(ctx).WorkflowExecution.ID)
	f.most = max(f.most, len(f.inputs)-len(f.done))
	f.mu.Unlock()
	if err := workflow.Sleep(ctx, 24*time.Hour); err != nil {
		return migration.ShardResult{}, err
	}
	return migration.ShardResult{Shard: in.Shard.Index}, nil
}

// watchCancels records the children that end cancelled. (The test
// environment ends a cancelled child without resuming its code.)
func watchCancels(env *testsuite.TestWorkflowEnvironment) func() []string {
	var (
		mu  sync.Mutex
		ids []string
	)
	env.SetOnChildWorkflowCompletedListener(func(info *workflow.Info, _ converter.EncodedValue, err error) {
		if temporal.IsCanceledError(err) {
			mu.Lock()
			defer mu.Unlock()
			ids = append(ids, info.WorkflowExecution.ID)
		}
	})
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Sorted(slices.Values(ids))
	}
}

// running are the shards started and not reported done, lowest first.
func (f *fakeShards) running() []int {
	f.mu.Lock()
	defer f.mu.Unlock()
	var r []int
	for _, in := range f.inputs {
		if !slices.Contains(f.done, in.Shard.Index) {
			r = append(r, in.Shard.Index)
		}
	}
	slices.Sort(r)
	return r
}

func (f *fakeShards) markDone(index int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.done = append(f.done, index)
}

func (f *fakeShards) started() []int {
	f.mu.Lock()
	defer f.mu.Unlock()
	r := make([]int, len(f.inputs))
	for i, in := range f.inputs {
		r[i] = in.Shard.Index
	}
	return r
}

// jobEnv is a test environment for testJobID whose planner returns plan
// and whose shards are fakes.
func jobEnv(t *testing.T, plan []migration.Shard) (*testsuite.TestWorkflowEnvironment, *fakeShards) {
	t.Helper()
	env := newEnv(t)
	env.OnActivity(a.Plan, mock.Anything, mock.Anything).Return(migration.PlanResult{Shards: plan}, nil)
	f := &fakeShards{}
	env.RegisterWorkflowWithOptions(Job, workflow.RegisterOptions{Name: migration.JobWorkflow})
	env.RegisterWorkflowWithOptions(f.run, workflow.RegisterOptions{Name: migration.ShardWorkflow})
	return env, f
}

// keyPlan splits the key space at the given keys.
func keyPlan(splits ...string) []migration.Shard {
	plan := make([]migration.Shard, len(splits)+1)
	for i := range plan {
		if i > 0 {
			plan[i].After = splits[i-1]
		}
		if i < len(splits) {
			plan[i].Before = splits[i]
		}
	}
	return plan
}

// finish reports the lowest running shard done with delta, as its final
// report, and returns its index.
func finish(t *testing.T, env *testsuite.TestWorkflowEnvironment, f *fakeShards, delta migration.Counts, failures ...migration.Failure) int {
	t.Helper()
	running := f.running()
	if len(running) == 0 {
		t.Fatal("no shard running to finish")
	}
	i := running[0]
	f.markDone(i)
	env.SignalWorkflow(migration.SignalShard, migration.ShardReport{
		Shard: i, Delta: delta, Failures: failures,
		Done: &migration.ShardResult{Shard: i, Counts: delta, Failures: failures},
	})
	return i
}

func query(t *testing.T, env *testsuite.TestWorkflowEnvironment) migration.Progress {
	t.Helper()
	return queryAs[migration.Progress](t, env, migration.QueryProgress)
}

// queryAs runs the workflow's query name and decodes its answer.
func queryAs[T any](t *testing.T, env *testsuite.TestWorkflowEnvironment, name string) T {
	t.Helper()
	var v T
	enc, err := env.QueryWorkflow(name)
	if err != nil {
		t.Fatalf("query %s: %v", name, err)
	}
	if err := enc.Get(&v); err != nil {
		t.Fatalf("decode the answer to query %s: %v", name, err)
	}
	return v
}

func jobError(t *testing.T, env *testsuite.TestWorkflowEnvironment, errType string) *temporal.ApplicationError {
	t.Helper()
	var app *temporal.ApplicationError
	if err := env.GetWorkflowError(); !errors.As(err, &app) || app.Type() != errType || !app.NonRetryable() {
		t.Fatalf("job ended with %v, want a non-retryable %s error", err, errType)
	}
	return app
}

func TestJobFansOutWithinWindowAndReportsProgress(t *testing.T) {
	plan := keyPlan("b", "d", "f", "h", "j", "l") // 7 shards
	for i := range plan {
		plan[i].Index = 99 // the job numbers shards itself
	}
	env, f := jobEnv(t, plan)
	start := env.Now()
	ten := migration.Counts{Copied: 10, BytesCopied: 10_000, BytesSent: 10_000}
	for i := 1; i <= 7; i++ {
		env.RegisterDelayedCallback(func() { finish(t, env, f, ten) }, time.Duration(i)*time.Minute)
	}
	// A progress report moves the counts, not the shards.
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(migration.SignalShard, migration.ShardReport{
			Shard: f.running()[0], Delta: migration.Counts{Copied: 5, BytesCopied: 500, BytesSent: 500},
		})
	}, 90*time.Second)
	var mid migration.Progress
	env.RegisterDelayedCallback(func() { mid = query(t, env) }, 210*time.Second)

	env.ExecuteWorkflow(migration.JobWorkflow, migration.JobInput{Spec: testSpec()})

	if err := env.GetWorkflowError(); err != nil {
		t.Fatalf("job failed: %v", err)
	}
	var res migration.JobResult
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	want := migration.Counts{Copied: 75, BytesCopied: 70_500, BytesSent: 70_500}
	wantLog := migration.Location{Store: "cos", Prefix: "bucketferry-reports/" + testJobID + "/"}
	if res.Status != migration.StatusSucceeded || res.Counts != want || res.Shards != 7 || res.FailureLog != wantLog {
		t.Errorf("result %+v, want succeeded, counts %+v, 7 shards, log %+v", res, want, wantLog)
	}
	if !res.Started.Equal(start) || res.Finished.Sub(res.Started) != 7*time.Minute {
		t.Errorf("started %v finished %v, want %v and 7 minutes later", res.Started, res.Finished, start)
	}

	if f.most != 3 {
		t.Errorf("at most %d shards ran at once, want Concurrency.Shards = 3", f.most)
	}
	if got := slices.Sorted(slices.Values(f.started())); !slices.Equal(got, []int{0, 1, 2, 3, 4, 5, 6}) {
		t.Errorf("shards started %v", got)
	}
	for i, in := range f.inputs {
		wantShard := plan[in.Shard.Index]
		wantShard.Index = in.Shard.Index
		if f.ids[i] != ShardWorkflowID(testJobID, in.Shard.Index) || in.JobID != testJobID || in.Shard != wantShard ||
			in.Spec.PageSize != 3 || in.Spec.FailureLog == nil || in.Spec.Conflict != migration.Overwrite {
			t.Errorf("shard %d started as %q with %+v", i, f.ids[i], in)
		}
	}
	if f.ids[3] != "job-1/shard-00003" {
		t.Errorf("child id %q", f.ids[3])
	}

	// At 3m30s: three shards done (at 1, 2, 3 minutes), three running,
	// one pending; the rate covers the reports from 2m to 3m.
	wantMid := migration.Progress{
		Status:           migration.StatusRunning,
		Shards:           migration.ShardCounts{Total: 7, Done: 3, Running: 3, Pending: 1},
		Counts:           migration.Counts{Copied: 35, BytesCopied: 30_500, BytesSent: 30_500},
		BytesPerSecond:   10_000.0 / 90,
		ObjectsPerSecond: 10.0 / 90,
		Started:          start,
		Elapsed:          "3m30s",
		FailureLog:       wantLog,
		Activities:       3, // one for each running shard not heard from
		Window:           3, // no fleet known: a page for each shard
	}
	if fmt.Sprint(mid) != fmt.Sprint(wantMid) {
		t.Errorf("progress at 3m30s:\n got %+v\nwant %+v", mid, wantMid)
	}
	end := query(t, env)
	if end.Status != migration.StatusSucceeded || end.Shards != (migration.ShardCounts{Total: 7, Done: 7}) || end.Counts != want {
		t.Errorf("progress at the end %+v", end)
	}
}

func TestJobCompletesWithFailures(t *testing.T) {
	env, f := jobEnv(t, keyPlan("m"))
	var failures []migration.Failure
	for i := range 25 {
		failures = append(failures, migration.Failure{Key: fmt.Sprintf("k%02d", i), Reason: "NoSuchKey", Kind: "not found", Attempts: 1})
	}
	env.RegisterDelayedCallback(func() {
		finish(t, env, f, migration.Counts{Copied: 3, Failed: 15, BytesFailed: 150}, failures[:15]...)
	}, time.Minute)
	env.RegisterDelayedCallback(func() {
		finish(t, env, f, migration.Counts{Copied: 1, Failed: 10, BytesFailed: 100}, failures[15:]...)
	}, 2*time.Minute)
	env.ExecuteWorkflow(migration.JobWorkflow, migration.JobInput{Spec: testSpec()})

	var res migration.JobResult
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatalf("job failed: %v", err)
	}
	if res.Status != migration.StatusCompletedWithFailures {
		t.Errorf("status %q, want %q", res.Status, migration.StatusCompletedWithFailures)
	}
	if want := (migration.Counts{Copied: 4, Failed: 25, BytesFailed: 250}); res.Counts != want {
		t.Errorf("counts %+v, want %+v", res.Counts, want)
	}
	if len(res.FailureSample) != migration.FailureSampleSize || res.FailureSample[0].Key != "k00" ||
		res.FailureSample[19].Key != "k19" {
		t.Errorf("failure sample %v, want the first %d failures", failureKeys(res.FailureSample), migration.FailureSampleSize)
	}
}

func TestJobContinueAsNewCarriesState(t *testing.T) {
	plan := keyPlan("c", "e", "g", "i") // 5 shards
	env, f := jobEnv(t, plan)
	spec := testSpec()
	spec.Concurrency.Shards = 2
	fail := migration.Failure{Key: "x", Reason: "AccessDenied", Kind: "forbidden", Attempts: 1, Shard: 0}
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(migration.SignalShard, migration.ShardReport{Shard: 1, Delta: migration.Counts{Copied: 7}})
		finish(t, env, f, migration.Counts{Copied: 2, Failed: 1}, fail) // shard 0; shard 2 starts
	}, time.Minute)
	env.RegisterDelayedCallback(func() {
		env.SetContinueAsNewSuggested(true)
		// Two reports in one workflow task, both before the hand-over:
		// neither may be lost.
		env.SignalWorkflowSkippingWorkflowTask(migration.SignalShard, migration.ShardReport{Shard: 2, Delta: migration.Counts{Copied: 4}})
		env.SignalWorkflow(migration.SignalShard, migration.ShardReport{Shard: 1, Delta: migration.Counts{Copied: 1}})
	}, time.Minute+time.Second)
	env.ExecuteWorkflow(migration.JobWorkflow, migration.JobInput{Spec: spec})

	var can *workflow.ContinueAsNewError
	if err := env.GetWorkflowError(); !errors.As(err, &can) {
		t.Fatalf("job ended with %v, want continue-as-new", err)
	}
	if can.WorkflowType.Name != migration.JobWorkflow {
		t.Errorf("continues as %q", can.WorkflowType.Name)
	}
	var next migration.JobInput
	if err := converter.GetDefaultDataConverter().FromPayloads(can.Input, &next); err != nil {
		t.Fatal(err)
	}
	st := next.State
	if st == nil {
		t.Fatal("no state carried")
	}
	if len(st.Plan) != 5 || st.Plan[4].After != "i" || st.Plan[4].Index != 4 {
		t.Errorf("plan %+v", st.Plan)
	}
	if st.NextShard != 3 || !slices.Equal(st.Running, []int{1, 2}) || st.Done != 1 || st.Runs != 1 {
		t.Errorf("next shard %d running %v done %d runs %d; want 3 [1 2] 1 1", st.NextShard, st.Running, st.Done, st.Runs)
	}
	if want := (migration.Counts{Copied: 14, Failed: 1}); st.Counts != want {
		t.Errorf("counts %+v, want %+v", st.Counts, want)
	}
	if len(st.Failures) != 1 || st.Failures[0] != fail || len(st.Samples) == 0 || st.Started.IsZero() {
		t.Errorf("failures %+v samples %+v started %v", st.Failures, st.Samples, st.Started)
	}
	if next.Spec.Concurrency.Shards != 2 || next.Spec.FailureLog == nil {
		t.Errorf("spec not carried with its defaults: %+v", next.Spec)
	}
	// No shard beyond the window, none started after the suggestion.
	if got := slices.Sorted(slices.Values(f.started())); !slices.Equal(got, []int{0, 1, 2}) {
		t.Errorf("shards started %v, want [0 1 2]", got)
	}
}

func TestJobFollowsCarriedState(t *testing.T) {
	env, f := jobEnv(t, nil)
	spec := testSpec().WithDefaults(testJobID)
	spec.Concurrency.Shards = 2
	started := env.Now().Add(-time.Hour)
	st := &migration.JobState{
		Plan:      keyPlan("c", "e", "g", "i"),
		NextShard: 2,
		Running:   []int{0},
		Done:      1,
		Counts:    migration.Counts{Copied: 9, Failed: 1},
		Started:   started,
		Runs:      1,
	}
	for i := range st.Plan {
		st.Plan[i].Index = i
	}
	// Shard 0 runs from the earlier run: only its report tells the job.
	env.RegisterDelayedCallback(func() {
		f.markDone(0)
		env.SignalWorkflow(migration.SignalShard, migration.ShardReport{
			Shard: 0, Delta: migration.Counts{Copied: 1}, Done: &migration.ShardResult{Shard: 0},
		})
	}, time.Minute)
	for i := 2; i <= 4; i++ {
		env.RegisterDelayedCallback(func() { finish(t, env, f, migration.Counts{Copied: 10}) }, time.Duration(i)*time.Minute)
	}
	var mid migration.Progress
	env.RegisterDelayedCallback(func() { mid = query(t, env) }, 30*time.Second)
	env.ExecuteWorkflow(migration.JobWorkflow, migration.JobInput{Spec: spec, State: st})

	var res migration.JobResult
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatalf("job failed: %v", err)
	}
	if got := slices.Sorted(slices.Values(f.started())); !slices.Equal(got, []int{2, 3, 4}) {
		t.Errorf("shards started %v, want only [2 3 4]", got)
	}
	if want := (migration.Counts{Copied: 40, Failed: 1}); res.Counts != want || res.Shards != 5 ||
		res.Status != migration.StatusCompletedWithFailures || !res.Started.Equal(started) {
		t.Errorf("result %+v, want counts %+v over 5 shards since %v", res, want, started)
	}
	if mid.Shards != (migration.ShardCounts{Total: 5, Done: 1, Running: 2, Pending: 2}) || mid.Status != migration.StatusRunning {
		t.Errorf("progress after the hand-over %+v", mid)
	}
}

func TestJobFatalShardCancelsTheOthers(t *testing.T) {
	env, f := jobEnv(t, keyPlan("g", "p")) // 3 shards, all running at once
	canceled := watchCancels(env)
	const denied = `source store "oss": access denied: check its access key`
	env.RegisterDelayedCallback(func() {
		f.markDone(1)
		env.SignalWorkflow(migration.SignalShard, migration.ShardReport{
			Shard: 1, Delta: migration.Counts{Copied: 2},
			Done: &migration.ShardResult{Shard: 1, Counts: migration.Counts{Copied: 2}, Fatal: `page 0 after "g": ` + denied},
		})
	}, time.Minute)
	env.ExecuteWorkflow(migration.JobWorkflow, migration.JobInput{Spec: testSpec()})

	app := jobError(t, env, migration.ErrFatal)
	if !strings.Contains(app.Message(), "shard 1") || !strings.Contains(app.Message(), denied) {
		t.Errorf("error %q does not name the shard and the problem", app.Message())
	}
	if got := canceled(); !slices.Equal(got, []string{"job-1/shard-00000", "job-1/shard-00002"}) {
		t.Errorf("cancelled shards %q, want 0 and 2", got)
	}
	p := query(t, env)
	if p.Status != migration.StatusFailed || p.Error != app.Message() || p.Counts.Copied != 2 {
		t.Errorf("progress after the failure %+v", p)
	}
}

func TestJobShardEndingWithoutReportIsFatal(t *testing.T) {
	env := newEnv(t)
	env.OnActivity(a.Plan, mock.Anything, mock.Anything).Return(migration.PlanResult{Shards: keyPlan("m")}, nil)
	env.RegisterWorkflowWithOptions(Job, workflow.RegisterOptions{Name: migration.JobWorkflow})
	canceled := watchCancels(env)
	env.RegisterWorkflowWithOptions(func(ctx workflow.Context, in migration.ShardInput) (migration.ShardResult, error) {
		if in.Shard.Index == 1 {
			return migration.ShardResult{}, temporal.NewNonRetryableApplicationError("worker ran out of disk", "Boom", nil)
		}
		return migration.ShardResult{}, workflow.Sleep(ctx, 24*time.Hour)
	}, workflow.RegisterOptions{Name: migration.ShardWorkflow})
	env.ExecuteWorkflow(migration.JobWorkflow, migration.JobInput{Spec: testSpec()})

	app := jobError(t, env, migration.ErrFatal)
	if !strings.Contains(app.Message(), "shard 1 ended without reporting") || !strings.Contains(app.Message(), "worker ran out of disk") {
		t.Errorf("error %q does not name the shard and its error", app.Message())
	}
	if got := canceled(); !slices.Equal(got, []string{"job-1/shard-00000"}) {
		t.Errorf("cancelled shards %q, want shard 0", got)
	}
}

func TestJobInvalidSpecFailsAtOnce(t *testing.T) {
	env := newEnv(t)
	Register(env)
	env.OnActivity(a.Plan, mock.Anything, mock.Anything).Return(migration.PlanResult{}, nil).Never()
	spec := testSpec()
	spec.Source.Store = ""
	spec.PageSize = 5000
	env.ExecuteWorkflow(migration.JobWorkflow, migration.JobInput{Spec: spec})

	app := jobError(t, env, migration.ErrInvalidSpec)
	if !strings.Contains(app.Message(), "spec.source.store") || !strings.Contains(app.Message(), "spec.pageSize") {
		t.Errorf("error %q does not name the bad fields", app.Message())
	}
	env.AssertExpectations(t)
}

func TestJobPlanningFatalStopsBeforeFanOut(t *testing.T) {
	env := newEnv(t)
	Register(env)
	const denied = `destination store "cos": access denied: check its secret key`
	env.OnActivity(a.Plan, mock.Anything, mock.Anything).Return(
		migration.PlanResult{}, temporal.NewNonRetryableApplicationError(denied, migration.ErrFatal, nil)).Once()
	env.OnWorkflow(migration.ShardWorkflow, mock.Anything, mock.Anything).Return(migration.ShardResult{}, nil).Never()
	env.ExecuteWorkflow(migration.JobWorkflow, migration.JobInput{Spec: testSpec()})

	app := jobError(t, env, migration.ErrFatal)
	if !strings.Contains(app.Message(), "planning failed") || !strings.Contains(app.Message(), denied) {
		t.Errorf("error %q does not name the problem", app.Message())
	}
	env.AssertExpectations(t)
}

func TestJobSearchAttributes(t *testing.T) {
	env, f := jobEnv(t, keyPlan("m"))
	var (
		mu      sync.Mutex
		upserts []temporal.SearchAttributes
	)
	env.OnUpsertTypedSearchAttributes(mock.Anything).Run(func(args mock.Arguments) {
		mu.Lock()
		defer mu.Unlock()
		upserts = append(upserts, args.Get(0).(temporal.SearchAttributes))
	}).Return(nil)
	spec := testSpec()
	spec.SearchAttributes = true
	env.RegisterDelayedCallback(func() {
		// Progress reports (one per page) do not touch search attributes.
		for range 5 {
			env.SignalWorkflow(migration.SignalShard, migration.ShardReport{Shard: 0, Delta: migration.Counts{Copied: 1, BytesCopied: 10}})
		}
		finish(t, env, f, migration.Counts{Copied: 1, BytesCopied: 10})
	}, time.Minute)
	env.RegisterDelayedCallback(func() { finish(t, env, f, migration.Counts{Failed: 2}) }, 2*time.Minute)
	env.ExecuteWorkflow(migration.JobWorkflow, migration.JobInput{Spec: spec})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatalf("job failed: %v", err)
	}

	status := temporal.NewSearchAttributeKeyKeyword(migration.SAStatus)
	copied := temporal.NewSearchAttributeKeyInt64(migration.SAObjectsCopied)
	failed := temporal.NewSearchAttributeKeyInt64(migration.SAObjectsFailed)
	source := temporal.NewSearchAttributeKeyKeyword(migration.SASource)
	// At the start, after planning, at each shard's end, at the job's end.
	var got []string
	for _, u := range upserts {
		s, _ := u.GetKeyword(status)
		c, _ := u.GetInt64(copied)
		fl, _ := u.GetInt64(failed)
		got = append(got, fmt.Sprintf("%s/%d/%d", s, c, fl))
	}
	want := []string{"planning/0/0", "running/0/0", "running/6/0", "running/6/2", "completed with failures/6/2"}
	if !slices.Equal(got, want) {
		t.Errorf("upserts %q, want %q", got, want)
	}
	if src, ok := upserts[0].GetKeyword(source); !ok || src != "oss:src/" {
		t.Errorf("source attribute %q", src)
	}
}

// The job with its real shard workflows: every count a shard makes reaches
// the job through its reports, exactly once.
func TestJobWithShardWorkflows(t *testing.T) {
	env := newEnv(t)
	Register(env)
	var objects []object
	for i := range 30 {
		o := object{key: fmt.Sprintf("%c%02d", 'a'+i%6, i), size: int64(100 + i)}
		switch i % 7 {
		case 3:
			o.size = 5000 // large
		case 5:
			o.fail = true
		}
		objects = append(objects, o)
	}
	objects[10].fail = true // a large object that fails
	b := newFakeBucket(objects...)
	mockBucket(env, b)
	plan := keyPlan("c", "e")
	env.OnActivity(a.Plan, mock.Anything, mock.Anything).Return(migration.PlanResult{Shards: plan}, nil)
	spec := testSpec()
	spec.Concurrency.Shards = 2
	env.ExecuteWorkflow(migration.JobWorkflow, migration.JobInput{Spec: spec})

	var res migration.JobResult
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatalf("job failed: %v", err)
	}
	want := b.totals(migration.Shard{})
	if res.Counts != want || res.Shards != 3 || res.Status != migration.StatusCompletedWithFailures {
		t.Errorf("result %+v, want counts %+v over 3 shards, completed with failures", res, want)
	}
	if int64(len(res.FailureSample)) != want.Failed {
		t.Errorf("failure sample %v, want all %d failures", failureKeys(res.FailureSample), want.Failed)
	}
	var listed int
	for _, p := range b.pages {
		if p.Page == 0 {
			listed++
		}
	}
	if listed != 3 || len(b.large) != 4 {
		t.Errorf("%d shards listed and %d large objects copied, want 3 and 4", listed, len(b.large))
	}
}

func TestJobCancelCancelsShards(t *testing.T) {
	env, f := jobEnv(t, keyPlan("g", "p"))
	canceled := watchCancels(env)
	env.RegisterDelayedCallback(func() { finish(t, env, f, migration.Counts{Copied: 1}) }, time.Minute)
	env.RegisterDelayedCallback(env.CancelWorkflow, 2*time.Minute)
	env.ExecuteWorkflow(migration.JobWorkflow, migration.JobInput{Spec: testSpec()})

	if err := env.GetWorkflowError(); !temporal.IsCanceledError(err) {
		t.Fatalf("job ended with %v, want cancelled", err)
	}
	if got := canceled(); !slices.Equal(got, []string{"job-1/shard-00001", "job-1/shard-00002"}) {
		t.Errorf("cancelled shards %q, want the running 1 and 2", got)
	}
}
