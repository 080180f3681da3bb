package activities

import (
	"context"
	"crypto/sha1"
	"fmt"
	"log/slog"
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
	ctx, spec, release, err := a.begin(ctx, in.JobID, in.Spec)
	defer release()
	if err != nil {
		return migration.CopyLargeResult{}, err
	}
	r := &largeRun{a: a, in: in, spec: spec, obj: in.Object, dk: dstKey(spec, in.Object.Key),
		log: a.logger().With("job", in.JobID, "shard", in.Shard, "key", in.Object.Key)}
	if r.src, r.dst, r.copier, err = a.largeStores(spec); err != nil {
		return migration.CopyLargeResult{}, err
	}
	r.loadPrior(ctx)

	d, existed, err := largeDestination(ctx, spec, r.dst, r.dk)
	if err == nil && largeCopiedBefore(ctx, r.src, r.obj, r.dst, d, existed, r.dk) {
		r.log.Info("large object was copied by an earlier attempt")
		return migration.CopyLargeResult{Counts: syncCopied(spec, true, migration.Counts{Copied: 1, BytesCopied: r.obj.Size, BytesSent: r.prior.BytesSent})}, nil
	}
	var skip bool
	if err == nil {
		skip, err = largeSkip(ctx, spec, r.src, r.obj, r.dst, d, existed, r.dk)
	}
	var res transfer.Result
	if err == nil && !skip {
		res, err = r.copy(ctx)
	}
	return r.outcome(ctx, res, existed, skip, err)
}

// largeRun is one attempt of CopyLarge: the object, its stores, and the
// progress its heartbeats carry.
type largeRun struct {
	a        *Activities
	in       migration.CopyLargeInput
	spec     migration.JobSpec
	obj      migration.LargeObject
	dk       string // the destination key
	log      *slog.Logger
	src, dst storage.Store
	copier   *transfer.Copier
	prior    LargeHeartbeat // what earlier attempts heartbeated

	mu      sync.Mutex // guards hb, started and base
	hb      LargeHeartbeat
	started bool
	base    int64 // bytes found uploaded when this attempt started
}

// loadPrior takes up what earlier attempts (or the CopyLargeParts
// activities that filled the upload) left.
func (r *largeRun) loadPrior(ctx context.Context) {
	if err := loadHeartbeat(ctx, &r.prior); err != nil {
		r.log.Warn("ignoring unreadable heartbeat details", "error", err)
		r.prior = LargeHeartbeat{}
	}
	if u := r.in.Resume; u != nil && r.prior.Checkpoint.UploadID == "" {
		// The upload that CopyLargeParts activities filled.
		r.prior.Checkpoint = transfer.Checkpoint{UploadID: u.UploadID, PartSize: u.PartSize, SrcSize: u.SrcSize, SrcETag: u.SrcETag}
		r.prior.PartsTotal = u.Parts
		r.prior.BytesSent = r.in.Sent
	}
	r.hb = r.prior
}

// details is the heartbeat as it stands.
func (r *largeRun) details() any {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.hb
}

// progress takes the copy's progress into the heartbeat and sends it.
func (r *largeRun) progress(ctx context.Context, p transfer.Progress) {
	r.mu.Lock()
	if !r.started {
		// Parts found uploaded were sent by an earlier attempt.
		r.started, r.base = true, p.BytesDone
	}
	r.hb = LargeHeartbeat{Checkpoint: p.Checkpoint, PartsDone: p.PartsDone, PartsTotal: p.PartsTotal,
		BytesDone: p.BytesDone, BytesSent: r.prior.BytesSent + p.BytesDone - r.base,
		Uploads: own(r.hb.Uploads, p.Checkpoint.UploadID)}
	r.mu.Unlock()
	r.a.answered(r.src, r.dst) // a part moved: neither store is out
	heartbeat(ctx, r.details())
}

// durable makes a new upload's id part of the attempt's heartbeat on the
// server before any part is sent. The SDK sends heartbeats later, and an
// attempt whose heartbeats time out (a server under load) ends without the
// id reaching it: the retry knows nothing of the upload, which then stays
// open and billed. When the id cannot be recorded, the copy aborts the
// upload and the attempt fails to be retried.
func (r *largeRun) durable(ctx context.Context) func(transfer.Checkpoint) error {
	return r.a.recordUpload(ctx, r.dst.Name(), r.dk, func(cp transfer.Checkpoint) any {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.hb.Checkpoint, r.hb.PartsDone, r.hb.BytesDone = cp, 0, 0
		r.hb.Uploads = own(r.hb.Uploads, cp.UploadID)
		return r.hb
	})
}

// recordUpload returns a transfer.Request's Initiated: it records the
// heartbeat details(cp) of a new upload synchronously (Activities.Heartbeats),
// so that a retry of the activity finds the upload however this attempt
// ends; nil without a recorder.
func (a *Activities) recordUpload(ctx context.Context, store, key string, details func(transfer.Checkpoint) any) func(transfer.Checkpoint) error {
	rec := a.Heartbeats
	if rec == nil || !activity.IsActivity(ctx) {
		return nil
	}
	return func(cp transfer.Checkpoint) error {
		hctx, cancel := context.WithTimeout(ctx, durableTimeout)
		defer cancel()
		if err := rec.RecordActivityHeartbeat(hctx, activity.GetInfo(ctx).TaskToken, details(cp)); err != nil {
			return &storage.Error{Kind: storage.KindUnknown, Store: store, Op: "record upload", Key: key,
				Err: fmt.Errorf("upload %s could not be recorded in the activity's heartbeat, so it was aborted: %w", cp.UploadID, err)}
		}
		return nil
	}
}

// durableTimeout bounds the heartbeat that records a new upload.
const durableTimeout = 20 * time.Second

// copy copies the object, resuming the upload earlier attempts began, and
// waits out outages of its stores.
func (r *largeRun) copy(ctx context.Context) (transfer.Result, error) {
	req := transfer.Request{Src: r.src, SrcKey: r.obj.Key, Dst: r.dst, DstKey: r.dk, Classes: classes(r.spec),
		Progress:  func(p transfer.Progress) { r.progress(ctx, p) },
		Initiated: r.durable(ctx),
		Owned:     own(r.prior.Uploads, r.prior.Checkpoint.UploadID)}
	if r.prior.Checkpoint.UploadID != "" {
		cp := r.prior.Checkpoint
		req.Resume = &cp
		r.log.Info("resuming multipart copy", "uploadId", cp.UploadID, "partsDone", r.prior.PartsDone)
	}
	stop := ticker(ctx, r.details)
	defer stop()
	srcRole, dstRole := role{"source", r.spec.Source.Store}, role{"destination", r.spec.Destination.Store}
	return r.a.copyThroughOutages(ctx, r.in.JobID, r.copier, req, names(r.src, srcRole, r.dst, dstRole), r.spec, func() (transfer.Checkpoint, int) {
		r.mu.Lock()
		defer r.mu.Unlock()
		return r.hb.Checkpoint, r.hb.PartsDone
	})
}

// outcome makes the activity's result of the copy's (or the skip's): a
// failure the job should retry is an error; one for good is logged to the
// failure log and counted, its uploads aborted.
func (r *largeRun) outcome(ctx context.Context, res transfer.Result, existed, skip bool, err error) (migration.CopyLargeResult, error) {
	obj, log := r.obj, r.log
	sent := r.prior.BytesSent + res.BytesWritten
	switch {
	case err == nil && skip:
		return migration.CopyLargeResult{Counts: migration.Counts{Skipped: 1, BytesSkipped: obj.Size, BytesSent: r.prior.BytesSent}}, nil
	case err == nil:
		log.Info("large object copied", "bytes", res.Size, "parts", res.Parts, "partsReused", res.PartsReused)
		c := copiedCounts(res)
		c.BytesSent = sent
		return migration.CopyLargeResult{Counts: syncCopied(r.spec, existed, c)}, nil
	case ctx.Err() != nil:
		if abandoned(ctx) {
			if aerr := abortUploads(ctx, r.dst, r.dk, owned(r.details), log); aerr != nil {
				log.Warn("cancelled copy: uploads left open", "error", aerr)
			}
			return migration.CopyLargeResult{}, ctx.Err()
		}
		heartbeat(ctx, r.details())
		return migration.CopyLargeResult{}, ctx.Err()
	}
	if storage.IsFatal(err) {
		var probe fatalProbe
		if ferr := confirmFatal(ctx, &probe, r.spec, r.src, r.dst, err); ferr != nil {
			log.Error("store unusable", "error", err)
			return migration.CopyLargeResult{}, ferr
		}
	}
	n := attempt(ctx)
	if storage.IsRetryable(err) && n < r.spec.MaxAttempts {
		heartbeat(ctx, r.details())
		return migration.CopyLargeResult{}, fmt.Errorf("copy %q: %w", obj.Key, err)
	}
	log.Warn("large object failed", "kind", storage.KindOf(err).String(), "attempts", n, "error", err)
	// Failed for good (say its source kept changing): an upload left open
	// would be billed, and a later job starts afresh anyway.
	if aerr := abortUploads(ctx, r.dst, r.dk, owned(r.details), log); aerr != nil {
		log.Warn("failed copy: uploads left open", "error", aerr)
	}
	f := failureOf(r.in.Shard, obj.Key, obj.Size, n, err)
	name := fmt.Sprintf("failures/shard-%05d/large-%x.jsonl", r.in.Shard, sha1.Sum([]byte(obj.Key)))
	if err := r.a.writeFailures(ctx, r.spec, name, []migration.Failure{f}); err != nil {
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
