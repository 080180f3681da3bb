// Package pool runs a function over a list of items with bounded
// concurrency: the one worker pool of the data path (the segments the
// planner lists, a page's objects, a large object's parts, archived objects
// to restore, the pairs a verification settles, a URL list's HEADs).
package pool

import (
	"context"
	"sync/atomic"

	"golang.org/x/sync/errgroup"
)

// Each calls fn for every item, at most n at once (at least one). The
// first error cancels the context the others run under and stops the
// feeding: Each returns that error. Otherwise it returns ctx's error, so
// that a cancelled run never reads as a finished one.
//
// Each of the n goroutines takes items until none is left, rather than one
// goroutine an item: the SDKs' calls are deep, and every new goroutine
// grew its stack by copying it again (5 % of a worker's CPU on 4 KiB
// objects).
func Each[T any](ctx context.Context, n int, items []T, fn func(context.Context, T) error) error {
	g, gctx := errgroup.WithContext(ctx)
	var next atomic.Int64
	for range min(max(1, n), len(items)) {
		g.Go(func() error {
			for gctx.Err() == nil {
				i := next.Add(1) - 1
				if i >= int64(len(items)) {
					return nil
				}
				if err := fn(gctx, items[i]); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	return ctx.Err()
}
