package activities_test

import (
	"context"
	"crypto/sha1"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/bucketferry/bucketferry/activities"
	"github.com/bucketferry/bucketferry/emulator"
	"github.com/bucketferry/bucketferry/migration"
	"github.com/bucketferry/bucketferry/transfer"
)

func copyLarge(t *testing.T, a *activities.Activities, prior *activities.LargeHeartbeat, in migration.CopyLargeInput) (migration.CopyLargeResult, error) {
	t.Helper()
	if prior == nil {
		return execute[migration.CopyLargeResult](t, a, a.CopyLarge, nil, in)
	}
	return execute[migration.CopyLargeResult](t, a, a.CopyLarge, *prior, in)
}

// execute runs the activity fn with in, as a retry whose earlier attempts
// heartbeated prior when prior is not nil, and decodes its result.
func execute[R any](t *testing.T, a *activities.Activities, fn, prior, in any) (R, error) {
	t.Helper()
	env := newActivityEnv(a)
	if prior != nil {
		env.SetHeartbeatDetails(prior)
	}
	var res R
	v, err := env.ExecuteActivity(fn, in)
	if err != nil {
		return res, err
	}
	if err := v.Get(&res); err != nil {
		t.Fatal(err)
	}
	return res, nil
}

// TestCopyLargeResumes: given the checkpoint an earlier attempt
// heartbeated, CopyLarge uploads only the parts still missing.
func TestCopyLargeResumes(t *testing.T) {
	e := newEmuEnv(t)
	const size, partSize = 12 * mib, 1 * mib
	e.seed(t, "data/big", size, emulator.Meta{ContentType: "video/mp4", User: map[string]string{"k": "v"}})
	opts := transfer.Options{MultipartThreshold: 2 * mib, PartSize: partSize, PartsInFlight: 2}
	c, _ := transfer.New(opts)
	// An earlier attempt, killed once five parts were in.
	ctx, kill := context.WithCancel(context.Background())
	var last transfer.Progress
	_, err := c.Copy(ctx, transfer.Request{Src: e.src, SrcKey: "data/big", Dst: e.dst, DstKey: "moved/big", Progress: func(p transfer.Progress) {
		last = p
		if p.PartsDone >= 5 {
			kill()
		}
	}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("first attempt: %v", err)
	}
	before := e.puts()
	parts, _, err := e.srv.Backend.Parts(dstBucket, "moved/big", last.Checkpoint.UploadID)
	if err != nil {
		t.Fatal(err)
	}
	uploaded := len(parts)

	a := newActivities(t, e.stores, opts)
	spec := pageSpec()
	prior := &activities.LargeHeartbeat{Checkpoint: last.Checkpoint, PartsDone: last.PartsDone, PartsTotal: last.PartsTotal, BytesSent: int64(uploaded) * partSize}
	res, err := copyLarge(t, a, prior, migration.CopyLargeInput{JobID: "job", Spec: spec, Shard: 4, Object: migration.LargeObject{Key: "data/big", Size: size}})
	if err != nil {
		t.Fatal(err)
	}
	puts := e.puts() - before
	t.Logf("earlier attempt uploaded %d of 12 parts; the resumed one %d", uploaded, puts)
	if puts != int64(12-uploaded) {
		t.Errorf("resumed copy sent %d part uploads, want the %d missing", puts, 12-uploaded)
	}
	if res.Counts.Copied != 1 || res.Counts.BytesCopied != size || res.Counts.BytesSent != size {
		t.Errorf("counts %+v", res.Counts)
	}
	e.checkCopied(t, "data/big", "moved/big")
	if n := e.srv.Backend.UploadCount(dstBucket); n != 0 {
		t.Errorf("%d uploads left open", n)
	}
}

func TestCopyLargeOutcomes(t *testing.T) {
	e := newEmuEnv(t)
	e.seed(t, "data/big", 3*mib, emulator.Meta{})
	a := newActivities(t, e.stores, transfer.Options{MultipartThreshold: 2 * mib, PartSize: 1 * mib})
	spec := pageSpec()
	in := migration.CopyLargeInput{JobID: "job", Spec: spec, Shard: 2, Object: migration.LargeObject{Key: "data/big", Size: 3 * mib}}

	res, err := copyLarge(t, a, nil, in)
	if err != nil || res.Counts.Copied != 1 {
		t.Fatalf("copy: %+v %v", res, err)
	}
	e.checkCopied(t, "data/big", "moved/big")

	// Already there: skipped by both skip policies, one HEAD or two.
	for _, p := range []migration.ConflictPolicy{migration.Skip, migration.SkipIdentical} {
		in.Spec.Conflict = p
		before := e.puts()
		res, err = copyLarge(t, a, nil, in)
		if err != nil || res.Counts.Skipped != 1 || res.Counts.BytesSkipped != 3*mib || e.puts() != before {
			t.Errorf("%s: %+v %v", p, res, err)
		}
	}

	// Gone from the source: a failure, logged under its key's hash.
	in.Spec.Conflict = migration.Overwrite
	in.Object.Key = "data/vanished"
	res, err = copyLarge(t, a, nil, in)
	if err != nil {
		t.Fatal(err)
	}
	if res.Failure == nil || res.Failure.Kind != "not found" || res.Counts.Failed != 1 || res.Counts.BytesFailed != 3*mib {
		t.Fatalf("result %+v", res)
	}
	name := fmt.Sprintf("bucketferry-reports/job/failures/shard-00002/large-%x.jsonl", sha1.Sum([]byte("data/vanished")))
	if fs := e.readFailures(t, name); len(fs) != 1 || fs[0].Key != "data/vanished" {
		t.Errorf("failure log %+v", fs)
	}

	// Bad destination credentials stop the job.
	in.Object.Key = "data/big"
	in.Spec.Destination.Store = "baddst"
	_, err = copyLarge(t, a, nil, in)
	if err == nil {
		t.Fatal("copy with a wrong secret succeeded")
	}
	if ae := appError(t, err); ae.Type() != migration.ErrFatal || !strings.Contains(err.Error(), "baddst") {
		t.Errorf("error %v, want %s naming the store", err, migration.ErrFatal)
	}
}

// TestCopyLargeKeepsHeartbeating: parts that each take longer than the
// heartbeat timeout do not time the activity out, because a ticker
// heartbeats between parts.
func TestCopyLargeKeepsHeartbeating(t *testing.T) {
	e := newEmuEnv(t)
	e.seed(t, "data/slow", 2*mib, emulator.Meta{})
	e.srv.COSFaults.Set(emulator.FaultConfig{Bandwidth: 1 * mib}) // a part takes a second
	a := newActivities(t, e.stores, transfer.Options{MultipartThreshold: 1 * mib, PartSize: 1 * mib, PartsInFlight: 1})
	var s testsuite.WorkflowTestSuite
	s.SetLogger(tlog.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	env := s.NewTestWorkflowEnvironment()
	activities.Register(env, a)
	in := migration.CopyLargeInput{JobID: "job", Spec: pageSpec(), Object: migration.LargeObject{Key: "data/slow", Size: 2 * mib}}
	env.ExecuteWorkflow(func(ctx workflow.Context) (migration.CopyLargeResult, error) {
		ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
			StartToCloseTimeout: time.Minute,
			HeartbeatTimeout:    400 * time.Millisecond,
			RetryPolicy:         &temporal.RetryPolicy{MaximumAttempts: 1},
		})
		var res migration.CopyLargeResult
		err := workflow.ExecuteActivity(ctx, a.CopyLarge, in).Get(ctx, &res)
		return res, err
	})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatalf("copy of slow parts failed: %v", err)
	}
	var res migration.CopyLargeResult
	if err := env.GetWorkflowResult(&res); err != nil || res.Counts.Copied != 1 {
		t.Fatalf("result %+v %v", res, err)
	}
	e.checkCopied(t, "data/slow", "moved/slow")
}

// TestPlanKeepsHeartbeating: against a store whose every request takes
// longer than the plan's heartbeat timeout, the plan does not time out,
// because a ticker heartbeats beside its probes; so the job can give the
// plan a heartbeat timeout (plan-heartbeat) and a worker that dies while
// planning is noticed.
func TestPlanKeepsHeartbeating(t *testing.T) {
	e := newEmuEnv(t)
	e.seed(t, "data/one", 10, emulator.Meta{})
	e.srv.OSSFaults.Set(emulator.FaultConfig{Latency: time.Second})
	a := newActivities(t, e.stores, transfer.Options{})
	var s testsuite.WorkflowTestSuite
	s.SetLogger(tlog.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	env := s.NewTestWorkflowEnvironment()
	activities.Register(env, a)
	env.ExecuteWorkflow(func(ctx workflow.Context) (migration.PlanResult, error) {
		ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
			StartToCloseTimeout: time.Minute,
			HeartbeatTimeout:    400 * time.Millisecond,
			RetryPolicy:         &temporal.RetryPolicy{MaximumAttempts: 1},
		})
		var res migration.PlanResult
		err := workflow.ExecuteActivity(ctx, a.Plan, migration.PlanInput{JobID: "job", Spec: pageSpec()}).Get(ctx, &res)
		return res, err
	})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatalf("plan against a slow store failed: %v", err)
	}
	var res migration.PlanResult
	if err := env.GetWorkflowResult(&res); err != nil || len(res.Shards) == 0 {
		t.Fatalf("result %+v %v", res, err)
	}
}

// recorder is a HeartbeatRecorder that fails its first fail calls, and
// notes what each call carried and how many parts the upload had then.
type recorder struct {
	e     *emuEnv
	fail  int
	calls []any
	parts []int
}

func (r *recorder) RecordActivityHeartbeat(_ context.Context, _ []byte, details ...any) error {
	var id string
	switch d := details[0].(type) {
	case activities.LargeHeartbeat:
		id = d.Checkpoint.UploadID
	case transfer.Checkpoint:
		id = d.UploadID
	}
	parts, _, _ := r.e.srv.Backend.Parts(dstBucket, "moved/big", id)
	r.calls, r.parts = append(r.calls, details[0]), append(r.parts, len(parts))
	if len(r.calls) <= r.fail {
		return errors.New("context deadline exceeded")
	}
	return nil
}

// TestCopyLargeRecordsItsUploadFirst: a new upload's id is in a heartbeat
// the server acknowledged before any part is sent; an attempt that cannot
// record it aborts the upload and fails to be retried, so no upload is left
// open that a retry would not know of.
func TestCopyLargeRecordsItsUploadFirst(t *testing.T) {
	e := newEmuEnv(t)
	e.seed(t, "data/big", 3*mib, emulator.Meta{})
	a := newActivities(t, e.stores, transfer.Options{MultipartThreshold: 2 * mib, PartSize: 1 * mib})
	rec := &recorder{e: e, fail: 1}
	a.Heartbeats = rec
	in := migration.CopyLargeInput{JobID: "job", Spec: pageSpec(), Shard: 2, Object: migration.LargeObject{Key: "data/big", Size: 3 * mib}}

	_, err := copyLarge(t, a, nil, in)
	if err == nil || !strings.Contains(err.Error(), "could not be recorded") {
		t.Fatalf("attempt whose heartbeat failed: %v", err)
	}
	if len(rec.calls) != 1 || rec.calls[0].(activities.LargeHeartbeat).Checkpoint.UploadID == "" || rec.parts[0] != 0 {
		t.Fatalf("recorded %+v with %v parts uploaded", rec.calls, rec.parts)
	}
	if n := e.srv.Backend.UploadCount(dstBucket); n != 0 {
		t.Errorf("%d uploads left open by the attempt that could not record its upload", n)
	}

	res, err := copyLarge(t, a, nil, in)
	if err != nil || res.Counts.Copied != 1 {
		t.Fatalf("second attempt: %+v %v", res, err)
	}
	if len(rec.calls) != 2 || rec.parts[1] != 0 {
		t.Fatalf("second attempt recorded %+v with %v parts uploaded", rec.calls[1:], rec.parts[1:])
	}
	if hb := rec.calls[1].(activities.LargeHeartbeat); hb.PartsDone != 0 || !slices.Contains(hb.Uploads, hb.Checkpoint.UploadID) {
		t.Errorf("recorded heartbeat %+v does not own its upload", hb)
	}
	e.checkCopied(t, "data/big", "moved/big")
	if n := e.srv.Backend.UploadCount(dstBucket); n != 0 {
		t.Errorf("%d uploads left open", n)
	}
}

// TestBeginLargeTakesUpItsUpload: BeginLarge records the upload it begins
// before answering; a retry whose earlier attempt's answer was lost takes
// that upload up instead of leaving it open and beginning another, and an
// attempt that cannot record its upload aborts it.
func TestBeginLargeTakesUpItsUpload(t *testing.T) {
	e := newEmuEnv(t)
	e.seed(t, "data/big", 3*mib, emulator.Meta{})
	a := newActivities(t, e.stores, transfer.Options{MultipartThreshold: 2 * mib, PartSize: 1 * mib})
	rec := &recorder{e: e, fail: 1}
	a.Heartbeats = rec
	in := migration.CopyLargeInput{JobID: "job", Spec: pageSpec(), Shard: 1, Object: migration.LargeObject{Key: "data/big", Size: 3 * mib}}
	begin := func(prior any) (migration.BeginLargeResult, error) {
		return execute[migration.BeginLargeResult](t, a, a.BeginLarge, prior, in)
	}

	if _, err := begin(nil); err == nil || !strings.Contains(err.Error(), "could not be recorded") {
		t.Fatalf("attempt whose heartbeat failed: %v", err)
	}
	if n := e.srv.Backend.UploadCount(dstBucket); n != 0 {
		t.Fatalf("%d uploads left open by the attempt that could not record its upload", n)
	}

	res, err := begin(nil)
	if err != nil || res.Upload == nil {
		t.Fatalf("begin: %+v %v", res, err)
	}
	cp, ok := rec.calls[len(rec.calls)-1].(transfer.Checkpoint)
	if !ok || cp.UploadID != res.Upload.UploadID {
		t.Fatalf("recorded %+v, began %+v", rec.calls[len(rec.calls)-1], res.Upload)
	}

	// The answer was lost: the retry has only the heartbeat.
	again, err := begin(cp)
	if err != nil || again.Upload == nil || *again.Upload != *res.Upload {
		t.Fatalf("retry: %+v %v, want the upload %+v", again.Upload, err, res.Upload)
	}
	if n := e.srv.Backend.UploadCount(dstBucket); n != 1 {
		t.Errorf("%d uploads open, want the one begun", n)
	}
	if len(rec.calls) != 2 {
		t.Errorf("the retry recorded a new upload: %+v", rec.calls[2:])
	}
}
