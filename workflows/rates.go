package workflows

import (
	"time"

	"github.com/bucketferry/bucketferry/migration"
)

// Rate sampling: the job keeps a few points of its progress curve, at least
// sampleEvery apart, and the newest point at least rateWindow old as the
// base of the rate, so the rates cover about the last minute of reports and
// the samples stay a few dozen whatever the job's size.
const (
	rateWindow  = time.Minute
	sampleEvery = 5 * time.Second
	maxSamples  = int(rateWindow/sampleEvery) + 2
)

// point is where counts stand on the progress curve at a time.
func point(at time.Time, c migration.Counts) migration.RateSample {
	return migration.RateSample{At: at, Objects: c.Objects(), Bytes: c.BytesCopied}
}

// addSample records the counts at now and drops the points the rates no
// longer need.
func addSample(samples []migration.RateSample, now time.Time, c migration.Counts) []migration.RateSample {
	if n := len(samples); n == 0 || now.Sub(samples[n-1].At) >= sampleEvery {
		samples = append(samples, point(now, c))
	}
	// Keep one point at or before the window's start as the base.
	drop := 0
	for drop+1 < len(samples) && !samples[drop+1].At.After(now.Add(-rateWindow)) {
		drop++
	}
	if over := len(samples) - drop - maxSamples; over > 0 {
		drop += over
	}
	if drop > 0 {
		samples = append([]migration.RateSample(nil), samples[drop:]...)
	}
	return samples
}

// rates are the objects and bytes per second from the oldest kept sample to
// the counts at now.
func rates(samples []migration.RateSample, now time.Time, c migration.Counts) (bytesPerSecond, objectsPerSecond float64) {
	if len(samples) == 0 {
		return 0, 0
	}
	base := samples[0]
	secs := now.Sub(base.At).Seconds()
	if secs <= 0 {
		return 0, 0
	}
	cur := point(now, c)
	return float64(cur.Bytes-base.Bytes) / secs, float64(cur.Objects-base.Objects) / secs
}
