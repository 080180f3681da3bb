package jobclient

import (
	"context"
	"fmt"
	"strings"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/converter"

	"github.com/bucketferry/bucketferry/migration"
)

// InFlight is the work under way in a job's copy activities, which the
// job's own figures count only once a page or a large object is done: a
// page of thousands of objects, or an object of gigabytes, under a
// bandwidth limit may take minutes. The activities heartbeat what they
// have done every few seconds; Temporal keeps the newest heartbeat of each
// pending activity, and this sums them.
type InFlight struct {
	// Counts are the objects done in pages under way, and BytesCopied also
	// the bytes of large objects under way.
	Counts migration.Counts `json:"counts"`
	// Copies are the copy activities under way.
	Copies int `json:"copies"`
}

// ShardLister is what InFlightOf needs of client.Client.
type ShardLister interface {
	DescribeWorkflowExecution(ctx context.Context, workflowID, runID string) (*workflowservice.DescribeWorkflowExecutionResponse, error)
	ListWorkflow(ctx context.Context, request *workflowservice.ListWorkflowExecutionsRequest) (*workflowservice.ListWorkflowExecutionsResponse, error)
}

// maxInFlightShards bounds the running shards InFlightOf describes.
const maxInFlightShards = 256

// copyHeartbeat holds the fields of the copy activities' heartbeat details
// (activities.PageHeartbeat, activities.LargeHeartbeat) that tell progress.
type copyHeartbeat struct {
	Counts    *migration.Counts `json:"counts"`
	BytesDone int64             `json:"bytesDone"`
}

// InFlightOf sums the newest heartbeats of the copy activities of a job's
// running shards.
func InFlightOf(ctx context.Context, c ShardLister, namespace, id string) (InFlight, error) {
	var f InFlight
	resp, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
		Namespace: namespace,
		Query:     fmt.Sprintf("WorkflowType = %q AND ParentWorkflowId = %q AND ExecutionStatus = 'Running'", migration.ShardWorkflow, id),
		PageSize:  maxInFlightShards,
	})
	if err != nil {
		return f, fmt.Errorf("list running shards of %s: %w", id, err)
	}
	dc := converter.GetDefaultDataConverter()
	for _, e := range resp.GetExecutions() {
		d, err := c.DescribeWorkflowExecution(ctx, e.GetExecution().GetWorkflowId(), "")
		if err != nil {
			continue // ended meanwhile: its figures are the job's now
		}
		for _, a := range d.GetPendingActivities() {
			if !strings.HasPrefix(a.GetActivityType().GetName(), "Copy") {
				continue
			}
			f.Copies++
			ps := a.GetHeartbeatDetails().GetPayloads()
			if len(ps) == 0 {
				continue
			}
			var hb copyHeartbeat
			if dc.FromPayload(ps[0], &hb) != nil {
				continue
			}
			if hb.Counts != nil {
				f.Counts.Add(*hb.Counts)
			}
			f.Counts.BytesCopied += hb.BytesDone
		}
	}
	return f, nil
}

// Objects is the number of objects done in pages under way.
func (f InFlight) Objects() int64 { return f.Counts.Objects() }
