package pool_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/bucketferry/bucketferry/internal/pool"
)

func TestEachBoundsAndStopsAtTheFirstError(t *testing.T) {
	var running, most, calls atomic.Int64
	items := make([]int, 100)
	for i := range items {
		items[i] = i
	}
	boom := errors.New("boom")
	err := pool.Each(context.Background(), 4, items, func(ctx context.Context, i int) error {
		calls.Add(1)
		n := running.Add(1)
		defer running.Add(-1)
		for {
			m := most.Load()
			if n <= m || most.CompareAndSwap(m, n) {
				break
			}
		}
		if i == 10 {
			return boom
		}
		return nil
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want boom", err)
	}
	if most.Load() > 4 {
		t.Errorf("%d at once, want at most 4", most.Load())
	}
	if calls.Load() == int64(len(items)) {
		t.Errorf("every item ran after the error")
	}
}

func TestEachReportsACancelledContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := pool.Each(ctx, 2, []int{1, 2, 3}, func(context.Context, int) error { return nil })
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestEachCallsEveryItemOnce(t *testing.T) {
	for _, n := range []int{0, 1, 3, 16, 200} {
		seen := make([]atomic.Int64, 100)
		items := make([]int, len(seen))
		for i := range items {
			items[i] = i
		}
		if err := pool.Each(context.Background(), n, items, func(_ context.Context, i int) error {
			seen[i].Add(1)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		for i := range seen {
			if c := seen[i].Load(); c != 1 {
				t.Fatalf("n=%d: item %d called %d times", n, i, c)
			}
		}
	}
	if err := pool.Each(context.Background(), 4, []int(nil), func(context.Context, int) error { return errors.New("called") }); err != nil {
		t.Fatalf("no items: %v", err)
	}
}
