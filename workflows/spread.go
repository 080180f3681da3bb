package workflows

import (
	"fmt"

	"go.temporal.io/sdk/workflow"

	"github.com/bucketferry/bucketferry/activities"
	"github.com/bucketferry/bucketferry/migration"
)

// Spread large objects.
//
// A windowed shard copies an object of at least Spec.SpreadObjectBytes
// with its parts spread over spreadChunks activities that any workers run
// at once, so that a bucket of a few huge objects also goes faster with
// every worker: BeginLarge begins the upload, CopyLargeParts activities
// fill it, and a CopyLarge that resumes the upload sends what they left
// (all of it when one failed for good), completes the object, verifies it
// and records a failure, exactly as for any large object.

// spreadVersion gates the spread copy: shards recorded before it copy
// every large object with one CopyLarge.
const spreadVersion = "spread-large"

// legacySpreadObjectBytes is the spread threshold of specs filled in before
// WithDefaults set SpreadObjectBytes (v0.1.0). It must never change:
// running jobs of those releases replay with it, whatever
// migration.DefaultSpreadObjectBytes becomes.
const legacySpreadObjectBytes = 1 << 30

// spreadChunks is how many CopyLargeParts activities share one object.
const spreadChunks = 8

// useSpread decides, once per run, whether large objects may be spread.
func (s *shard) useSpread(ctx workflow.Context) {
	if !s.windowed {
		return
	}
	s.spread = s.gates.version(ctx, spreadVersion, 1) == 1
}

func (s *shard) spreads(obj migration.LargeObject) bool {
	limit := s.spec.SpreadObjectBytes
	if limit <= 0 {
		// A spec filled in before WithDefaults set this field: the
		// default of those releases, frozen (docs/versioning.md).
		limit = legacySpreadObjectBytes
	}
	return s.spread && obj.Size >= limit
}

// startSpread copies obj with its parts spread, in a coroutine whose
// result the shard's selector takes as it takes a CopyLarge's.
func (s *shard) startSpread(ctx workflow.Context, obj migration.LargeObject) {
	summary := fmt.Sprintf("large %q (%s), parts spread", obj.Key, humanBytes(obj.Size))
	f, set := workflow.NewFuture(ctx)
	s.large++
	workflow.Go(ctx, func(gctx workflow.Context) {
		var res migration.CopyLargeResult
		err := s.copySpread(gctx, obj).Get(gctx, &res)
		set.Set(res, err)
	})
	s.sel.AddFuture(f, func(f workflow.Future) {
		s.large--
		var res migration.CopyLargeResult
		if err := f.Get(ctx, &res); err != nil {
			s.failed(ctx, summary, err)
			return
		}
		s.heard(res.Fleet)
		var failures []migration.Failure
		if res.Failure != nil {
			failures = []migration.Failure{*res.Failure}
		}
		s.count(res.Counts, failures)
	})
}

// copySpread runs the steps of a spread copy and returns the final
// CopyLarge's future.
func (s *shard) copySpread(ctx workflow.Context, obj migration.LargeObject) workflow.Future {
	var a *activities.Activities
	in := migration.CopyLargeInput{JobID: s.in.JobID, Spec: s.spec, Shard: s.in.Shard.Index, Object: obj}
	var begun migration.BeginLargeResult
	s.spreadObjs++
	defer func() { s.spreadObjs-- }()
	s.spreading++
	err := workflow.ExecuteActivity(s.activityContext(fmt.Sprintf("begin %q", obj.Key), pageTimeout), a.BeginLarge, in).Get(ctx, &begun)
	s.spreading--
	s.heard(begun.Fleet)
	if u := begun.Upload; err == nil && u != nil {
		per := (u.Parts + spreadChunks - 1) / spreadChunks
		var futures []workflow.Future
		for from := 0; from < u.Parts; from += per {
			to := min(from+per, u.Parts)
			pin := migration.CopyLargePartsInput{JobID: s.in.JobID, Spec: s.spec, Shard: s.in.Shard.Index, Object: obj,
				Upload: *u, From: from, To: to}
			summary := fmt.Sprintf("parts %d-%d of %d of %q", from+1, to, u.Parts, obj.Key)
			futures = append(futures, workflow.ExecuteActivity(s.activityContext(summary, largeTimeout), a.CopyLargeParts, pin))
			s.spreading++
		}
		for _, f := range futures {
			var r migration.CopyLargePartsResult
			// A run of parts that failed for good is left to CopyLarge.
			if f.Get(ctx, &r) == nil {
				in.Sent += r.Sent
				s.heard(r.Fleet)
			}
			s.spreading--
		}
		in.Resume = u
	}
	summary := fmt.Sprintf("large %q (%s)", obj.Key, humanBytes(obj.Size))
	if in.Resume != nil {
		summary = fmt.Sprintf("complete %q (%s)", obj.Key, humanBytes(obj.Size))
	}
	return workflow.ExecuteActivity(s.activityContext(summary, largeTimeout), a.CopyLarge, in)
}
