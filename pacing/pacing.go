// Package pacing holds a job to its QPS and bandwidth limits over all its
// workers, and a worker to its own caps over all jobs: token buckets that
// every store an activity uses waits on (Limited), sized by the worker's
// part of the job's activities in flight, which the job tells (Source).
package pacing

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"go.temporal.io/sdk/client"
	"golang.org/x/time/rate"

	"github.com/bucketferry/bucketferry/migration"
	"github.com/bucketferry/bucketferry/storage"
)

// How a worker follows a job's limits: when the job's first activity starts
// here, it asks the job for its pacing (limits, and the activities in
// flight over all workers); then, while the job is limited, every
// refreshEvery and whenever one of its activities starts here. A job
// without limits is asked again only when one of its activities starts
// here at least unlimitedRecheck after the last question: a query that
// misses the job's worker cache replays its run, and every worker asking
// every job every refreshEvery cost that for nothing (31 queries a minute
// per worker and job; TestQueriesPerMinute). The price: a limit set on a
// running job without limits takes hold up to unlimitedRecheck later, and
// only with its next activity on each worker. Whenever one of
// the job's activities starts or ends here, it takes its part anew: k/N of
// each limit while it runs k of the job's N activities. A job none of
// whose activities ran here for idleAfter is forgotten.
//
// Why not limit/workers: the activities go to whichever worker polls
// first, so one worker can hold most of a job's activities while another
// holds none; an equal part per worker then leaves the idle worker's part
// unused, and the busy worker's activities, each slower, hold on to it
// longer (measured: 7-8 of 12 pages on one worker, 12-17 % under the
// limit, in TestJobBandwidthLimitAcrossThreeWorkers).
const (
	refreshEvery   = 2 * time.Second
	refreshTimeout = 5 * time.Second
	idleAfter      = 30 * time.Second
	// unlimitedRecheck spaces the questions to a job without limits.
	unlimitedRecheck = 30 * time.Second
	// minByteBurst bounds the chunks body bytes are paced in.
	minByteBurst = 32 << 10
)

// Set holds the limiters of one worker: one per job with running
// activities, and the worker's own caps. Set its fields before the first
// Throttle; its zero value paces each job at its spec's limits as if this
// worker were alone, with no caps.
type Set struct {
	// Source tells the job-wide limits and the activities sharing them;
	// nil enforces each spec's initial limits as if this worker were
	// alone.
	Source Source
	// MaxRequestsPerSecond and MaxBytesPerSecond cap this worker's requests
	// and source body bytes over all jobs; 0 is unlimited.
	MaxRequestsPerSecond float64
	MaxBytesPerSecond    int64
	// Logger receives the failures to learn a job's limits; nil discards
	// them.
	Logger *slog.Logger

	mu   sync.Mutex
	jobs map[string]*jobLimiter
	caps *pace // the worker's caps, over all jobs; made on first use
}

func (s *Set) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// pace is a pair of token buckets: requests and body bytes. No bucket
// (nil) does not limit. A changed rate gets a new bucket: waiters
// holding reservations of the old one take new ones, so that the queue of
// reservations made at the old rate does not outlast the change.
type pace struct {
	reqs  atomic.Pointer[rate.Limiter]
	bytes atomic.Pointer[rate.Limiter]
}

// jobLimiter paces the requests and bytes of one job on this worker at its
// part of the job-wide limits.
type jobLimiter struct {
	job   string
	pace  pace
	ready chan struct{} // closed after the first refresh
	// started wakes the refresher early when one of the job's activities
	// starts here: the job may count more activities now, and a worker
	// running the new one at its old part would exceed the limit until the
	// next tick.
	started chan struct{}

	mu       sync.Mutex
	active   int // activities of the job running here
	lastUsed time.Time
	limits   migration.Limits
	inFlight int       // the job's activities over all workers, as last heard
	asked    time.Time // when the job was last asked
}

// throttled is what an activity puts in its context for the stores to
// pace themselves by.
type throttled struct {
	job  *jobLimiter
	caps *pace
}

type throttleKey struct{}

// Source tells a worker a job's current limits and how many of the job's
// activities are in flight over all workers.
type Source interface {
	JobPacing(ctx context.Context, jobID string) (migration.Pacing, error)
}

// Temporal is a worker's Source: it queries the job workflow
// (migration.QueryPacing).
type Temporal struct {
	Client client.Client
}

// JobPacing asks the job for its current limits and activities in flight.
func (s Temporal) JobPacing(ctx context.Context, jobID string) (migration.Pacing, error) {
	var p migration.Pacing
	v, err := s.Client.QueryWorkflow(ctx, jobID, "", migration.QueryPacing)
	if err != nil {
		return p, fmt.Errorf("query the pacing of job %s: %w", jobID, err)
	}
	if err := v.Get(&p); err != nil {
		return p, fmt.Errorf("decode the pacing of job %s: %w", jobID, err)
	}
	return p, nil
}

// Throttle makes the stores wrapped by Limited pace the requests and
// source bytes made with the returned context at this worker's part of the
// job's limits (initial until the job answers, or for good without a
// Source, as if the activities running here were the job's only ones) and
// under the worker's caps. stopped, when the worker stops, ends the
// following of the job. Call release when the activity ends.
func (s *Set) Throttle(ctx context.Context, jobID string, initial migration.Limits, stopped <-chan struct{}) (context.Context, func()) {
	s.mu.Lock()
	if s.caps == nil {
		s.caps = &pace{}
		setRate(&s.caps.reqs, s.MaxRequestsPerSecond, requestBurst)
		setRate(&s.caps.bytes, float64(s.MaxBytesPerSecond), byteBurst)
	}
	caps := s.caps
	if jobID == "" {
		s.mu.Unlock()
		return context.WithValue(ctx, throttleKey{}, &throttled{caps: caps}), func() {}
	}
	if s.jobs == nil {
		s.jobs = map[string]*jobLimiter{}
	}
	l, ok := s.jobs[jobID]
	if !ok {
		l = &jobLimiter{
			job:     jobID,
			ready:   make(chan struct{}),
			started: make(chan struct{}, 1),
		}
		s.jobs[jobID] = l
	}
	l.mu.Lock()
	l.active++
	l.reshare(time.Now())
	ask := !l.limits.IsZero() || time.Since(l.asked) >= unlimitedRecheck
	l.mu.Unlock()
	s.mu.Unlock()
	if ok && ask {
		select {
		case l.started <- struct{}{}:
		default: // a wake-up is already pending
		}
	}

	if !ok {
		l.apply(migration.Pacing{Limits: initial}, time.Now())
		if s.Source != nil {
			l.refresh(ctx, s.Source, s.logger())
			go s.follow(l, s.Source, stopped, s.logger())
		}
		close(l.ready)
	}
	select {
	case <-l.ready:
	case <-ctx.Done():
	}
	release := func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.active--
		l.lastUsed = time.Now()
		l.reshare(l.lastUsed)
	}
	return context.WithValue(ctx, throttleKey{}, &throttled{job: l, caps: caps}), release
}

// follow refreshes a job's limiter until no activity of the job has run
// here for idleAfter, or the worker stops.
func (s *Set) follow(l *jobLimiter, src Source, stopped <-chan struct{}, log *slog.Logger) {
	t := time.NewTicker(refreshEvery)
	defer t.Stop()
	for {
		stop, ask := false, true
		select {
		case <-t.C:
			ask = false // unless the job is limited, below
		case <-l.started:
		case <-stopped:
			stop = true
		}
		s.mu.Lock()
		l.mu.Lock()
		idle := l.active == 0 && time.Since(l.lastUsed) > idleAfter
		ask = ask || !l.limits.IsZero()
		l.mu.Unlock()
		if stop || idle {
			if s.jobs[l.job] == l {
				delete(s.jobs, l.job)
			}
			s.mu.Unlock()
			return
		}
		s.mu.Unlock()
		if ask {
			l.refresh(context.Background(), src, log)
		}
	}
}

// refresh learns the job's pacing and applies it. If the job does not
// answer, the last pacing stays.
func (l *jobLimiter) refresh(ctx context.Context, src Source, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), refreshTimeout)
	defer cancel()
	l.mu.Lock()
	l.asked = time.Now()
	l.mu.Unlock()
	p, err := src.JobPacing(ctx, l.job)
	if err != nil {
		log.Warn("job limits unknown, keeping the last ones", "job", l.job, "error", err)
		l.mu.Lock()
		defer l.mu.Unlock()
		l.reshare(time.Now()) // a bandwidth window may have begun or ended
		return
	}
	l.apply(p, time.Now())
}

// apply takes the job's pacing as it stands at now.
func (l *jobLimiter) apply(p migration.Pacing, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.limits, l.inFlight = p.Limits, p.Activities
	l.reshare(now)
}

// reshare sets the buckets to this worker's part of the limits at now:
// active/inFlight of each. The job's count lags the activities that just
// started here, so it is never taken below them. With none of the job's
// activities here the buckets stay as they were, for the next to start.
// Called with l.mu held.
func (l *jobLimiter) reshare(now time.Time) {
	if l.active <= 0 {
		return
	}
	part := float64(l.active) / float64(max(l.inFlight, l.active))
	setRate(&l.pace.reqs, l.limits.QPS*part, requestBurst)
	setRate(&l.pace.bytes, float64(l.limits.BandwidthAt(now))*part, byteBurst)
}

// share reports the rates the limiter runs at (0: unlimited), and the job's
// activities in flight as last heard.
func (l *jobLimiter) share() (qps, bytesPerSecond float64, inFlight int) {
	l.mu.Lock()
	inFlight = l.inFlight
	l.mu.Unlock()
	rateOf := func(p *atomic.Pointer[rate.Limiter]) float64 {
		if r := p.Load(); r != nil {
			return float64(r.Limit())
		}
		return 0
	}
	return rateOf(&l.pace.reqs), rateOf(&l.pace.bytes), inFlight
}

// setRate makes p pace at perSecond (<= 0: not at all), with a new bucket
// when the rate changes. A bucket that replaces another starts empty:
// rates change each time an activity starts or ends, and a full bucket
// each time would let a burst through above the limit.
func setRate(p *atomic.Pointer[rate.Limiter], perSecond float64, burst func(float64) int) {
	if perSecond <= 0 || math.IsInf(perSecond, 0) || math.IsNaN(perSecond) {
		p.Store(nil)
		return
	}
	cur := p.Load()
	if cur != nil && float64(cur.Limit()) == perSecond {
		return
	}
	b := burst(perSecond)
	r := rate.NewLimiter(rate.Limit(perSecond), b)
	if cur != nil {
		r.AllowN(time.Now(), b)
	}
	p.Store(r)
}

// requestBurst lets a twentieth of a second's requests through at once,
// at least one: enough for many goroutines, too little to skew a rate.
func requestBurst(perSecond float64) int { return max(1, int(perSecond/20)) }

func byteBurst(perSecond float64) int { return max(minByteBurst, int(perSecond/20)) }

// throttleOf returns the pacing an activity put in ctx, or nil.
func throttleOf(ctx context.Context) *throttled {
	t, _ := ctx.Value(throttleKey{}).(*throttled)
	return t
}

// request waits for the right to send one request.
func (t *throttled) request(ctx context.Context) error {
	if t == nil {
		return nil
	}
	if t.job != nil {
		if err := waitN(ctx, &t.job.pace.reqs, 1); err != nil {
			return err
		}
	}
	return waitN(ctx, &t.caps.reqs, 1)
}

// bodyBytes waits for the right to have read n more body bytes.
func (t *throttled) bodyBytes(ctx context.Context, n int) error {
	if t == nil {
		return nil
	}
	if t.job != nil {
		if err := waitN(ctx, &t.job.pace.bytes, n); err != nil {
			return err
		}
	}
	return waitN(ctx, &t.caps.bytes, n)
}

func (t *throttled) limitsBytes() bool {
	if t == nil {
		return false
	}
	return (t.job != nil && t.job.pace.bytes.Load() != nil) || t.caps.bytes.Load() != nil
}

// waitN takes n tokens from the bucket p holds, in chunks of at most its
// burst. It sleeps in short steps so that a bucket replaced meanwhile (the
// rate changed) is noticed: the reservation is given back and taken anew
// at the new rate. Only the context ends a wait early (rate.Limiter.WaitN
// also refuses waits past the deadline, with errors that would read as
// failed requests).
func waitN(ctx context.Context, p *atomic.Pointer[rate.Limiter], n int) error {
	for n > 0 {
		r := p.Load()
		if r == nil {
			return nil
		}
		chunk := min(n, max(r.Burst(), 1))
		res := r.ReserveN(time.Now(), chunk)
		if !res.OK() {
			continue
		}
		if err := sleepFor(ctx, res, p, r); err != nil {
			return err
		}
		if p.Load() != r {
			continue // taken anew from the new bucket
		}
		n -= chunk
	}
	return nil
}

// sleepFor waits out a reservation of r, waking every waitStep to see
// whether p still holds r; if not it gives the reservation back.
func sleepFor(ctx context.Context, res *rate.Reservation, p *atomic.Pointer[rate.Limiter], r *rate.Limiter) error {
	const waitStep = 200 * time.Millisecond
	wake := time.Now().Add(res.Delay())
	for {
		d := time.Until(wake)
		if d <= 0 {
			return nil
		}
		t := time.NewTimer(min(d, waitStep))
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			res.Cancel()
			return ctx.Err()
		}
		if p.Load() != r {
			res.Cancel()
			return nil
		}
	}
}

// Limited wraps st in the pacing decorator, keeping the optional
// interfaces it implements: its requests wait on the throttle in their
// context, if any.
func Limited(st storage.Store) storage.Store {
	if r, ok := st.(storage.Restorer); ok {
		return limitedRestorer{limitedStore{st}, r}
	}
	return limitedStore{st}
}

// limitedRestorer is a limitedStore of a store that restores archived
// objects.
type limitedRestorer struct {
	limitedStore
	r storage.Restorer
}

func (s limitedRestorer) Restore(ctx context.Context, key string, opts storage.RestoreOptions) error {
	if err := throttleOf(ctx).request(ctx); err != nil {
		return err
	}
	return s.r.Restore(ctx, key, opts)
}

// limitedStore paces every request of an activity (and the body bytes it
// reads) by the throttle in the request's context; without one it passes
// straight through.
type limitedStore struct {
	storage.Store
}

// ReadOnly tells what the wrapped store does (a URL list is read-only).
func (s limitedStore) ReadOnly() bool { return storage.IsReadOnly(s.Store) }

func (s limitedStore) List(ctx context.Context, opts storage.ListOptions) (storage.Page, error) {
	if err := throttleOf(ctx).request(ctx); err != nil {
		return storage.Page{}, err
	}
	return s.Store.List(ctx, opts)
}

func (s limitedStore) Head(ctx context.Context, key string) (storage.ObjectInfo, error) {
	if err := throttleOf(ctx).request(ctx); err != nil {
		return storage.ObjectInfo{}, err
	}
	return s.Store.Head(ctx, key)
}

func (s limitedStore) Get(ctx context.Context, key string, rng storage.Range) (io.ReadCloser, storage.ObjectInfo, error) {
	t := throttleOf(ctx)
	if err := t.request(ctx); err != nil {
		return nil, storage.ObjectInfo{}, err
	}
	rc, info, err := s.Store.Get(ctx, key, rng)
	if err != nil || t == nil {
		return rc, info, err
	}
	return &limitedReader{ctx: ctx, t: t, rc: rc}, info, nil
}

func (s limitedStore) Put(ctx context.Context, key string, r io.Reader, size int64, meta storage.Metadata) (storage.PutResult, error) {
	if err := throttleOf(ctx).request(ctx); err != nil {
		return storage.PutResult{}, err
	}
	return s.Store.Put(ctx, key, r, size, meta)
}

func (s limitedStore) Delete(ctx context.Context, key string) error {
	if err := throttleOf(ctx).request(ctx); err != nil {
		return err
	}
	return s.Store.Delete(ctx, key)
}

func (s limitedStore) InitMultipart(ctx context.Context, key string, meta storage.Metadata) (string, error) {
	if err := throttleOf(ctx).request(ctx); err != nil {
		return "", err
	}
	return s.Store.InitMultipart(ctx, key, meta)
}

func (s limitedStore) UploadPart(ctx context.Context, key, uploadID string, n int, r io.Reader, size int64) (storage.Part, error) {
	if err := throttleOf(ctx).request(ctx); err != nil {
		return storage.Part{}, err
	}
	return s.Store.UploadPart(ctx, key, uploadID, n, r, size)
}

func (s limitedStore) ListParts(ctx context.Context, key, uploadID string) ([]storage.Part, error) {
	if err := throttleOf(ctx).request(ctx); err != nil {
		return nil, err
	}
	return s.Store.ListParts(ctx, key, uploadID)
}

func (s limitedStore) CompleteMultipart(ctx context.Context, key, uploadID string, parts []storage.Part) (storage.PutResult, error) {
	if err := throttleOf(ctx).request(ctx); err != nil {
		return storage.PutResult{}, err
	}
	return s.Store.CompleteMultipart(ctx, key, uploadID, parts)
}

func (s limitedStore) AbortMultipart(ctx context.Context, key, uploadID string) error {
	if err := throttleOf(ctx).request(ctx); err != nil {
		return err
	}
	return s.Store.AbortMultipart(ctx, key, uploadID)
}

func (s limitedStore) ListUploads(ctx context.Context, prefix string) ([]storage.Upload, error) {
	if err := throttleOf(ctx).request(ctx); err != nil {
		return nil, err
	}
	return s.Store.ListUploads(ctx, prefix)
}

// limitedReader paces the body bytes of a GET, whenever a bandwidth limit
// is in force: reads are then at most minByteBurst, each waiting for its
// bytes before it returns.
type limitedReader struct {
	ctx context.Context
	t   *throttled
	rc  io.ReadCloser
}

func (r *limitedReader) Read(p []byte) (int, error) {
	if !r.t.limitsBytes() {
		return r.rc.Read(p)
	}
	if len(p) > minByteBurst {
		p = p[:minByteBurst]
	}
	n, err := r.rc.Read(p)
	if n > 0 {
		if werr := r.t.bodyBytes(r.ctx, n); werr != nil {
			return n, werr
		}
	}
	return n, err
}

func (r *limitedReader) Close() error { return r.rc.Close() }

// CRC64 passes on the running CRC64 of the store's reader, when it keeps
// one (OSS checks whole-object reads): hidden behind this wrapper, the copy
// hashed every byte a second time (worker CPU for 2,000 1 MiB objects: 4.3 s
// with the second pass, 2.8 s without).
func (r *limitedReader) CRC64() (uint64, bool) {
	if cr, ok := r.rc.(storage.CRC64Reader); ok {
		return cr.CRC64()
	}
	return 0, false
}
