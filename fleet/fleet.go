// Package fleet tells how many workers serve the migration task queue and
// how many activity slots they have, from the heartbeats that the Temporal
// SDK of every worker sends the server (ListWorkers). A job sizes the work
// it offers from it: enough to fill every slot of every live worker, so
// that each worker that joins adds speed (docs/scale.md).
package fleet

import (
	"context"
	"sync"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	workerpb "go.temporal.io/api/worker/v1"
	"go.temporal.io/api/workflowservice/v1"
	"google.golang.org/grpc"

	"github.com/bucketferry/bucketferry/migration"
)

// HeartbeatInterval is how often a worker tells the server its slots
// (client.Options.WorkerHeartbeatInterval): a worker that joins counts
// within it.
const HeartbeatInterval = 5 * time.Second

// StaleAfter is how long after its last heartbeat a worker still counts:
// a worker killed without a word drops out after it.
const StaleAfter = 4 * HeartbeatInterval

// Lister is the part of the Temporal workflow service a Watcher uses
// (client.Client.WorkflowService() is one).
type Lister interface {
	ListWorkers(ctx context.Context, in *workflowservice.ListWorkersRequest, opts ...grpc.CallOption) (*workflowservice.ListWorkersResponse, error)
}

// Watcher keeps a view of the workers polling one task queue, refreshed
// at most every Every by whichever caller finds it old. Its zero value is
// not usable: use NewWatcher.
type Watcher struct {
	svc       Lister
	namespace string
	taskQueue string
	every     time.Duration
	now       func() time.Time

	mu         sync.Mutex
	last       *migration.Fleet
	fetched    time.Time
	refreshing bool
}

// NewWatcher returns a Watcher of the workers of taskQueue in namespace
// ("default" when empty).
func NewWatcher(svc Lister, namespace, taskQueue string) *Watcher {
	if namespace == "" {
		namespace = "default"
	}
	return &Watcher{svc: svc, namespace: namespace, taskQueue: taskQueue, every: 2 * time.Second, now: time.Now}
}

// Fleet returns the newest view, asking the server first when the view is
// older than the refresh period and no other caller is asking already. It
// returns nil when the server keeps no worker heartbeats or cannot be
// asked: the job then offers work as if the fleet were unknown.
func (w *Watcher) Fleet(ctx context.Context) *migration.Fleet {
	w.mu.Lock()
	if w.refreshing || w.now().Sub(w.fetched) < w.every {
		f := w.last
		w.mu.Unlock()
		return f
	}
	w.refreshing = true
	w.mu.Unlock()

	f, err := w.fetch(ctx)

	w.mu.Lock()
	defer w.mu.Unlock()
	w.refreshing = false
	w.fetched = w.now()
	if err != nil {
		// Keep the last view: one failed call says nothing of the workers.
		// A server without the API fails every time, and the view stays nil.
		return w.last
	}
	w.last = f
	return f
}

func (w *Watcher) fetch(ctx context.Context) (*migration.Fleet, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var hbs []*workerpb.WorkerHeartbeat
	req := &workflowservice.ListWorkersRequest{
		Namespace: w.namespace,
		PageSize:  1000,
		Query:     "TaskQueue = '" + w.taskQueue + "'",
	}
	// Ten pages are ten thousand workers: more than any fleet this sizes.
	for range 10 {
		resp, err := w.svc.ListWorkers(ctx, req)
		if err != nil {
			return nil, err
		}
		for _, wi := range resp.GetWorkersInfo() {
			hbs = append(hbs, wi.GetWorkerHeartbeat())
		}
		if len(resp.GetNextPageToken()) == 0 {
			break
		}
		req.NextPageToken = resp.GetNextPageToken()
	}
	f := Summarize(hbs, w.taskQueue, w.now())
	return &f, nil
}

// Summarize counts the live workers of taskQueue among heartbeats and
// their activity slots: those running, heard from within StaleAfter (or
// three of their own intervals, for a worker that heartbeats less often).
func Summarize(hbs []*workerpb.WorkerHeartbeat, taskQueue string, now time.Time) migration.Fleet {
	f := migration.Fleet{At: now}
	for _, hb := range hbs {
		if hb == nil || hb.GetTaskQueue() != taskQueue {
			continue
		}
		switch hb.GetStatus() {
		case enumspb.WORKER_STATUS_RUNNING, enumspb.WORKER_STATUS_UNSPECIFIED:
		default:
			continue // shutting down: its slots are going away
		}
		stale := max(StaleAfter, 3*hb.GetElapsedSinceLastHeartbeat().AsDuration())
		if hb.GetHeartbeatTime() == nil || now.Sub(hb.GetHeartbeatTime().AsTime()) > stale {
			continue
		}
		slots := hb.GetActivityTaskSlotsInfo()
		if slots.GetCurrentAvailableSlots()+slots.GetCurrentUsedSlots() <= 0 {
			continue // a worker's first heartbeat may come before its slots
		}
		f.Workers++
		f.Slots += int(slots.GetCurrentAvailableSlots() + slots.GetCurrentUsedSlots())
		f.Used += int(slots.GetCurrentUsedSlots())
	}
	return f
}
