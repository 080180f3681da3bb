package activities

import (
	"context"

	"go.temporal.io/sdk/activity"

	"github.com/bucketferry/bucketferry/metrics"
	"github.com/bucketferry/bucketferry/migration"
)

// record adds a finished activity's counts to the job's metrics, through
// the worker's metrics handler (a no-op one unless the worker serves
// metrics). An attempt after the first also counts as a retry.
func record(ctx context.Context, job string, c migration.Counts) {
	if !activity.IsActivity(ctx) {
		return
	}
	h := activity.GetMetricsHandler(ctx)
	metrics.Record(h, job, c)
	if activity.GetInfo(ctx).Attempt > 1 {
		metrics.RecordRetry(h, job)
	}
}
