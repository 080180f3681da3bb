package activities

import (
	"context"
	"fmt"

	"github.com/bucketferry/bucketferry/migration"
	"github.com/bucketferry/bucketferry/storage"
)

// listAheadRequests bounds the listings of one ListAhead: the shard's
// first copies wait for it, and at a second per request (a far-away
// store) more would keep a new shard idle that long.
const listAheadRequests = 4

// ListAhead lists the next keys of a windowed shard and cuts them into
// ranges that CopyPage activities copy in parallel, each listing its range
// again (one more listing per page, against the page's thousand copies).
// Only the ranges' last keys travel through the workflow's history, not
// the keys.
func (a *Activities) ListAhead(ctx context.Context, in migration.ListAheadInput) (migration.ListAheadResult, error) {
	ctx, spec, release, err := a.begin(ctx, in.JobID, in.Spec)
	defer release()
	if err != nil {
		return migration.ListAheadResult{}, err
	}
	srcRole := role{"source", spec.Source.Store}
	src, err := a.resolve(srcRole)
	if err != nil {
		return migration.ListAheadResult{}, err
	}
	objs, done, err := listAhead(ctx, in, spec, srcRole, src)
	if err != nil {
		return migration.ListAheadResult{}, err
	}
	keys := keysOf(objs)
	if in.ChunkKeys > 0 {
		res := migration.ListAheadResult{Bounds: chunkEnds(keys, in.ChunkKeys), Done: done, Fleet: a.fleet(ctx)}
		switch {
		case in.Pack:
			res.Chunks = packChunks(objs, in.ChunkKeys, packsFull(spec))
		case in.Carry && (done || in.CarryAll):
			res.Objects = carried(objs, in.ChunkKeys)
		}
		return res, nil
	}
	maxRanges := max(in.Ranges, 1)
	if done {
		// The shard's last keys: twice as many ranges as its window, so
		// that the end of the shard is copied by many workers at once.
		// (All of them in ranges of MinKeys cost a quarter of a million
		// objects in 64-key pages at the million-object run's 64 shard
		// ends, and a quarter of its speed in Temporal's work.)
		maxRanges *= 2
	}
	return migration.ListAheadResult{
		Bounds: cutRanges(keys, maxRanges, spec.PageSize, in.MinKeys),
		Done:   done,
		Fleet:  a.fleet(ctx),
	}, nil
}

// listAhead lists the shard's next objects: as many as the wanted ranges'
// pages hold, in at most the listings allowed; done tells that the shard
// has no more.
func listAhead(ctx context.Context, in migration.ListAheadInput, spec migration.JobSpec, srcRole role, src storage.Store) ([]storage.ObjectInfo, bool, error) {
	want := max(in.Ranges, 1) * spec.PageSize
	after := max(in.After, in.Shard.After)
	var objs []storage.ObjectInfo
	requests := listAheadRequests
	if in.Listings > 0 {
		requests = min(in.Listings, listAheadRequests)
	}
	for range requests {
		page, err := list(ctx, src, storage.ListOptions{
			Prefix: spec.Source.Prefix, After: after, Before: in.Shard.Before, MaxKeys: min(spec.PageSize, want-len(objs)),
		})
		if err != nil {
			if storage.IsRetryable(err) || ctx.Err() != nil {
				return nil, false, fmt.Errorf("list ahead after %q: %w", after, err)
			}
			return nil, false, storeFatal(srcRole, src, err)
		}
		objs = append(objs, page.Objects...)
		if page.Done {
			return objs, true, nil
		}
		switch {
		case page.Next > after:
			after = page.Next
		case len(page.Objects) > 0:
			after = page.Objects[len(page.Objects)-1].Key
		default:
			return nil, false, fmt.Errorf("list ahead after %q: the listing did not move", after)
		}
		if len(objs) >= want {
			break
		}
		heartbeat(ctx, len(objs))
	}
	return objs, false, nil
}

func keysOf(objs []storage.ObjectInfo) []string {
	keys := make([]string, len(objs))
	for i, o := range objs {
		keys[i] = o.Key
	}
	return keys
}

// cutRanges cuts sorted keys into ranges of equal size and returns the
// last key of each: as many ranges as maxRanges allows with at least
// minKeys keys each, but never a range over pageSize keys.
func cutRanges(keys []string, maxRanges, pageSize, minKeys int) []string {
	n := len(keys)
	if n == 0 {
		return nil
	}
	minKeys = max(minKeys, 1)
	ranges := min(maxRanges, n/minKeys)
	ranges = max(ranges, (n+pageSize-1)/pageSize, 1)
	size := (n + ranges - 1) / ranges
	bounds := make([]string, 0, ranges)
	for end := size; ; end += size {
		if end >= n {
			bounds = append(bounds, keys[n-1])
			return bounds
		}
		bounds = append(bounds, keys[end-1])
	}
}

// chunkEnds returns the last key of every chunk of n keys, and the last key.
func chunkEnds(keys []string, n int) []string {
	bounds := make([]string, 0, len(keys)/n+1)
	for end := n; end < len(keys); end += n {
		bounds = append(bounds, keys[end-1])
	}
	if len(keys) > 0 {
		bounds = append(bounds, keys[len(keys)-1])
	}
	return bounds
}
