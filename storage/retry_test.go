package storage

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestRetry: a retryable failure is tried again, up to tries calls in all;
// a failure that retrying cannot mend is returned at once; a context that
// ends during a wait ends the retries with its error.
func TestRetry(t *testing.T) {
	slowDown := Errorf(KindThrottled, "fake://", "list", "", "SlowDown")
	denied := Errorf(KindAccessDenied, "fake://", "list", "", "bad key")
	cases := []struct {
		name      string
		fails     int
		err       error
		want      error
		wantCalls int
	}{
		{"throttled twice", 2, slowDown, nil, 3},
		{"throttled every time", 10, slowDown, slowDown, 3},
		{"access denied", 1, denied, denied, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			calls := 0
			v, err := Retry(context.Background(), 3, time.Millisecond, func() (string, error) {
				calls++
				if calls <= c.fails {
					return "", c.err
				}
				return "page", nil
			})
			if !errors.Is(err, c.want) || calls != c.wantCalls {
				t.Fatalf("error %v after %d calls, want %v after %d", err, calls, c.want, c.wantCalls)
			}
			if err == nil && v != "page" {
				t.Errorf("answer %q", v)
			}
		})
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	time.AfterFunc(20*time.Millisecond, cancel)
	calls := 0
	_, err := Retry(ctx, 3, time.Hour, func() (int, error) {
		calls++
		return 0, slowDown
	})
	if !errors.Is(err, context.Canceled) || calls != 1 {
		t.Errorf("cancelled: error %v after %d calls, want context.Canceled after 1", err, calls)
	}
}
