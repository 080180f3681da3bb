package activities

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/bucketferry/bucketferry/migration"
	"github.com/bucketferry/bucketferry/storage"
	"github.com/bucketferry/bucketferry/transfer"
)

// A very large object is copied by several workers at once: BeginLarge
// begins its multipart upload, CopyLargeParts activities (any workers) each
// upload a run of its parts, and CopyLarge, resuming the upload, uploads
// whatever they left, completes it and verifies the object as for any
// other large object. Each step is resumable: parts already uploaded are
// found with ListParts and not sent again.

// BeginLarge begins the multipart upload of a large object for
// CopyLargeParts activities, unless the job's conflict policy skips the
// object (then CopyLarge decides alone, as for any large object).
func (a *Activities) BeginLarge(ctx context.Context, in migration.CopyLargeInput) (migration.BeginLargeResult, error) {
	ctx, spec, release, err := a.begin(ctx, in.JobID, in.Spec)
	defer release()
	if err != nil {
		return migration.BeginLargeResult{}, err
	}
	src, dst, copier, err := a.largeStores(spec)
	if err != nil {
		return migration.BeginLargeResult{}, err
	}
	res := migration.BeginLargeResult{Fleet: a.fleet(ctx)}
	dk := dstKey(spec, in.Object.Key)
	d, existed, err := largeDestination(ctx, spec, dst, dk)
	if err != nil {
		return res, fmt.Errorf("begin %q: %w", in.Object.Key, err)
	}
	if skip, err := largeSkip(ctx, spec, src, in.Object, dst, d, existed, dk); err != nil || skip {
		return res, err
	}
	// An earlier attempt that began the upload and died before its result
	// was recorded left the upload in its heartbeat: take it up, rather
	// than leave it open for good and begin another.
	var prior transfer.Checkpoint
	if err := loadHeartbeat(ctx, &prior); err != nil {
		a.logger().Warn("ignoring unreadable heartbeat details", "job", in.JobID, "key", in.Object.Key, "error", err)
		prior = transfer.Checkpoint{}
	}
	req := transfer.Request{Src: src, SrcKey: in.Object.Key, Dst: dst, DstKey: dk, Classes: classes(spec),
		Initiated: a.recordUpload(ctx, dst.Name(), dk, func(cp transfer.Checkpoint) any { return cp })}
	if prior.UploadID != "" {
		req.Resume = &prior
	}
	u, err := copier.BeginMultipart(ctx, req)
	if err != nil {
		if storage.IsRetryable(err) || ctx.Err() != nil {
			return res, fmt.Errorf("begin %q: %w", in.Object.Key, err)
		}
		// The object's own problem: CopyLarge meets it again and records it.
		a.logger().Info("not spreading a large object", "job", in.JobID, "key", in.Object.Key, "error", err)
		return res, nil
	}
	res.Upload = &migration.Upload{UploadID: u.UploadID, PartSize: u.PartSize, SrcSize: u.SrcSize, SrcETag: u.SrcETag, Parts: u.Parts}
	return res, nil
}

// CopyLargeParts uploads parts [From, To) of a large object's upload,
// heartbeating so that a retry on any worker sends only what is missing.
func (a *Activities) CopyLargeParts(ctx context.Context, in migration.CopyLargePartsInput) (migration.CopyLargePartsResult, error) {
	ctx, spec, release, err := a.begin(ctx, in.JobID, in.Spec)
	defer release()
	if err != nil {
		return migration.CopyLargePartsResult{}, err
	}
	src, dst, copier, err := a.largeStores(spec)
	if err != nil {
		return migration.CopyLargePartsResult{}, err
	}
	var done atomic.Int64
	stop := ticker(ctx, func() any { return done.Load() })
	defer stop()
	u := transfer.Upload{Checkpoint: transfer.Checkpoint{UploadID: in.Upload.UploadID, PartSize: in.Upload.PartSize,
		SrcSize: in.Upload.SrcSize, SrcETag: in.Upload.SrcETag}, Parts: in.Upload.Parts}
	res, err := copier.CopyParts(ctx, transfer.Request{
		Src: src, SrcKey: in.Object.Key, Dst: dst, DstKey: dstKey(spec, in.Object.Key), Classes: classes(spec),
		Progress: func(transfer.Progress) { done.Add(1) },
	}, u, in.From, in.To)
	if err != nil {
		return migration.CopyLargePartsResult{}, fmt.Errorf("parts %d-%d of %q: %w", in.From+1, in.To, in.Object.Key, err)
	}
	return migration.CopyLargePartsResult{Parts: len(res.Parts), Sent: res.BytesWritten, Fleet: a.fleet(ctx)}, nil
}

// largeStores resolves a large object's stores and the copier.
func (a *Activities) largeStores(spec migration.JobSpec) (src, dst storage.Store, copier *transfer.Copier, err error) {
	if src, err = a.resolve(role{"source", spec.Source.Store}); err != nil {
		return nil, nil, nil, err
	}
	if dst, err = a.resolve(role{"destination", spec.Destination.Store}); err != nil {
		return nil, nil, nil, err
	}
	copier, err = a.copier(spec)
	return src, dst, copier, err
}
