package activities

import (
	"context"
	"crypto/sha1"
	"fmt"
	"slices"
	"sync"
	"time"

	"go.temporal.io/sdk/activity"

	"github.com/bucketferry/bucketferry/migration"
	"github.com/bucketferry/bucketferry/storage"
	"github.com/bucketferry/bucketferry/transfer"
)

// LargeHeartbeat is what CopyLarge heartbeats: the multipart checkpoint a
// retry on any worker resumes from, and progress for people watching.
type LargeHeartbeat struct {
	Checkpoint transfer.Checkpoint `json:"checkpoint"`
	PartsDone  int                 `json:"partsDone"`
	PartsTotal int                 `json:"partsTotal"`
	BytesDone  int64               `json:"bytesDone"`
	// BytesSent counts the uploads of every attempt so far.
	BytesSent int64 `json:"bytesSent"`
	// Uploads are the multipart uploads this copy initiated, over all its
	// attempts (the newest maxOwnedUploads): the only ones it may abort.
	Uploads []string `json:"uploads,omitempty"`
}

// maxOwnedUploads bounds LargeHeartbeat.Uploads; a copy starts a new
// upload only when its source changed or an attempt died before its
// first heartbeat, so a few are plenty.
const maxOwnedUploads = 16

// own adds an upload id to the ones a copy initiated.
func own(ids []string, id string) []string {
	if id == "" || slices.Contains(ids, id) {
		return ids
	}
	ids = append(ids, id)
	return ids[max(len(ids)-maxOwnedUploads, 0):]
}

// CopyLarge copies one large object as a multipart upload, heartbeating its
// checkpoint so that a retry uploads only the parts still missing.
func (a *Activities) CopyLarge(ctx context.Context, in migration.CopyLargeInput) (migration.CopyLargeResult, error) {
	res, err := a.copyLarge(ctx, in)
	if err == nil {
		record(ctx, in.JobID, res.Counts)
		res.Fleet = a.fleet(ctx)
	}
	return res, err
}

func (a *Activities) copyLarge(ctx context.Context, in migration.CopyLargeInput) (migration.CopyLargeResult, error) {
	spec, err := prepare(in.Spec, in.JobID)
	if err != nil {
		return migration.CopyLargeResult{}, err
	}
	ctx, release := a.throttle(ctx, in.JobID, spec.Limits)
	defer release()
	obj := in.Object
	log := a.logger().With("job", in.JobID, "shard", in.Shard, "key", obj.Key)
	src, dst, copier, err := a.largeStores(spec)
	if err != nil {
		return migration.CopyLargeResult{}, err
	}
	srcRole, dstRole := role{"source", spec.Source.Store}, role{"destination", spec.Destination.Store}
	var prior LargeHeartbeat
	if err := loadHeartbeat(ctx, &prior); err != nil {
		log.Warn("ignoring unreadable heartbeat details", "error", err)
		prior = LargeHeartbeat{}
	}
	if r := in.Resume; r != nil && prior.Checkpoint.UploadID == "" {
		// The upload that CopyLargeParts activities filled.
		prior.Checkpoint = transfer.Checkpoint{UploadID: r.UploadID, PartSize: r.PartSize, SrcSize: r.SrcSize, SrcETag: r.SrcETag}
		prior.PartsTotal = r.Parts
		prior.BytesSent = in.Sent
	}

	var mu sync.Mutex
	hb := prior
	started, base := false, int64(0)
	details := func() any {
		mu.Lock()
		defer mu.Unlock()
		return hb
	}
	progress := func(p transfer.Progress) {
		mu.Lock()
		if !started {
			// Parts found uploaded were sent by an earlier attempt.
			started, base = true, p.BytesDone
		}
		hb = LargeHeartbeat{Checkpoint: p.Checkpoint, PartsDone: p.PartsDone, PartsTotal: p.PartsTotal,
			BytesDone: p.BytesDone, BytesSent: prior.BytesSent + p.BytesDone - base,
			Uploads: own(hb.Uploads, p.Checkpoint.UploadID)}
		mu.Unlock()
		a.answered(src, dst) // a part moved: neither store is out
		heartbeat(ctx, details())
	}

	dk := dstKey(spec, obj.Key)
	var probe fatalProbe
	var res transfer.Result
	d, existed, err := largeDestination(ctx, spec, dst, dk)
	if err == nil && largeCopiedBefore(ctx, src, obj, dst, d, existed, dk) {
		log.Info("large object was copied by an earlier attempt")
		return migration.CopyLargeResult{Counts: syncCopied(spec, true, migration.Counts{Copied: 1, BytesCopied: obj.Size, BytesSent: prior.BytesSent})}, nil
	}
	var skip bool
	if err == nil {
		skip, err = largeSkip(ctx, spec, src, obj, dst, d, existed, dk)
	}
	if err == nil && !skip {
		req := transfer.Request{Src: src, SrcKey: obj.Key, Dst: dst, DstKey: dk, Progress: progress, Classes: classes(spec),
			Owned: own(prior.Uploads, prior.Checkpoint.UploadID)}
		if prior.Checkpoint.UploadID != "" {
			cp := prior.Checkpoint
			req.Resume = &cp
			log.Info("resuming multipart copy", "uploadId", cp.UploadID, "partsDone", prior.PartsDone)
		}
		stop := ticker(ctx, details)
		res, err = a.copyThroughOutages(ctx, in.JobID, copier, req, names(src, srcRole, dst, dstRole), spec, func() (transfer.Checkpoint, int) {
			mu.Lock()
			defer mu.Unlock()
			return hb.Checkpoint, hb.PartsDone
		})
		stop()
	}
	sent := prior.BytesSent + res.BytesWritten
	switch {
	case err == nil && skip:
		return migration.CopyLargeResult{Counts: migration.Counts{Skipped: 1, BytesSkipped: obj.Size, BytesSent: prior.BytesSent}}, nil
	case err == nil:
		log.Info("large object copied", "bytes", res.Size, "parts", res.Parts, "partsReused", res.PartsReused)
		c := copiedCounts(res)
		c.BytesSent = sent
		return migration.CopyLargeResult{Counts: syncCopied(spec, existed, c)}, nil
	case ctx.Err() != nil:
		if abandoned(ctx) {
			if aerr := abortUploads(ctx, dst, dk, owned(details), log); aerr != nil {
				log.Warn("cancelled copy: uploads left open", "error", aerr)
			}
			return migration.CopyLargeResult{}, ctx.Err()
		}
		heartbeat(ctx, details())
		return migration.CopyLargeResult{}, ctx.Err()
	}
	if storage.IsFatal(err) {
		if ferr := confirmFatal(ctx, &probe, spec, src, dst, err); ferr != nil {
			log.Error("store unusable", "error", err)
			return migration.CopyLargeResult{}, ferr
		}
	}
	n := attempt(ctx)
	if storage.IsRetryable(err) && n < spec.MaxAttempts {
		heartbeat(ctx, details())
		return migration.CopyLargeResult{}, fmt.Errorf("copy %q: %w", obj.Key, err)
	}
	log.Warn("large object failed", "kind", storage.KindOf(err).String(), "attempts", n, "error", err)
	// Failed for good (say its source kept changing): an upload left open
	// would be billed, and a later job starts afresh anyway.
	if aerr := abortUploads(ctx, dst, dk, owned(details), log); aerr != nil {
		log.Warn("failed copy: uploads left open", "error", aerr)
	}
	f := failureOf(in.Shard, obj.Key, obj.Size, n, err)
	name := fmt.Sprintf("failures/shard-%05d/large-%x.jsonl", in.Shard, sha1.Sum([]byte(obj.Key)))
	if err := a.writeFailures(ctx, spec, name, []migration.Failure{f}); err != nil {
		return migration.CopyLargeResult{}, err
	}
	return migration.CopyLargeResult{
		Counts:  migration.Counts{Failed: 1, BytesFailed: obj.Size, BytesSent: sent},
		Failure: &f,
	}, nil
}

// largeDestination HEADs the destination key when something needs it: a
// retried attempt (to find what an earlier one finished) or a conflict
// policy that looks at the destination. A first overwrite copy asks
// nothing.
func largeDestination(ctx context.Context, spec migration.JobSpec, dst storage.Store, dk string) (storage.ObjectInfo, bool, error) {
	if attempt(ctx) < 2 && !spec.Conflict.ReadsDestination() {
		return storage.ObjectInfo{}, false, nil
	}
	d, err := dst.Head(ctx, dk)
	switch {
	case storage.IsNotFound(err):
		return storage.ObjectInfo{}, false, nil
	case err != nil:
		return storage.ObjectInfo{}, false, err
	}
	return d, true, nil
}

// largeCopiedBefore reports, on a retried attempt, whether an earlier one
// completed the upload but died before reporting it: the destination has
// the object d, written since the activity was scheduled, with the
// source's size and CRC64. Whatever the conflict policy, that copy is this
// job's.
func largeCopiedBefore(ctx context.Context, src storage.Store, obj migration.LargeObject, dst storage.Store, d storage.ObjectInfo, found bool, dk string) bool {
	if attempt(ctx) < 2 || !found || d.LastModified.Before(activity.GetInfo(ctx).ScheduledTime.Truncate(time.Second)) {
		return false
	}
	same, err := identical(ctx, src, storage.ObjectInfo{Key: obj.Key, Size: obj.Size}, dst, d, dk)
	return err == nil && same
}

// largeSkip applies the conflict policy to a large object whose
// destination object is d (found tells whether there is one).
func largeSkip(ctx context.Context, spec migration.JobSpec, src storage.Store, obj migration.LargeObject, dst storage.Store, d storage.ObjectInfo, found bool, dk string) (bool, error) {
	if !found {
		return false, nil
	}
	switch spec.Conflict {
	case migration.Skip:
		return true, nil
	case migration.SkipIdentical:
		return identical(ctx, src, storage.ObjectInfo{Key: obj.Key, Size: obj.Size}, dst, d, dk)
	case migration.Changed:
		s, err := src.Head(ctx, obj.Key)
		if err != nil {
			return false, err
		}
		st, err := stale(ctx, src, s, dst, d, dk)
		return !st && err == nil, err
	}
	return false, nil
}

// copyThroughOutages copies a large object, waiting out outages of its
// stores (outage.go) inside the attempt. A try that failed with an error of
// an outage kind goes on from its checkpoint at once when it uploaded parts
// (a long copy outlives many brief failures; every round needs new parts,
// so this ends), and after a wait when its stores are out: neither spends
// the object's budget nor the parts already uploaded. BytesWritten of the
// result counts every try.
func (a *Activities) copyThroughOutages(ctx context.Context, job string, copier *transfer.Copier, req transfer.Request,
	n storeNames, spec migration.JobSpec, state func() (transfer.Checkpoint, int)) (transfer.Result, error) {
	wait := backoff(spec)
	var written int64
	for {
		mark := a.mark(req.Src, req.Dst)
		_, before := state()
		res, err := copier.Copy(ctx, req)
		written += res.BytesWritten
		res.BytesWritten = written
		if err == nil || ctx.Err() != nil || !storage.IsOutage(err) {
			return res, err
		}
		cp, after := state()
		if after <= before && !a.waitOutage(ctx, job, n, req.Src.Name(), mark, err, &wait, nil) {
			return res, err
		}
		if cp.UploadID != "" {
			req.Resume = &cp
		}
	}
}

// owned are the uploads a copy initiated, from its heartbeat details.
func owned(details func() any) []string {
	hb := details().(LargeHeartbeat)
	return own(hb.Uploads, hb.Checkpoint.UploadID)
}
