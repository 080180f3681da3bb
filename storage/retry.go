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
		t := time.NewTimer(backoff << (try - 1))
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return v, ctx.Err()
		}
	}
}
