// Package pool runs a function over a list of items with bounded
// concurrency: the one worker pool of the data path (the segments the
// planner lists, a page's objects, a large object's parts, archived objects
// to restore, the pairs a verification settles, a URL list's HEADs).
package pool

import (
	"context"

	"golang.org/x/sync/errgroup"
)

// Each calls fn for every item, at most n at once (at least one). The
// first error cancels the context the others run under and stops the
// feeding: Each returns that error. Otherwise it returns ctx's error, so
// that a cancelled run never reads as a finished one.
func Each[T any](ctx context.Context, n int, items []T, fn func(context.Context, T) error) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(1, n))
	for _, it := range items {
		if gctx.Err() != nil {
			break
		}
		g.Go(func() error { return fn(gctx, it) })
	}
	if err := g.Wait(); err != nil {
		return err
	}
	return ctx.Err()
}
