package workflows

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"

	"github.com/bucketferry/bucketferry/migration"
)

// TestShardRestoresArchivedObjects: archived objects a page found are
// restored by a sub-flow that polls with growing workflow timers, copies
// each once readable, and fails those still archived at the deadline;
// the shard ends only after that.
func TestShardRestoresArchivedObjects(t *testing.T) {
	env, reps := shardEnv(t, 2)
	spec := testSpec()
	spec.Archive = migration.ArchiveRestore
	spec.Restore = &migration.RestoreOptions{PollSeconds: 60, MaxWaitSeconds: 200}
	objs := []migration.LargeObject{{Key: "x1", Size: 1}, {Key: "x2", Size: 2}, {Key: "x3", Size: 3}}
	env.OnActivity(a.CopyPage, mock.Anything, mock.Anything).Return(
		migration.CopyPageResult{LastKey: "x3", Done: true, Counts: migration.Counts{Copied: 4, BytesCopied: 40}, Archived: objs}, nil)

	var mu sync.Mutex
	var copied []string
	var rounds []migration.RestoreInput
	var at []time.Duration
	var start time.Time
	env.OnActivity(a.CopyLarge, mock.Anything, mock.Anything).Return(func(_ context.Context, in migration.CopyLargeInput) (migration.CopyLargeResult, error) {
		mu.Lock()
		defer mu.Unlock()
		copied = append(copied, in.Object.Key)
		return migration.CopyLargeResult{Counts: migration.Counts{Copied: 1, BytesCopied: in.Object.Size}}, nil
	})
	env.OnActivity(a.RestoreArchived, mock.Anything, mock.Anything).Return(func(_ context.Context, in migration.RestoreInput) (migration.RestoreResult, error) {
		mu.Lock()
		defer mu.Unlock()
		now := env.Now()
		if len(rounds) == 0 {
			start = now
		}
		rounds = append(rounds, in)
		at = append(at, now.Sub(start).Round(time.Second))
		var res migration.RestoreResult
		for _, o := range in.Objects {
			switch {
			case o.Key == "x1" && in.Round >= 1, o.Key == "x2" && in.Round >= 2:
				res.Restored = append(res.Restored, o)
			case in.Final:
				res.Counts.Add(migration.Counts{Failed: 1, BytesFailed: o.Size})
				res.Failures = append(res.Failures, migration.Failure{Key: o.Key, Size: o.Size, Reason: migration.ArchivedReason})
			default:
				res.Pending = append(res.Pending, o)
			}
		}
		return res, nil
	})
	env.ExecuteWorkflow(migration.ShardWorkflow, shardInput(spec, migration.Shard{Index: 2}))
	if err := env.GetWorkflowError(); err != nil {
		t.Fatalf("shard failed: %v", err)
	}
	var res migration.ShardResult
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	want := migration.Counts{Copied: 6, BytesCopied: 43, Failed: 1, BytesFailed: 3}
	if res.Counts != want || reps.sum() != want {
		t.Errorf("result %+v, reported %+v, want %+v", res.Counts, reps.sum(), want)
	}
	if len(res.Failures) != 1 || res.Failures[0].Key != "x3" {
		t.Errorf("failures %+v, want x3", res.Failures)
	}
	slices.Sort(copied)
	if !slices.Equal(copied, []string{"x1", "x2"}) {
		t.Errorf("copied %q after their restore, want x1, x2", copied)
	}
	// Checks at 0, 60 s, then 120 s later, then at the 200 s deadline.
	if !slices.Equal(at, []time.Duration{0, 60 * time.Second, 180 * time.Second, 200 * time.Second}) {
		t.Errorf("restore rounds at %v", at)
	}
	for i, r := range rounds {
		if r.Round != i || r.Batch != 0 || r.Shard != 2 || r.Final != (i == 3) {
			t.Errorf("round %d input: round %d batch %d shard %d final %v", i, r.Round, r.Batch, r.Shard, r.Final)
		}
	}
	if len(rounds) == 4 && len(rounds[3].Objects) != 1 {
		t.Errorf("the last round asked about %+v, want only x3", rounds[3].Objects)
	}
}
