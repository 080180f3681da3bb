package activities

import (
	"context"
	"fmt"
	"time"

	"golang.org/x/sync/errgroup"

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
	spec, err := prepare(in.Spec, in.JobID)
	if err != nil {
		return migration.RestoreResult{}, err
	}
	ctx, release := a.throttle(ctx, in.JobID, spec.Limits)
	defer release()
	srcRole := role{"source", spec.Source.Store}
	src, err := a.resolve(srcRole)
	if err != nil {
		return migration.RestoreResult{}, err
	}
	opts := spec.RestoreSettings()
	restorer, canRestore := src.(storage.Restorer)
	log := a.logger().With("job", in.JobID, "shard", in.Shard, "batch", in.Batch, "round", in.Round)

	type outcome struct {
		restored, pending bool
		failure           *migration.Failure
	}
	outs := make([]outcome, len(in.Objects))
	var probe fatalProbe
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(spec.Concurrency.Objects, 1))
	for i, obj := range in.Objects {
		g.Go(func() error {
			fail := func(err error, reason string) {
				f := failureOf(in.Shard, obj.Key, obj.Size, in.Round+1, err)
				if reason != "" {
					f.Reason = reason
				}
				outs[i].failure = &f
			}
			h, err := src.Head(gctx, obj.Key)
			if err == nil && (!storage.IsArchiveClass(h.Meta.StorageClass) || h.Restored) {
				outs[i].restored = true
				return nil
			}
			if err == nil {
				switch {
				case !canRestore:
					err = storage.Errorf(storage.KindArchived, src.Name(), "restore", obj.Key, "the source store cannot restore archived objects")
				case in.Final:
					fail(storage.Errorf(storage.KindArchived, src.Name(), "restore", obj.Key, "restore not complete"),
						fmt.Sprintf("%s: the restore did not complete within %v", migration.ArchivedReason, time.Duration(opts.MaxWaitSeconds)*time.Second))
					return nil
				default:
					err = restorer.Restore(gctx, obj.Key, storage.RestoreOptions{Days: opts.Days, Tier: opts.Tier})
					if err == nil {
						outs[i].pending = true
						return nil
					}
				}
			}
			if storage.IsRetryable(err) || gctx.Err() != nil {
				return fmt.Errorf("restore %q: %w", obj.Key, err)
			}
			if storage.IsFatal(err) {
				if ferr := probe.check(gctx, srcRole, src, spec.Source.Prefix); ferr != nil {
					return ferr
				}
			}
			fail(err, fmt.Sprintf("%s: %v", migration.ArchivedReason, err))
			return nil
		})
	}
	if err := g.Wait(); err != nil {
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
