package activities

import (
	"context"
	"errors"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"

	"github.com/bucketferry/bucketferry/metrics"
	"github.com/bucketferry/bucketferry/migration"
	"github.com/bucketferry/bucketferry/outage"
	"github.com/bucketferry/bucketferry/storage"
)

// Outages: an object that fails with an error of an outage kind while its
// stores answered nothing since its try began is not failing: the store is
// out. The copy waits with a capped backoff and tries again without
// spending the object's budget, and the job is told (once) that it is
// stalled. Listings that fail so are tried again by Temporal with the same
// capped backoff and unlimited attempts (workflows.retryPolicy); they too
// tell the job. The logic is in package outage; this is the wiring.

// JobSignaler signals a job workflow; a Temporal client is one.
type JobSignaler interface {
	SignalWorkflow(ctx context.Context, workflowID, runID, signalName string, arg any) error
}

// signalTimeout bounds the signal telling a job of a stall.
const signalTimeout = 10 * time.Second

// What stalls: the service of a store that is out.
const (
	stallObjects = "objects"
	stallListing = "listing"
)

// storeNames says, for each store of a job by Store.Name(), how people
// know it: its role and configured name.
type storeNames map[string]string

func names(src storage.Store, srcRole role, dst storage.Store, dstRole role) storeNames {
	return storeNames{src.Name(): srcRole.String(), dst.Name(): dstRole.String()}
}

// of is the store an error came from, its label, and whether it is one of
// the job's; an error that names no store is put on the first one.
func (n storeNames) of(err error, first string) (string, string) {
	if name := storage.StoreOf(err); name != "" {
		if l, ok := n[name]; ok {
			return name, l
		}
	}
	return first, n[first]
}

// notifier tells the job of a stall through the worker's client, and
// records the stall metric.
func (a *Activities) notifier(ctx context.Context) outage.Notify {
	var h client.MetricsHandler
	if activity.IsActivity(ctx) {
		h = activity.GetMetricsHandler(ctx)
	}
	log := a.logger()
	return func(ev outage.Event) {
		if h != nil {
			metrics.RecordStall(h, ev.Job, ev.Store, ev.Stalled)
		}
		if ev.Stalled {
			log.Warn("store out: waiting for it", "job", ev.Job, "store", ev.Store, "what", ev.What, "reason", ev.Reason)
		} else {
			log.Info("store answers again", "job", ev.Job, "store", ev.Store, "what", ev.What, "since", ev.Since)
		}
		if a.Signaler == nil {
			return
		}
		sctx, cancel := context.WithTimeout(context.Background(), signalTimeout)
		defer cancel()
		sig := migration.StallSignal{Stall: migration.Stall{Store: ev.Store, What: ev.What, Since: ev.Since, Reason: ev.Reason}, Stalled: ev.Stalled}
		if err := a.Signaler.SignalWorkflow(sctx, ev.Job, "", migration.SignalStall, sig); err != nil {
			// The job may have ended; the wait itself goes on regardless.
			log.Warn("tell job of a stall", "job", ev.Job, "error", err)
		}
	}
}

// backoff is the wait between tries of one object while its store is out.
func backoff(spec migration.JobSpec) outage.Backoff {
	initial, maximum := spec.OutageBackoff()
	return outage.Backoff{Initial: initial, Max: maximum}
}

// mark snapshots the answers of the stores of a try.
func (a *Activities) mark(stores ...storage.Store) outage.Mark {
	keys := make([]string, len(stores))
	for i, st := range stores {
		keys[i] = st.Name()
	}
	return a.outages.Mark(keys...)
}

// answered records that the stores answered a try.
func (a *Activities) answered(stores ...storage.Store) {
	keys := make([]string, len(stores))
	for i, st := range stores {
		keys[i] = st.Name()
	}
	a.outages.Answered(keys...)
}

// waitOutage decides whether a try that failed with err, begun at mark,
// failed because its store is out: err is of an outage kind and none of
// the try's stores answered since. Then it tells the job (once per stall),
// waits the next backoff (or until ctx ends) and returns true: the caller
// tries again without counting the try. Otherwise it returns false at once.
//
// probe, when not nil, asks the source for another object the way the try
// asked for this one: when the try failed at the source and the probe
// succeeds, the source serves others and the failure is this object's own
// (one hot or broken key), so the try counts.
func (a *Activities) waitOutage(ctx context.Context, job string, n storeNames, first string, mark outage.Mark, err error, b *outage.Backoff, probe func(context.Context) error) bool {
	if !storage.IsOutage(err) || !a.outages.Out(mark) {
		b.Reset()
		return false
	}
	key, label := n.of(err, first)
	if probe != nil && key == first && probe(ctx) == nil {
		a.outages.Answered(key)
		b.Reset()
		return false
	}
	a.outages.Stalled(job, key, label, stallObjects, reason(err), a.notifier(ctx))
	_ = storage.Sleep(ctx, b.Next()) // an ended ctx ends the caller's next try
	return true
}

// observeListing follows an activity's listings: one that ended well ends
// the listing stalls of the stores; one that failed with an outage-kind
// listing error opens the store's (Temporal retries the activity with the
// capped backoff).
func (a *Activities) observeListing(ctx context.Context, job string, n storeNames, err error) {
	if err == nil {
		keys := make([]string, 0, len(n))
		for name := range n {
			keys = append(keys, name+"#list")
		}
		a.outages.Answered(keys...)
		return
	}
	var se *storage.Error
	if !storage.IsOutage(err) || !errors.As(err, &se) || se.Op != "list" {
		return
	}
	label, ok := n[se.Store]
	if !ok {
		return
	}
	a.outages.Stalled(job, se.Store+"#list", label, stallListing, reason(err), a.notifier(ctx))
}

// reason is a failure, short enough for a status line.
func reason(err error) string {
	const maxReason = 300
	s := err.Error()
	if len(s) > maxReason {
		s = s[:maxReason] + "..."
	}
	return s
}

// probeOther returns a probe of the page's source through another object
// than it (one the page copied, else any other), a one-byte read like the
// try's own; nil when the page has no other object.
func (r *pageRun) probeOther(it *item) func(context.Context) error {
	r.mu.Lock()
	other := ""
	for _, o := range r.items {
		if o == it || o.trivial || (!r.manifest && o.info.Size == 0) {
			continue
		}
		if o.state == itemDone && o.counts.Copied > 0 {
			other = o.key
			break
		}
		if other == "" {
			other = o.key
		}
	}
	r.mu.Unlock()
	if other == "" {
		return nil
	}
	return func(ctx context.Context) error {
		rc, _, err := r.src.Get(ctx, other, storage.Range{Length: 1})
		if err != nil {
			return err
		}
		return rc.Close()
	}
}
