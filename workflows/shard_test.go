package workflows

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/bucketferry/bucketferry/migration"
)

// shardEnv is a test environment running a shard of testJobID, whose
// reports to the job are recorded.
func shardEnv(t *testing.T, index int) (*testsuite.TestWorkflowEnvironment, *reports) {
	t.Helper()
	env := newEnv(t)
	Register(env)
	env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: ShardWorkflowID(testJobID, index)})
	r := &reports{}
	env.OnSignalExternalWorkflow(mock.Anything, testJobID, "", migration.SignalShard, mock.Anything).Return(r.record)
	return env, r
}

func shardInput(spec migration.JobSpec, s migration.Shard) migration.ShardInput {
	return migration.ShardInput{JobID: testJobID, Spec: spec.WithDefaults(testJobID), Shard: s}
}

// mixedBucket has small, large and failing objects in shard (a, m), and
// objects outside it.
func mixedBucket() *fakeBucket {
	return newFakeBucket(
		object{key: "a", size: 1},
		object{key: "b1", size: 10},
		object{key: "b2", size: 20, fail: true},
		object{key: "b3", size: 5000},
		object{key: "c1", size: 30},
		object{key: "c2", size: 6000, fail: true},
		object{key: "c3", size: 40},
		object{key: "d1", size: 50},
		object{key: "m", size: 1},
		object{key: "z", size: 1},
	)
}

func mockBucket(env *testsuite.TestWorkflowEnvironment, b *fakeBucket) {
	env.OnActivity(a.CopyPage, mock.Anything, mock.Anything).Return(b.copyPage)
	env.OnActivity(a.CopyLarge, mock.Anything, mock.Anything).Return(b.copyLarge)
	env.OnActivity(a.ListAhead, mock.Anything, mock.Anything).Return(b.listAhead)
}

func failureKeys(fs []migration.Failure) []string {
	keys := make([]string, len(fs))
	for i, f := range fs {
		keys[i] = f.Key
	}
	return keys
}

func TestShardCopiesPagesAndLargeObjects(t *testing.T) {
	env, reps := shardEnv(t, 4)
	b := mixedBucket()
	mockBucket(env, b)
	s := migration.Shard{Index: 4, After: "a", Before: "m"}
	env.ExecuteWorkflow(migration.ShardWorkflow, shardInput(testSpec(), s))

	if err := env.GetWorkflowError(); err != nil {
		t.Fatalf("shard failed: %v", err)
	}
	var res migration.ShardResult
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	want := b.totals(s)
	if want.Copied != 5 || want.Failed != 2 {
		t.Fatalf("fixture: totals %+v", want)
	}
	if res.Shard != 4 || res.Counts != want || res.Fatal != "" {
		t.Errorf("result %+v, want counts %+v", res, want)
	}
	if got := strings.Join(failureKeys(res.Failures), ","); got != "b2,c2" {
		t.Errorf("failure sample %q, want b2,c2", got)
	}

	// Pages follow each other from the shard's start, numbered from 0.
	var afters []string
	for i, p := range b.pages {
		afters = append(afters, p.After)
		if p.Page != i || p.Shard != s || p.JobID != testJobID || p.Spec.PageSize != 3 || p.Spec.FailureLog == nil {
			t.Errorf("page %d input %+v", i, p)
		}
	}
	if got := strings.Join(afters, ","); got != "a,b3,c3" {
		t.Errorf("pages after %q, want a,b3,c3", got)
	}
	if got := strings.Join(slices.Sorted(slices.Values(b.large)), ","); got != "b3,c2" {
		t.Errorf("large objects copied %q, want b3,c2", got)
	}

	// The job hears every count once, and the result last.
	rs := reps.all()
	if sum := reps.sum(); sum != want {
		t.Errorf("reported deltas sum to %+v, want %+v", sum, want)
	}
	for i, r := range rs {
		if r.Shard != 4 {
			t.Errorf("report %d names shard %d", i, r.Shard)
		}
		if (r.Done != nil) != (i == len(rs)-1) {
			t.Errorf("report %d of %d: done %v", i, len(rs), r.Done)
		}
	}
	if last := rs[len(rs)-1]; last.Done == nil || last.Done.Counts != want {
		t.Errorf("final report %+v", last)
	}
	var reported []migration.Failure
	for _, r := range rs {
		reported = append(reported, r.Failures...)
	}
	if got := strings.Join(failureKeys(reported), ","); got != "b2,c2" {
		t.Errorf("failures reported %q, want b2,c2", got)
	}
}

func TestShardLargeObjectWindow(t *testing.T) {
	env, reps := shardEnv(t, 0)
	var objects []object
	for _, k := range []string{"l1", "l2", "l3", "l4", "l5", "l6", "l7"} {
		objects = append(objects, object{key: k, size: 1 << 20})
	}
	objects = append(objects, object{key: "s1", size: 10}, object{key: "s2", size: 10})
	b := newFakeBucket(objects...)
	env.OnActivity(a.CopyPage, mock.Anything, mock.Anything).Return(b.copyPage)
	env.OnActivity(a.CopyLarge, mock.Anything, mock.Anything).After(time.Minute).Return(b.copyLarge)

	var (
		mu             sync.Mutex
		inFlight, most int
	)
	env.SetOnActivityStartedListener(func(info *activity.Info, _ context.Context, _ converter.EncodedValues) {
		mu.Lock()
		defer mu.Unlock()
		if info.ActivityType.Name == "CopyLarge" {
			inFlight++
			most = max(most, inFlight)
		}
	})
	env.SetOnActivityCompletedListener(func(info *activity.Info, _ converter.EncodedValue, _ error) {
		mu.Lock()
		defer mu.Unlock()
		if info.ActivityType.Name == "CopyLarge" {
			inFlight--
		}
	})

	s := migration.Shard{Index: 0}
	start := env.Now()
	env.ExecuteWorkflow(migration.ShardWorkflow, shardInput(testSpec(), s))
	if err := env.GetWorkflowError(); err != nil {
		t.Fatalf("shard failed: %v", err)
	}
	if most != 2 {
		t.Errorf("at most %d large copies at once, want Concurrency.LargeObjects = 2", most)
	}
	// Seven one-minute copies two at a time take four minutes when the
	// pages are listed while copies run (five when each page waits for
	// the copies of the one before).
	if took := env.Now().Sub(start); took != 4*time.Minute {
		t.Errorf("the shard took %v, want 4m", took)
	}
	if len(b.large) != 7 {
		t.Errorf("%d large objects copied, want 7", len(b.large))
	}
	if sum, want := reps.sum(), b.totals(s); sum != want {
		t.Errorf("reported %+v, want %+v", sum, want)
	}
	// Each progress report tells the job the activities then in flight
	// (the pacing of limits sums them): never more than a page and two
	// large copies, two large copies at least once.
	mostReported := 0
	for i, r := range reps.all() {
		if r.Done != nil {
			if r.InFlight != 0 {
				t.Errorf("final report %d has %d in flight", i, r.InFlight)
			}
			continue
		}
		if r.InFlight > 3 {
			t.Errorf("report %d: %d in flight, want at most 3", i, r.InFlight)
		}
		mostReported = max(mostReported, r.InFlight)
	}
	if mostReported < 2 {
		t.Errorf("at most %d in flight reported, want 2 or more", mostReported)
	}
}

func TestShardContinueAsNewCarriesCursorAndCounts(t *testing.T) {
	env, reps := shardEnv(t, 2)
	var objects []object
	for _, k := range []string{"k01", "k02", "k03", "k04", "k05", "k06", "k07", "k08", "k09", "k10", "k11", "k12"} {
		objects = append(objects, object{key: k, size: 100})
	}
	objects[4].size = 1 << 20 // k05 is large, found on the second page
	objects[1].fail = true
	b := newFakeBucket(objects...)
	env.OnActivity(a.CopyPage, mock.Anything, mock.Anything).After(10 * time.Second).Return(b.copyPage)
	env.OnActivity(a.CopyLarge, mock.Anything, mock.Anything).After(time.Minute).Return(b.copyLarge)
	// Suggested while the second page is in flight: that page and the
	// large object it finds must finish before the hand-over.
	env.RegisterDelayedCallback(func() { env.SetContinueAsNewSuggested(true) }, 15*time.Second)

	in := shardInput(testSpec(), migration.Shard{Index: 2})
	env.ExecuteWorkflow(migration.ShardWorkflow, in)

	err := env.GetWorkflowError()
	var can *workflow.ContinueAsNewError
	if !errors.As(err, &can) {
		t.Fatalf("shard ended with %v, want continue-as-new", err)
	}
	if can.WorkflowType.Name != migration.ShardWorkflow {
		t.Errorf("continues as %q", can.WorkflowType.Name)
	}
	var next migration.ShardInput
	if err := converter.GetDefaultDataConverter().FromPayloads(can.Input, &next); err != nil {
		t.Fatal(err)
	}
	want := migration.Counts{Copied: 5, Failed: 1, BytesCopied: 400 + 1<<20, BytesFailed: 100, BytesSent: 400 + 1<<20}
	if next.Page != 2 || next.Cursor != "k06" || next.Counts != want || next.Runs != 1 {
		t.Errorf("next run page %d cursor %q counts %+v runs %d; want 2 k06 %+v 1", next.Page, next.Cursor, next.Counts, next.Runs, want)
	}
	if next.JobID != in.JobID || next.Shard != in.Shard || next.Spec.PageSize != in.Spec.PageSize {
		t.Errorf("next run lost its job, shard or spec: %+v", next)
	}
	if len(b.pages) != 2 || len(b.large) != 1 {
		t.Errorf("%d pages and %d large copies before the hand-over, want 2 and 1", len(b.pages), len(b.large))
	}
	// Everything counted was reported before the hand-over, nothing as done.
	if sum := reps.sum(); sum != want {
		t.Errorf("reported %+v, want %+v", sum, want)
	}
	for _, r := range reps.all() {
		if r.Done != nil {
			t.Errorf("final report before the shard's end: %+v", r)
		}
	}
}

func TestShardResumesFromCarriedState(t *testing.T) {
	env, reps := shardEnv(t, 4)
	b := mixedBucket()
	mockBucket(env, b)
	s := migration.Shard{Index: 4, After: "a", Before: "m"}
	in := shardInput(testSpec(), s)
	in.Cursor, in.Page, in.Runs = "b3", 1, 1
	carried := migration.Counts{Copied: 2, Failed: 1, BytesCopied: 5010, BytesFailed: 20, BytesSent: 5010}
	in.Counts = carried
	env.ExecuteWorkflow(migration.ShardWorkflow, in)

	if err := env.GetWorkflowError(); err != nil {
		t.Fatalf("shard failed: %v", err)
	}
	var res migration.ShardResult
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	if res.Counts != b.totals(s) {
		t.Errorf("result counts %+v, want %+v", res.Counts, b.totals(s))
	}
	if len(b.pages) != 2 || b.pages[0].After != "b3" || b.pages[0].Page != 1 || b.pages[1].Page != 2 {
		t.Errorf("pages %+v, want pages 1 and 2 from b3", b.pages)
	}
	// Only this run's counts are news to the job.
	want := b.totals(s)
	want.Copied -= carried.Copied
	want.Failed -= carried.Failed
	want.BytesCopied -= carried.BytesCopied
	want.BytesFailed -= carried.BytesFailed
	want.BytesSent -= carried.BytesSent
	if sum := reps.sum(); sum != want {
		t.Errorf("reported %+v, want %+v", sum, want)
	}
}

func TestShardManifestOffsets(t *testing.T) {
	env, _ := shardEnv(t, 1)
	var offsets []int64
	var mu sync.Mutex
	env.OnActivity(a.CopyPage, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in migration.CopyPageInput) (migration.CopyPageResult, error) {
			mu.Lock()
			offsets = append(offsets, in.ManifestOffset)
			mu.Unlock()
			next := in.ManifestOffset + 100
			return migration.CopyPageResult{
				NextManifest: next,
				Done:         next >= in.Shard.ManifestEnd,
				Counts:       migration.Counts{Copied: 1, BytesCopied: 7},
			}, nil
		})
	spec := testSpec()
	spec.Filters.Manifest = &migration.ManifestRef{Store: "oss", Key: "lists/keys.txt"}
	env.ExecuteWorkflow(migration.ShardWorkflow,
		shardInput(spec, migration.Shard{Index: 1, ManifestStart: 100, ManifestEnd: 400}))

	var res migration.ShardResult
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatalf("shard failed: %v", err)
	}
	if len(offsets) != 3 || offsets[0] != 100 || offsets[1] != 200 || offsets[2] != 300 {
		t.Errorf("manifest offsets %v, want [100 200 300]", offsets)
	}
	if res.Counts.Copied != 3 {
		t.Errorf("copied %d, want 3", res.Counts.Copied)
	}
}

func TestShardFatalActivityStopsAndReports(t *testing.T) {
	env, reps := shardEnv(t, 4)
	b := mixedBucket()
	const denied = `destination store "cos": access denied: check its secret key`
	calls := 0
	env.OnActivity(a.CopyPage, mock.Anything, mock.Anything).Return(
		func(ctx context.Context, in migration.CopyPageInput) (migration.CopyPageResult, error) {
			calls++
			if in.Page == 1 {
				return migration.CopyPageResult{}, temporal.NewNonRetryableApplicationError(denied, migration.ErrFatal, nil)
			}
			return b.copyPage(ctx, in)
		})
	env.OnActivity(a.CopyLarge, mock.Anything, mock.Anything).After(time.Hour).Return(b.copyLarge)
	env.ExecuteWorkflow(migration.ShardWorkflow, shardInput(testSpec(), migration.Shard{Index: 4, After: "a", Before: "m"}))

	err := env.GetWorkflowError()
	var app *temporal.ApplicationError
	if !errors.As(err, &app) || app.Type() != migration.ErrFatal || !app.NonRetryable() {
		t.Fatalf("shard ended with %v, want a non-retryable %s error", err, migration.ErrFatal)
	}
	if !strings.Contains(app.Message(), denied) || !strings.Contains(app.Message(), `page 1 after "b3"`) {
		t.Errorf("error %q does not name the problem and the page", app.Message())
	}
	if calls != 2 {
		t.Errorf("CopyPage ran %d times, want 2 (no retry of a fatal error)", calls)
	}
	rs := reps.all()
	last := rs[len(rs)-1]
	if last.Done == nil || !strings.Contains(last.Done.Fatal, denied) {
		t.Fatalf("final report %+v does not carry the fatal problem", last)
	}
	// The first page's counts still reached the job.
	if sum := reps.sum(); sum.Copied != 1 || sum.Failed != 1 {
		t.Errorf("reported %+v, want the first page's 1 copied and 1 failed", sum)
	}
}

// TestShardRetriesListingThroughOutage: a page whose listing fails
// retryably (the store is out) is tried again past MaxAttempts, which is
// one object's budget, not the page's: the shard goes on once it answers.
func TestShardRetriesListingThroughOutage(t *testing.T) {
	env, reps := shardEnv(t, 0)
	calls := 0
	const outage = 7 // attempts that fail, over MaxAttempts (2)
	env.OnActivity(a.CopyPage, mock.Anything, mock.Anything).Return(
		func(context.Context, migration.CopyPageInput) (migration.CopyPageResult, error) {
			calls++
			if calls <= outage {
				return migration.CopyPageResult{}, errors.New("list: connection reset by peer")
			}
			return migration.CopyPageResult{Done: true, Counts: migration.Counts{Copied: 1}}, nil
		})
	spec := testSpec()
	spec.OutageMaxBackoff = "2s"
	env.ExecuteWorkflow(migration.ShardWorkflow, shardInput(spec, migration.Shard{Index: 0}))
	if err := env.GetWorkflowError(); err != nil {
		t.Fatalf("shard failed: %v", err)
	}
	if calls != outage+1 {
		t.Errorf("CopyPage ran %d times, want %d", calls, outage+1)
	}
	rs := reps.all()
	if last := rs[len(rs)-1]; last.Done == nil || last.Done.Fatal != "" || reps.sum().Copied != 1 {
		t.Errorf("reports %+v, want a final report of 1 copied and no fatal problem", rs)
	}
}

func TestShardRejectsInvalidInput(t *testing.T) {
	for name, in := range map[string]migration.ShardInput{
		"no job":       {Spec: testSpec()},
		"no source":    {JobID: testJobID, Spec: migration.JobSpec{Destination: migration.Location{Store: "cos"}}},
		"bad conflict": {JobID: testJobID, Spec: func() migration.JobSpec { s := testSpec(); s.Conflict = "merge"; return s }()},
	} {
		t.Run(name, func(t *testing.T) {
			env, _ := shardEnv(t, 0)
			env.ExecuteWorkflow(migration.ShardWorkflow, in)
			var app *temporal.ApplicationError
			if err := env.GetWorkflowError(); !errors.As(err, &app) || app.Type() != migration.ErrInvalidSpec || !app.NonRetryable() {
				t.Fatalf("shard ended with %v, want a non-retryable %s error", err, migration.ErrInvalidSpec)
			}
		})
	}
}

func TestErrorMessage(t *testing.T) {
	app := temporal.NewNonRetryableApplicationError(`source store "oss": access denied`, migration.ErrFatal,
		errors.New("AccessDenied: 403"))
	timeout := temporal.NewTimeoutError(enumspb.TIMEOUT_TYPE_HEARTBEAT, errors.New("list: connection reset"))
	for err, want := range map[error]string{
		app:                         `source store "oss": access denied`,
		errors.New("plain"):         "plain",
		timeout:                     timeout.Error(),
		temporal.NewCanceledError(): "canceled",
	} {
		if got := errorMessage(err); got != want {
			t.Errorf("errorMessage(%v) = %q, want %q", err, got, want)
		}
	}
	if !strings.Contains(timeout.Error(), "Heartbeat") {
		t.Errorf("a timeout's message %q does not say which", timeout.Error())
	}
	if !isFatal(app) || isFatal(timeout) {
		t.Error("isFatal does not tell a fatal error")
	}
}
