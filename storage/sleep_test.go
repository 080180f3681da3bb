package storage

import (
	"context"
	"testing"
	"testing/synctest"
	"time"
)

// TestSleepEndsWithContext: a wait ends at its time or with its context,
// in a bubble's fake clock.
func TestSleepEndsWithContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		if err := Sleep(context.Background(), time.Hour); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d != time.Hour {
			t.Fatalf("slept %v", d)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := Sleep(ctx, time.Hour); err == nil {
			t.Fatal("want the context's error")
		}
	})
}
