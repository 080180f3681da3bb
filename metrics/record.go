package metrics

import (
	"go.temporal.io/sdk/client"

	"github.com/bucketferry/bucketferry/migration"
)

// Names of the migration counters, labelled by job.
const (
	ObjectsCopied  = "bucketferry_objects_copied"
	ObjectsSkipped = "bucketferry_objects_skipped"
	ObjectsFailed  = "bucketferry_objects_failed"
	BytesCopied    = "bucketferry_bytes_copied"
	BytesSent      = "bucketferry_bytes_sent"
	Retries        = "bucketferry_activity_retries"
)

// Record adds what one activity did for a job to the job's counters.
func Record(h client.MetricsHandler, job string, c migration.Counts) {
	h = h.WithTags(map[string]string{"job": job})
	add := func(name string, n int64) {
		if n > 0 {
			h.Counter(name).Inc(n)
		}
	}
	add(ObjectsCopied, c.Copied)
	add(ObjectsSkipped, c.Skipped)
	add(ObjectsFailed, c.Failed)
	add(BytesCopied, c.BytesCopied)
	add(BytesSent, c.BytesSent)
}

// RecordRetry counts an activity attempt after the first for a job.
func RecordRetry(h client.MetricsHandler, job string) {
	h.WithTags(map[string]string{"job": job}).Counter(Retries).Inc(1)
}

// Names of the outage metrics, labelled by job and store.
const (
	// StoreStalled is 1 while a worker waits for a job's store that is
	// out, 0 once it answers again.
	StoreStalled = "bucketferry_store_stalled"
	// Stalls counts the stalls a worker saw begin.
	Stalls = "bucketferry_store_stalls"
)

// RecordStall records that a worker began (stalled) or ended waiting for a
// job's store.
func RecordStall(h client.MetricsHandler, job, store string, stalled bool) {
	h = h.WithTags(map[string]string{"job": job, "store": store})
	v := 0.0
	if stalled {
		v = 1
		h.Counter(Stalls).Inc(1)
	}
	h.Gauge(StoreStalled).Update(v)
}
