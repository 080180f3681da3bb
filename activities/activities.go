// Package activities holds the Temporal activities of a migration job, in
// the order of the data path: Plan probes the job's stores (so that bad
// credentials fail the job at once) and cuts the source into shards
// (package keyspace, or the manifest); ListAhead lists a shard ahead into
// ranges of a page each; CopyPage lists and copies one page of small
// objects and CopyLarge one large object as a resumable multipart upload
// (package transfer). They adapt Temporal to those packages: heartbeats,
// retries, the failure log, outages waited out, and the pacing of every
// store they use (package pacing). Every activity is idempotent on retry:
// progress travels in heartbeats.
package activities

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"

	"github.com/bucketferry/bucketferry/internal/storecheck"
	"github.com/bucketferry/bucketferry/migration"
	"github.com/bucketferry/bucketferry/outage"
	"github.com/bucketferry/bucketferry/pacing"
	"github.com/bucketferry/bucketferry/storage"
	"github.com/bucketferry/bucketferry/transfer"
)

// StoreResolver turns a store name of a job spec into a store, from the
// worker's own configuration (which holds the credentials).
type StoreResolver interface {
	Store(name string) (storage.Store, error)
}

// Activities carries what the activities share on one worker. Build it once
// and register it with Register; its methods are the activities.
type Activities struct {
	Stores StoreResolver
	Copier *transfer.Copier
	// Logger receives structured logs with job, shard and key attributes;
	// nil discards them.
	Logger *slog.Logger
	// Limits tells the job-wide limits and the activities sharing them
	// (package pacing); nil enforces each spec's initial limits as if this
	// worker were alone.
	Limits pacing.Source
	// MaxRequestsPerSecond and MaxBytesPerSecond cap this worker's requests
	// and source body bytes over all jobs; 0 is unlimited.
	MaxRequestsPerSecond float64
	MaxBytesPerSecond    int64
	// Fleet tells the workers serving the task queue; its view rides back
	// on every activity's result for the job to size its window by. Nil
	// reports no fleet, and jobs then run shards one page at a time.
	Fleet FleetSource
	// Signaler tells jobs that a store is out and when it answers again
	// (outage.go); nil: the activities wait outages out all the same,
	// without telling.
	Signaler JobSignaler
	// Heartbeats records an activity's heartbeat at once and says whether
	// the server has it (a client.Client does). A multipart copy records
	// each new upload's id this way before its first part; nil leaves that
	// to the SDK's heartbeats, which an attempt timed out under load may
	// lose, and with them the only record of its upload.
	Heartbeats HeartbeatRecorder

	pacingOnce sync.Once
	pacing     *pacing.Set
	outages    outage.Tracker
}

// FleetSource tells what the workers polling the task queue can run at
// once (fleet.Watcher is one); nil when it cannot tell.
type FleetSource interface {
	Fleet(ctx context.Context) *migration.Fleet
}

// HeartbeatRecorder records an activity's heartbeat synchronously.
type HeartbeatRecorder interface {
	RecordActivityHeartbeat(ctx context.Context, taskToken []byte, details ...any) error
}

// fleet is the worker's current view of the fleet, or nil.
func (a *Activities) fleet(ctx context.Context) *migration.Fleet {
	if a.Fleet == nil {
		return nil
	}
	return a.Fleet.Fleet(ctx)
}

// Register registers the activities under their method names (Plan,
// CopyPage, CopyLarge), which is what workflows calling them through a typed
// nil *Activities expect. It accepts a worker.Worker, any worker.Registry or
// a test environment.
func Register(r worker.ActivityRegistry, a *Activities) {
	r.RegisterActivity(a)
}

func (a *Activities) logger() *slog.Logger {
	if a.Logger != nil {
		return a.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// copier returns the worker's one Copier; jobs differ only in their class
// policy, which travels with each request (see classes).
func (a *Activities) copier(migration.JobSpec) (*transfer.Copier, error) {
	if a.Copier == nil {
		return nil, errors.New("activities: no copier configured")
	}
	return a.Copier, nil
}

// classes is a job's storage-class policy for the copy engine.
func classes(spec migration.JobSpec) *transfer.ClassPolicy {
	return &transfer.ClassPolicy{Force: spec.StorageClass, Map: spec.ClassMap}
}

// prepare applies defaults and validates a spec; an invalid spec is a
// non-retryable error.
func prepare(spec migration.JobSpec, jobID string) (migration.JobSpec, error) {
	if err := spec.Validate(); err != nil {
		return spec, temporal.NewNonRetryableApplicationError("invalid job spec: "+err.Error(), migration.ErrInvalidSpec, err)
	}
	return spec.WithDefaults(jobID), nil
}

// role names a store of a job for messages: its part in the job and its
// name in the workers' configuration.
type role struct {
	what string // "source", "destination", "failure log", "manifest"
	name string // store name in the configuration
}

// checked is r as package storecheck (shared with the dry run) names it.
func (r role) checked() storecheck.Role { return storecheck.Role{What: r.what, Name: r.name} }

func (r role) String() string { return r.checked().String() }

// resolve looks a store up; a store the worker does not know is fatal: no
// retry on this worker can find it.
func (a *Activities) resolve(r role) (storage.Store, error) {
	if a.Stores == nil {
		return nil, fatal(fmt.Sprintf("%s: this worker has no stores configured", r), nil)
	}
	st, err := a.Stores.Store(r.name)
	if err != nil {
		return nil, fatal(fmt.Sprintf("%s is not usable on this worker: %v; define it under \"stores\" in the worker configuration", r, err), err)
	}
	// Paced by the throttle the activity put in its context, if any.
	return pacing.Limited(st), nil
}

// begin is what every activity does first: it takes the spec with its
// defaults (an invalid one fails for good) and paces the stores the
// activity resolves at the job's limits. Call release when the activity
// ends, whatever the error.
func (a *Activities) begin(ctx context.Context, jobID string, in migration.JobSpec) (context.Context, migration.JobSpec, func(), error) {
	spec, err := prepare(in, jobID)
	if err != nil {
		return ctx, spec, func() {}, err
	}
	ctx, release := a.throttle(ctx, jobID, spec.Limits)
	return ctx, spec, release, nil
}

// throttle paces the stores the activity resolves at this worker's part of
// the job's limits and under the worker's caps (package pacing). Call
// release when the activity ends.
func (a *Activities) throttle(ctx context.Context, jobID string, initial migration.Limits) (context.Context, func()) {
	a.pacingOnce.Do(func() {
		a.pacing = &pacing.Set{Source: a.Limits, MaxRequestsPerSecond: a.MaxRequestsPerSecond,
			MaxBytesPerSecond: a.MaxBytesPerSecond, Logger: a.logger()}
	})
	var stopped <-chan struct{}
	if activity.IsActivity(ctx) {
		stopped = activity.GetWorkerStopChannel(ctx)
	}
	return a.pacing.Throttle(ctx, jobID, initial, stopped)
}

func fatal(msg string, cause error) error {
	return temporal.NewNonRetryableApplicationError(msg, migration.ErrFatal, cause)
}

// storeFatal builds the job-stopping error for a store that cannot be used.
func storeFatal(r role, st storage.Store, err error) error {
	return fatal(storecheck.Unusable(r.checked(), st, err).Error(), err)
}

// probeStore lists at most one key of a store under prefix: the cheapest
// request that proves credentials and bucket.
func probeStore(ctx context.Context, st storage.Store, prefix string) error {
	return storecheck.Probe(ctx, st, prefix, objectTries, objectBackoff)
}

// fatalProbe confirms, once per activity and store, whether an object error
// of a fatal kind (bad credentials, missing bucket) is true of the whole
// store: an object-level denial must not stop a job.
type fatalProbe struct {
	mu   sync.Mutex
	done map[storage.Store]error // nil: store fine
}

// check returns a fatal application error when a bucket-level request to
// st fails fatally too, else nil. A probe that fails for another reason
// (the service is briefly unavailable) proves nothing: nil.
func (p *fatalProbe) check(ctx context.Context, r role, st storage.Store, prefix string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done == nil {
		p.done = map[storage.Store]error{}
	}
	if res, ok := p.done[st]; ok {
		return res
	}
	var res error
	if err := probeStore(ctx, st, prefix); err != nil && storage.IsFatal(err) {
		res = storeFatal(r, st, err)
	}
	if ctx.Err() == nil {
		p.done[st] = res
	}
	return res
}

// heartbeatEvery is how often the ticker heartbeats: well within the
// activity's heartbeat timeout, so that a slow copy never times out while
// it makes progress and a cancellation is noticed soon; and at least every
// liveEvery, because the heartbeats are what the console and `starter
// status` show of a page or a large object still copying.
func heartbeatEvery(ctx context.Context) time.Duration {
	d := 10 * time.Second
	if activity.IsActivity(ctx) {
		if t := activity.GetInfo(ctx).HeartbeatTimeout; t > 0 {
			d = t / 4
		}
	}
	return min(max(d, 100*time.Millisecond), liveEvery)
}

// liveEvery bounds the interval between the progress heartbeats of a copy
// (the SDK sends them on at most every config's heartbeat throttle).
const liveEvery = 2 * time.Second

// ticker heartbeats details() every interval until the returned stop is
// called. The SDK throttles what reaches the server; the last details are
// flushed when the activity fails.
func ticker(ctx context.Context, details func() any) (stop func()) {
	if !activity.IsActivity(ctx) {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(heartbeatEvery(ctx))
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				activity.RecordHeartbeat(ctx, details())
			}
		}
	}()
	return func() {
		close(done)
		wg.Wait()
	}
}

// heartbeat records details once (no-op outside an activity, so helpers
// stay testable on their own).
func heartbeat(ctx context.Context, details any) {
	if activity.IsActivity(ctx) {
		activity.RecordHeartbeat(ctx, details)
	}
}

// attempt is the activity's attempt number (1 outside an activity).
func attempt(ctx context.Context) int {
	if activity.IsActivity(ctx) {
		return int(activity.GetInfo(ctx).Attempt)
	}
	return 1
}

// dstKey maps a source key to its destination key.
func dstKey(spec migration.JobSpec, key string) string {
	return spec.Destination.Prefix + strings.TrimPrefix(key, spec.Source.Prefix)
}

// failureOf describes a failed object for the failure log.
func failureOf(shard int, key string, size int64, attempts int, err error) migration.Failure {
	reason := err.Error()
	const maxReason = 1024
	if len(reason) > maxReason {
		reason = reason[:maxReason] + "..."
	}
	return migration.Failure{Key: key, Size: size, Reason: reason, Kind: storage.KindOf(err).String(), Attempts: attempts, Shard: shard}
}

func sample(fs []migration.Failure) []migration.Failure {
	if len(fs) > migration.FailureSampleSize {
		fs = fs[:migration.FailureSampleSize]
	}
	return append([]migration.Failure(nil), fs...)
}

// list lists st, trying a retryable failure again as an object's copy is
// (objectTries, objectBackoff): an activity that makes many requests (the
// planner makes hundreds) would otherwise be failed whole, and started
// over, by any one transient answer.
func list(ctx context.Context, st storage.Store, opts storage.ListOptions) (storage.Page, error) {
	return storage.Retry(ctx, objectTries, objectBackoff, func() (storage.Page, error) { return st.List(ctx, opts) })
}
