package activities

import (
	"context"
	"fmt"
	"time"

	"github.com/bucketferry/bucketferry/internal/pool"
	"github.com/bucketferry/bucketferry/migration"
	"github.com/bucketferry/bucketferry/storage"
)

// RestoreArchived looks at archived source objects of a shard (the
// ArchiveRestore policy): the readable ones are returned as Restored, for
// the shard to copy; for the others a restore is requested (again: asking
// while one is under way is harmless, and it starts over a restore lost
// when an object was replaced) and they are returned as Pending, unless
// in.Final, when they are failed. Objects gone or not restorable are
// failed and written to the failure log. The shard waits between calls
// with a workflow timer, so the wait survives any worker restart.
func (a *Activities) RestoreArchived(ctx context.Context, in migration.RestoreInput) (migration.RestoreResult, error) {
	ctx, spec, release, err := a.begin(ctx, in.JobID, in.Spec)
	defer release()
	if err != nil {
		return migration.RestoreResult{}, err
	}
	srcRole := role{"source", spec.Source.Store}
	src, err := a.resolve(srcRole)
	if err != nil {
		return migration.RestoreResult{}, err
	}
	log := a.logger().With("job", in.JobID, "shard", in.Shard, "batch", in.Batch, "round", in.Round)
	r := &restoreRun{in: in, opts: spec.RestoreSettings(), srcRole: srcRole, src: src, prefix: spec.Source.Prefix}
	outs := make([]restoreOutcome, len(in.Objects))
	idx := make([]int, len(in.Objects))
	for i := range idx {
		idx[i] = i
	}
	err = pool.Each(ctx, spec.Concurrency.Objects, idx, func(ctx context.Context, i int) error {
		var err error
		outs[i], err = r.one(ctx, in.Objects[i])
		return err
	})
	if err != nil {
		return migration.RestoreResult{}, err
	}

	var res migration.RestoreResult
	var failures []migration.Failure
	for i, o := range outs {
		switch {
		case o.restored:
			res.Restored = append(res.Restored, in.Objects[i])
		case o.pending:
			res.Pending = append(res.Pending, in.Objects[i])
		case o.failure != nil:
			failures = append(failures, *o.failure)
			res.Counts.Add(failedCounts(o.failure.Size))
		}
	}
	if len(failures) > 0 {
		name := fmt.Sprintf("failures/shard-%05d/restore-%06d-%04d.jsonl", in.Shard, in.Batch, in.Round)
		if err := a.writeFailures(ctx, spec, name, failures); err != nil {
			return migration.RestoreResult{}, err
		}
	}
	res.Failures = sample(failures)
	log.Info("archived objects checked", "restored", len(res.Restored), "pending", len(res.Pending), "failed", len(failures))
	return res, nil
}

// restoreOutcome is what became of one archived object.
type restoreOutcome struct {
	restored, pending bool
	failure           *migration.Failure
}

// restoreRun is one batch of RestoreArchived.
type restoreRun struct {
	in      migration.RestoreInput
	opts    migration.RestoreOptions
	srcRole role
	src     storage.Store
	prefix  string
	probe   fatalProbe
}

// one checks an object and asks for its restore when it is archived; an
// error stops the batch (retryable, or a store that cannot be used).
func (r *restoreRun) one(ctx context.Context, obj migration.LargeObject) (restoreOutcome, error) {
	fail := func(err error, reason string) (restoreOutcome, error) {
		f := failureOf(r.in.Shard, obj.Key, obj.Size, r.in.Round+1, err)
		if reason != "" {
			f.Reason = reason
		}
		return restoreOutcome{failure: &f}, nil
	}
	h, err := r.src.Head(ctx, obj.Key)
	if err == nil && (!storage.IsArchiveClass(h.Meta.StorageClass) || h.Restored) {
		return restoreOutcome{restored: true}, nil
	}
	if err == nil {
		restorer, canRestore := r.src.(storage.Restorer)
		switch {
		case !canRestore:
			err = storage.Errorf(storage.KindArchived, r.src.Name(), "restore", obj.Key, "the source store cannot restore archived objects")
		case r.in.Final:
			return fail(storage.Errorf(storage.KindArchived, r.src.Name(), "restore", obj.Key, "restore not complete"),
				fmt.Sprintf("%s: the restore did not complete within %v", migration.ArchivedReason, time.Duration(r.opts.MaxWaitSeconds)*time.Second))
		default:
			err = restorer.Restore(ctx, obj.Key, storage.RestoreOptions{Days: r.opts.Days, Tier: r.opts.Tier})
			if err == nil {
				return restoreOutcome{pending: true}, nil
			}
		}
	}
	if storage.IsRetryable(err) || ctx.Err() != nil {
		return restoreOutcome{}, fmt.Errorf("restore %q: %w", obj.Key, err)
	}
	if storage.IsFatal(err) {
		if ferr := r.probe.check(ctx, r.srcRole, r.src, r.prefix); ferr != nil {
			return restoreOutcome{}, ferr
		}
	}
	return fail(err, fmt.Sprintf("%s: %v", migration.ArchivedReason, err))
}
