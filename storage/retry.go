package storage

import (
	"context"
	"time"
)

// Retry calls f until it succeeds, fails with an error that retrying cannot
// mend (IsRetryable is false), has been called tries times, or ctx ends. It
// waits backoff before the second call and twice as long before each next.
// It returns f's last answer, or ctx's error when ctx ends during a wait.
func Retry[T any](ctx context.Context, tries int, backoff time.Duration, f func() (T, error)) (T, error) {
	for try := 1; ; try++ {
		v, err := f()
		if err == nil || try >= tries || !IsRetryable(err) || ctx.Err() != nil {
			return v, err
		}
		if err := Sleep(ctx, backoff<<(try-1)); err != nil {
			return v, err
		}
	}
}

// Sleep waits d or until ctx ends, and returns ctx's error then: the one
// wait of every retry loop over stores (objects, parts, outages).
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
