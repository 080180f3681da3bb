package fleet

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	workerpb "go.temporal.io/api/worker/v1"
	"go.temporal.io/api/workflowservice/v1"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

func hb(queue string, status enumspb.WorkerStatus, at time.Time, every time.Duration, free, used int32) *workerpb.WorkerHeartbeat {
	return &workerpb.WorkerHeartbeat{
		TaskQueue:                 queue,
		Status:                    status,
		HeartbeatTime:             timestamppb.New(at),
		ElapsedSinceLastHeartbeat: durationpb.New(every),
		ActivityTaskSlotsInfo:     &workerpb.WorkerSlotsInfo{CurrentAvailableSlots: free, CurrentUsedSlots: used},
	}
}

func TestSummarizeCountsLiveWorkersOfTheQueue(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	run := enumspb.WORKER_STATUS_RUNNING
	got := Summarize([]*workerpb.WorkerHeartbeat{
		hb("q", run, now.Add(-time.Second), 5*time.Second, 10, 6),
		hb("q", run, now.Add(-3*time.Second), 5*time.Second, 16, 0),
		// Another queue's worker, one shutting down, and one silent for
		// longer than StaleAfter: none count.
		hb("other", run, now, 5*time.Second, 16, 0),
		hb("q", enumspb.WORKER_STATUS_SHUTTING_DOWN, now, 5*time.Second, 16, 0),
		hb("q", run, now.Add(-StaleAfter-time.Second), 5*time.Second, 16, 0),
		// A worker heartbeating every minute counts for three of them.
		hb("q", run, now.Add(-2*time.Minute), time.Minute, 4, 4),
		nil,
	}, "q", now)
	if got.Workers != 3 || got.Slots != 16+16+8 || got.Used != 6+4 || !got.At.Equal(now) {
		t.Errorf("Summarize = %+v, want 3 workers, 40 slots, 10 used", got)
	}
}

// fakeLister serves ListWorkers from a list, two heartbeats a page.
type fakeLister struct {
	mu    sync.Mutex
	hbs   []*workerpb.WorkerHeartbeat
	calls int
	err   error
}

func (f *fakeLister) ListWorkers(_ context.Context, in *workflowservice.ListWorkersRequest, _ ...grpc.CallOption) (*workflowservice.ListWorkersResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.err != nil {
		return nil, f.err
	}
	start := len(in.NextPageToken)
	end := min(start+2, len(f.hbs))
	resp := &workflowservice.ListWorkersResponse{}
	for _, h := range f.hbs[start:end] {
		resp.WorkersInfo = append(resp.WorkersInfo, &workerpb.WorkerInfo{WorkerHeartbeat: h})
	}
	if end < len(f.hbs) {
		resp.NextPageToken = make([]byte, end)
	}
	return resp, nil
}

func TestWatcherPagesCachesAndKeepsItsViewThroughErrors(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	run := enumspb.WORKER_STATUS_RUNNING
	l := &fakeLister{}
	for range 5 {
		l.hbs = append(l.hbs, hb("bucketferry", run, now, HeartbeatInterval, 16, 0))
	}
	w := NewWatcher(l, "", "bucketferry")
	w.now = func() time.Time { return now }
	ctx := context.Background()
	if f := w.Fleet(ctx); f == nil || f.Workers != 5 || f.Slots != 80 {
		t.Fatalf("first view %+v, want 5 workers over three pages", f)
	}
	calls := l.calls
	w.Fleet(ctx)
	if l.calls != calls {
		t.Errorf("asked the server again within the refresh period")
	}
	// A failed call keeps the last view; a later one replaces it.
	now = now.Add(w.every)
	l.err = errors.New("unavailable")
	if f := w.Fleet(ctx); f == nil || f.Workers != 5 {
		t.Errorf("view after a failed call %+v, want the last one", f)
	}
	now = now.Add(w.every)
	l.err = nil
	l.hbs = l.hbs[:1]
	if f := w.Fleet(ctx); f == nil || f.Workers != 1 {
		t.Errorf("view after a worker left %+v, want 1 worker", f)
	}
}

func TestWatcherWithoutHeartbeatsTellsNothing(t *testing.T) {
	w := NewWatcher(&fakeLister{err: errors.New("unimplemented")}, "ns", "q")
	if f := w.Fleet(context.Background()); f != nil {
		t.Errorf("view %+v from a server without worker heartbeats, want none", f)
	}
}
