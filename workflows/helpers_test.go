package workflows

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"

	"github.com/bucketferry/bucketferry/activities"
	"github.com/bucketferry/bucketferry/migration"
)

const testJobID = "job-1"

// a names the activities for mocks, as the workflows do.
var a *activities.Activities

// newEnv is a test environment with the activities registered (tests mock
// the ones they expect; an activity left unmocked has no stores and
// fails); tests register the workflows.
func newEnv(t *testing.T) *testsuite.TestWorkflowEnvironment {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	s.SetLogger(log.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	env := s.NewTestWorkflowEnvironment()
	env.SetTestTimeout(20 * time.Second)
	env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: testJobID})
	activities.Register(env, &activities.Activities{})
	return env
}

func testSpec() migration.JobSpec {
	return migration.JobSpec{
		Source:           migration.Location{Store: "oss", Prefix: "src/"},
		Destination:      migration.Location{Store: "cos", Prefix: "dst/"},
		PageSize:         3,
		LargeObjectBytes: 1000,
		MaxAttempts:      2,
		Concurrency:      migration.Concurrency{Shards: 3, LargeObjects: 2},
	}
}

// object is an object of a fake source bucket.
type object struct {
	key  string
	size int64
	fail bool // copying it fails for good (recorded, not retried)
}

// fakeBucket answers CopyPage and CopyLarge the way the activities do,
// from a sorted list of objects, and records what it was asked.
type fakeBucket struct {
	objects []object
	// unpacked answers listings as a worker from before windowed-shard 7
	// does: it knows nothing of ListAheadInput.Pack.
	unpacked bool

	mu        sync.Mutex
	pages     []migration.CopyPageInput
	large     []string
	inFlight  int // CopyLarge activities running (started, not completed)
	maxFlight int
}

func newFakeBucket(objects ...object) *fakeBucket {
	objects = slices.Clone(objects)
	slices.SortFunc(objects, func(a, b object) int {
		switch {
		case a.key < b.key:
			return -1
		case a.key > b.key:
			return 1
		}
		return 0
	})
	return &fakeBucket{objects: objects}
}

func (f *fakeBucket) inShard(s migration.Shard, key string) bool {
	return key > s.After && (s.Before == "" || key < s.Before)
}

func failure(o object, shard int) migration.Failure {
	return migration.Failure{Key: o.key, Size: o.size, Reason: "NoSuchKey", Kind: "not found", Attempts: 1, Shard: shard}
}

func (f *fakeBucket) copyPage(_ context.Context, in migration.CopyPageInput) (migration.CopyPageResult, error) {
	f.mu.Lock()
	f.pages = append(f.pages, in)
	f.mu.Unlock()
	var res migration.CopyPageResult
	n := 0
	for _, o := range f.objects {
		if !f.inShard(in.Shard, o.key) || o.key <= in.After {
			continue
		}
		if n == in.Spec.PageSize {
			return res, nil
		}
		n++
		res.LastKey = o.key
		switch {
		case o.size >= in.Spec.LargeObjectBytes:
			res.Large = append(res.Large, migration.LargeObject{Key: o.key, Size: o.size})
		case o.fail:
			res.Counts.Failed++
			res.Counts.BytesFailed += o.size
			res.Failures = append(res.Failures, failure(o, in.Shard.Index))
		default:
			res.Counts.Copied++
			res.Counts.BytesCopied += o.size
			res.Counts.BytesSent += o.size
		}
	}
	res.Done = true
	return res, nil
}

func (f *fakeBucket) copyLarge(_ context.Context, in migration.CopyLargeInput) (migration.CopyLargeResult, error) {
	f.mu.Lock()
	f.large = append(f.large, in.Object.Key)
	f.mu.Unlock()
	for _, o := range f.objects {
		if o.key != in.Object.Key {
			continue
		}
		if o.fail {
			fl := failure(o, in.Shard)
			return migration.CopyLargeResult{Counts: migration.Counts{Failed: 1, BytesFailed: o.size}, Failure: &fl}, nil
		}
		return migration.CopyLargeResult{Counts: migration.Counts{Copied: 1, BytesCopied: o.size, BytesSent: o.size}}, nil
	}
	return migration.CopyLargeResult{}, fmt.Errorf("no object %q", in.Object.Key)
}

// totals are the counts a whole copy of the bucket's shard must reach.
func (f *fakeBucket) totals(s migration.Shard) migration.Counts {
	var c migration.Counts
	for _, o := range f.objects {
		if !f.inShard(s, o.key) {
			continue
		}
		if o.fail {
			c.Failed++
			c.BytesFailed += o.size
		} else {
			c.Copied++
			c.BytesCopied += o.size
			c.BytesSent += o.size
		}
	}
	return c
}

// reports records the signals a shard sends its job.
type reports struct {
	mu   sync.Mutex
	list []migration.ShardReport
}

func (r *reports) record(_, _, _, _ string, arg any) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.list = append(r.list, arg.(migration.ShardReport))
	return nil
}

func (r *reports) all() []migration.ShardReport {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.list)
}

func (r *reports) sum() migration.Counts {
	var c migration.Counts
	for _, rep := range r.all() {
		c.Add(rep.Delta)
	}
	return c
}

// listAhead answers ListAhead: the keys of the shard after in.After, cut
// into ranges of a page, at most in.Ranges of them (or, when asked, into
// chunks of in.ChunkKeys keys, at most in.Ranges pages of them).
func (f *fakeBucket) listAhead(_ context.Context, in migration.ListAheadInput) (migration.ListAheadResult, error) {
	var res migration.ListAheadResult
	n, cut, most := 0, in.Spec.PageSize, in.Ranges
	if in.ChunkKeys > 0 {
		cut, most = in.ChunkKeys, in.Ranges*max(in.Spec.PageSize/in.ChunkKeys, 1)
	}
	after := max(in.After, in.Shard.After)
	var listed []migration.Listed
	var chunk []string
	end := func(key string) {
		res.Bounds = append(res.Bounds, key)
		if in.Pack && !f.unpacked {
			// The workflow hands chunks on as they are: any bytes do.
			res.Chunks = append(res.Chunks, []byte(strings.Join(chunk, "\n")))
		}
		n, chunk = 0, nil
	}
	for _, o := range f.objects {
		if !f.inShard(in.Shard, o.key) || o.key <= after {
			continue
		}
		if len(res.Bounds) == most {
			return res, nil
		}
		listed = append(listed, migration.Listed{Key: o.key, Size: o.size})
		chunk = append(chunk, o.key)
		n++
		if n == cut {
			end(o.key)
		}
		after = o.key
	}
	if n > 0 {
		end(after)
	}
	res.Done = true
	if in.Carry {
		res.Objects = listed
	}
	return res, nil
}
