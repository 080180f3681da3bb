package workflows

import (
	"math"
	"testing"
	"time"

	"github.com/bucketferry/bucketferry/migration"
)

func TestRatesCoverAboutTheLastMinute(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var c migration.Counts
	samples := addSample(nil, t0, c)
	// 10 objects of 100 bytes a second for 5 minutes, reported every 2 s.
	for s := 2; s <= 300; s += 2 {
		c.Copied += 20
		c.BytesCopied += 2000
		samples = addSample(samples, t0.Add(time.Duration(s)*time.Second), c)
	}
	if len(samples) > maxSamples {
		t.Errorf("%d samples kept, want at most %d", len(samples), maxSamples)
	}
	now := t0.Add(300 * time.Second)
	if base := samples[0].At; now.Sub(base) < rateWindow || now.Sub(base) > rateWindow+sampleEvery {
		t.Errorf("rate base %v before now, want about %v", now.Sub(base), rateWindow)
	}
	bps, ops := rates(samples, now, c)
	if math.Abs(ops-10) > 1e-9 || math.Abs(bps-1000) > 1e-9 {
		t.Errorf("rates %.3f objects/s %.3f B/s, want 10 and 1000", ops, bps)
	}

	// Then the job stalls: a minute later the rate over the last minute
	// is about zero, not the average since the start.
	later := now.Add(70 * time.Second)
	samples = addSample(samples, later, c)
	if _, ops := rates(samples, later, c); ops != 0 {
		t.Errorf("%.3f objects/s after a stall, want 0", ops)
	}
}

func TestRatesWithoutHistory(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	if bps, ops := rates(nil, t0, migration.Counts{Copied: 5}); bps != 0 || ops != 0 {
		t.Errorf("rates %v %v without samples", bps, ops)
	}
	samples := addSample(nil, t0, migration.Counts{})
	if bps, ops := rates(samples, t0, migration.Counts{Copied: 5}); bps != 0 || ops != 0 {
		t.Errorf("rates %v %v over no time", bps, ops)
	}
	// Reports closer than sampleEvery do not add points.
	samples = addSample(samples, t0.Add(time.Second), migration.Counts{Copied: 1})
	if len(samples) != 1 {
		t.Errorf("%d samples after a report 1 s later, want 1", len(samples))
	}
}

func TestHumanBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 1288490188: "1.2 GiB", 5 << 40: "5.0 TiB"} {
		if got := humanBytes(n); got != want {
			t.Errorf("humanBytes(%d) = %q, want %q", n, got, want)
		}
	}
}
