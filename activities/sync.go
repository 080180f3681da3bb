package activities

import (
	"context"
	"fmt"

	"github.com/bucketferry/bucketferry/migration"
	"github.com/bucketferry/bucketferry/storage"
	"github.com/bucketferry/bucketferry/transfer"
)

// trySync applies the changed policy (the second pass of an incremental
// sync) to one object of a page: it copies the object only when it is new
// at the source or stale at the destination.
func (r *pageRun) trySync(ctx context.Context, key string, info storage.ObjectInfo, dk string) (migration.Counts, *migration.LargeObject, int64, error) {
	d, found, err := r.destination(ctx, dk)
	if err != nil {
		return migration.Counts{}, nil, 0, err
	}
	if found {
		st, err := stale(ctx, r.src, info, r.dst, d, dk)
		if err != nil {
			return migration.Counts{}, nil, 0, err
		}
		if !st {
			return migration.Counts{Skipped: 1, BytesSkipped: info.Size}, nil, 0, nil
		}
	}
	res, err := r.copier.Copy(ctx, transfer.Request{Src: r.src, SrcKey: key, Dst: r.dst, DstKey: dk, Listed: &info, Classes: classes(r.spec)})
	if err != nil {
		return migration.Counts{}, nil, res.BytesWritten, err
	}
	return syncCopied(r.spec, found, copiedCounts(res)), nil, res.BytesWritten, nil
}

// stale reports whether the destination copy d of source object s must be
// copied again: sizes differ, the source was modified after the copy was
// written, or their checksums differ (asked for with HEADs, as listings do
// not carry them; stores sharing no checksum family count as differing).
func stale(ctx context.Context, src storage.Store, s storage.ObjectInfo, dst storage.Store, d storage.ObjectInfo, dk string) (bool, error) {
	if s.Size != d.Size {
		return true, nil
	}
	if !s.LastModified.IsZero() && !d.LastModified.IsZero() && s.LastModified.After(d.LastModified) {
		return true, nil
	}
	same, err := identical(ctx, src, s, dst, d, dk)
	return !same, err
}

// syncCopied marks a copy as new or changed under the changed policy.
func syncCopied(spec migration.JobSpec, existed bool, c migration.Counts) migration.Counts {
	if spec.Conflict != migration.Changed || c.Copied == 0 {
		return c
	}
	if existed {
		c.Changed += c.Copied
	} else {
		c.New += c.Copied
	}
	return c
}

// archivedNotRestored reports whether a listed object is archived and has
// no readable copy.
func archivedNotRestored(o storage.ObjectInfo) bool {
	return storage.IsArchiveClass(o.Meta.StorageClass) && !o.Restored
}

// archivedFailure records an archived object left alone by the skip policy.
func archivedFailure(shard int, o storage.ObjectInfo) migration.Failure {
	return migration.Failure{Key: o.Key, Size: o.Size, Shard: shard, Attempts: 1, Kind: storage.KindArchived.String(),
		Reason: fmt.Sprintf("%s (storage class %s)", migration.ArchivedReason, o.Meta.StorageClass)}
}
