package pacing

import (
	"bytes"
	"context"
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"golang.org/x/time/rate"

	"github.com/bucketferry/bucketferry/migration"
	"github.com/bucketferry/bucketferry/storage"
)

// fakeStore answers Head and Get from memory and counts them.
type fakeStore struct {
	storage.Store // nil: other calls are not expected
	heads         atomic.Int64
	body          []byte
}

func (f *fakeStore) Name() string { return "fake://" }

func (f *fakeStore) Head(context.Context, string) (storage.ObjectInfo, error) {
	f.heads.Add(1)
	return storage.ObjectInfo{}, nil
}

func (f *fakeStore) Get(context.Context, string, storage.Range) (io.ReadCloser, storage.ObjectInfo, error) {
	return io.NopCloser(bytes.NewReader(f.body)), storage.ObjectInfo{Size: int64(len(f.body))}, nil
}

// fakeSource is a Source whose answers the test changes.
type fakeSource struct {
	mu       sync.Mutex
	limits   migration.Limits
	inFlight int // the job's activities over all workers
	err      error
	queries  int
}

func (s *fakeSource) set(l migration.Limits, inFlight int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.limits, s.inFlight = l, inFlight
}

func (s *fakeSource) JobPacing(context.Context, string) (migration.Pacing, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.queries++
	return migration.Pacing{Limits: s.limits, Activities: s.inFlight}, s.err
}

// runJobActivity starts one activity of "job" on a worker whose job
// answers limits and inFlight, and returns the source, the worker's
// activities, the activity's context and the job's limiter.
func runJobActivity(t *testing.T, limits migration.Limits, inFlight int) (*fakeSource, *Set, context.Context, *jobLimiter) {
	t.Helper()
	src := &fakeSource{limits: limits, inFlight: inFlight}
	a := &Set{Source: src}
	ctx, release := a.throttle(context.Background(), "job", migration.Limits{})
	t.Cleanup(release)
	return src, a, ctx, throttleOf(ctx).job
}

// hammer calls Head from many goroutines for d and returns the calls made.
func hammer(ctx context.Context, st storage.Store, d time.Duration) int64 {
	var n atomic.Int64
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for {
				if _, err := st.Head(ctx, "k"); err != nil || ctx.Err() != nil {
					return
				}
				n.Add(1)
			}
		})
	}
	wg.Wait()
	return n.Load()
}

// onFakeClock runs a test of rates or durations on a fake clock
// (testing/synctest): they come out the same however busy the machine is.
func onFakeClock(t *testing.T, f func(t *testing.T)) {
	synctest.Test(t, func(t *testing.T) {
		// Registered first, so run last, after the test's own releases:
		// the job limiters' refreshers end once their job has been idle
		// for idleAfter, and a bubble ends only when all its goroutines
		// have.
		t.Cleanup(func() { time.Sleep(idleAfter + 2*refreshEvery) })
		f(t)
	})
}

func within(got, want, tolerance float64) bool {
	return got >= want*(1-tolerance) && got <= want*(1+tolerance)
}

// TestThrottleSharesTheJobLimit: a worker running one of the job's three
// activities runs at a third of the job's QPS, follows a change of the
// limit on refresh, and stops limiting when the limit is lifted.
func TestThrottleSharesTheJobLimit(t *testing.T) {
	onFakeClock(t, func(t *testing.T) {
		src := &fakeSource{limits: migration.Limits{QPS: 300}, inFlight: 3}
		a := &Set{Source: src}
		ctx, release := a.throttle(context.Background(), "job", migration.Limits{QPS: 1}) // the job's answer wins
		defer release()
		st := limitedStore{&fakeStore{}}
		l := throttleOf(ctx).job
		if qps, _, n := l.share(); qps != 100 || n != 3 {
			t.Fatalf("share %v qps of %d activities, want 100 of 3", qps, n)
		}
		// Start from an empty bucket so the burst does not count.
		got := float64(hammer(ctx, st, time.Second))
		if !within(got, 100, 0.1) {
			t.Errorf("%v requests in 1s at a 100/s share", got)
		}

		src.set(migration.Limits{QPS: 600}, 2)
		l.refresh(ctx, src, a.logger())
		if qps, _, _ := l.share(); qps != 300 {
			t.Fatalf("after the change the share is %v, want 300", qps)
		}
		got = float64(hammer(ctx, st, 500*time.Millisecond))
		if !within(got, 150, 0.15) {
			t.Errorf("%v requests in 0.5s at a 300/s share", got)
		}

		src.set(migration.Limits{}, 2)
		l.refresh(ctx, src, a.logger())
		// Unlimited: requests never wait, so the fake clock stands still
		// (hammer's timed loop would never end).
		start := time.Now()
		for range 1000 {
			if _, err := st.Head(ctx, "k"); err != nil {
				t.Fatal(err)
			}
		}
		if waited := time.Since(start); waited != 0 {
			t.Errorf("1000 requests with no limit waited %v", waited)
		}
	})
}

// TestThrottleKeepsLastLimitsWhenTheJobDoesNotAnswer: a failed refresh
// changes nothing.
func TestThrottleKeepsLastLimitsWhenTheJobDoesNotAnswer(t *testing.T) {
	src, a, ctx, l := runJobActivity(t, migration.Limits{QPS: 40}, 2)
	src.mu.Lock()
	src.err = errors.New("unavailable")
	src.mu.Unlock()
	l.refresh(ctx, src, a.logger())
	if qps, _, n := l.share(); qps != 20 || n != 2 {
		t.Errorf("share %v over %d after a failed refresh, want 20 over 2", qps, n)
	}
	// A second activity of the job shares the limiter and asks nothing; the
	// worker now runs both of the job's activities, so all of the limit.
	ctx2, release2 := a.throttle(context.Background(), "job", migration.Limits{})
	defer release2()
	if throttleOf(ctx2).job != l || src.queries != 2 {
		t.Errorf("second activity: own limiter %v, %d queries", throttleOf(ctx2).job != l, src.queries)
	}
	if qps, _, _ := l.share(); qps != 40 {
		t.Errorf("share %v with both of the job's activities here, want 40", qps)
	}
}

// TestThrottlePartFollowsActivities: a worker's part of a job's limits is
// the part of the job's activities it runs, taken anew as they start and
// end here, and never more than the whole limit when the job's count lags
// behind the activities that just started.
func TestThrottlePartFollowsActivities(t *testing.T) {
	onFakeClock(t, func(t *testing.T) {
		src, a, ctx, l := runJobActivity(t, migration.Limits{QPS: 400, BandwidthBytesPerSecond: 8 << 20}, 4)
		want := func(what string, qps, bps float64) {
			t.Helper()
			if q, b, _ := l.share(); q != qps || b != bps {
				t.Errorf("%s: %v requests/s and %v bytes/s, want %v and %v", what, q, b, qps, bps)
			}
		}
		want("one of four activities", 100, 2<<20)
		_, release2 := a.throttle(context.Background(), "job", migration.Limits{})
		want("two of four", 200, 4<<20)
		release2()
		want("one of four again", 100, 2<<20)

		st := limitedStore{&fakeStore{}}
		before := float64(hammer(ctx, st, time.Second))
		if !within(before, 100, 0.1) {
			t.Errorf("%v requests in 1s at one of four activities", before)
		}

		src.set(migration.Limits{QPS: 400}, 1) // the job has not heard of the others yet
		l.refresh(ctx, src, a.logger())
		var releases []func()
		for range 2 {
			_, r := a.throttle(context.Background(), "job", migration.Limits{})
			releases = append(releases, r)
		}
		want("three here, one heard of", 400, 0)
		for _, r := range releases {
			r()
		}
	})
}

// TestThrottlePacesBodyBytes: a GET's body is read at the bandwidth share.
func TestThrottlePacesBodyBytes(t *testing.T) {
	onFakeClock(t, func(t *testing.T) {
		a := &Set{} // no source: the spec's limits, one worker
		ctx, release := a.throttle(context.Background(), "job", migration.Limits{BandwidthBytesPerSecond: 4 << 20})
		defer release()
		st := limitedStore{&fakeStore{body: make([]byte, 2<<20)}}
		start := time.Now()
		rc, _, err := st.Get(ctx, "k", storage.Range{})
		if err != nil {
			t.Fatal(err)
		}
		n, err := io.Copy(io.Discard, rc)
		if err != nil || n != 2<<20 {
			t.Fatalf("read %d bytes: %v", n, err)
		}
		// 2 MiB at 4 MiB/s, less the first burst.
		if el := time.Since(start); el < 400*time.Millisecond || el > 700*time.Millisecond {
			t.Errorf("2 MiB read in %v at 4 MiB/s, want about 0.5s", el)
		}
	})
}

// hashedBody is a store reader that keeps a running CRC64, as OSS's does.
type hashedBody struct {
	io.Reader
	crc uint64
}

func (h *hashedBody) Read(p []byte) (int, error) {
	n, err := h.Reader.Read(p)
	h.crc = storage.UpdateCRC64(h.crc, p[:n])
	return n, err
}

func (h *hashedBody) Close() error          { return nil }
func (h *hashedBody) CRC64() (uint64, bool) { return h.crc, true }

// hashingStore is fakeStore with a reader that hashes.
type hashingStore struct{ fakeStore }

func (h *hashingStore) Get(context.Context, string, storage.Range) (io.ReadCloser, storage.ObjectInfo, error) {
	return &hashedBody{Reader: bytes.NewReader(h.body)}, storage.ObjectInfo{Size: int64(len(h.body))}, nil
}

// TestLimitedReaderKeepsCRC64: the throttled reader shows the store
// reader's running CRC64, so the copy does not hash the bytes again; a
// reader without one stays without.
func TestLimitedReaderKeepsCRC64(t *testing.T) {
	a := &Set{}
	ctx, release := a.throttle(context.Background(), "job", migration.Limits{BandwidthBytesPerSecond: 1 << 30})
	defer release()
	body := bytes.Repeat([]byte("bucketferry"), 1000)
	rc, _, err := limitedStore{&hashingStore{fakeStore{body: body}}}.Get(ctx, "k", storage.Range{})
	if err != nil {
		t.Fatal(err)
	}
	cr, ok := storage.KnownCRC64(rc)
	if !ok {
		t.Fatal("the throttled reader hides the store reader's CRC64")
	}
	if _, err := io.Copy(io.Discard, rc); err != nil {
		t.Fatal(err)
	}
	if got, _ := cr.CRC64(); got != storage.CRC64(body) {
		t.Fatalf("CRC64 %x, want %x", got, storage.CRC64(body))
	}
	plain, _, err := limitedStore{&fakeStore{body: body}}.Get(ctx, "k", storage.Range{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := storage.KnownCRC64(plain); ok {
		t.Fatal("a reader without a CRC64 claims one")
	}
}

// TestThrottleWorkerCap: the worker's cap holds over all jobs together.
func TestThrottleWorkerCap(t *testing.T) {
	onFakeClock(t, func(t *testing.T) {
		a := &Set{MaxRequestsPerSecond: 100}
		ctx1, r1 := a.throttle(context.Background(), "job-a", migration.Limits{})
		defer r1()
		ctx2, r2 := a.throttle(context.Background(), "job-b", migration.Limits{})
		defer r2()
		st := limitedStore{&fakeStore{}}
		var total atomic.Int64
		var wg sync.WaitGroup
		for _, ctx := range []context.Context{ctx1, ctx2} {
			wg.Go(func() { total.Add(hammer(ctx, st, time.Second)) })
		}
		wg.Wait()
		if got := float64(total.Load()); !within(got, 100, 0.1) {
			t.Errorf("%v requests in 1s over two jobs under a 100/s cap", got)
		}
	})
}

// TestThrottleWaitEndsWithTheContext: a paced request gives up with the
// context's error, not a rate error that would read as a failed request.
func TestThrottleWaitEndsWithTheContext(t *testing.T) {
	onFakeClock(t, func(t *testing.T) {
		a := &Set{}
		ctx, release := a.throttle(context.Background(), "job", migration.Limits{QPS: 0.5})
		defer release()
		st := limitedStore{&fakeStore{}}
		if _, err := st.Head(ctx, "k"); err != nil { // the burst
			t.Fatal(err)
		}
		cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		if _, err := st.Head(cctx, "k"); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("wait ended with %v, want the context's deadline", err)
		}
	})
}

// TestThrottleRaiseReachesQueuedRequests: requests queued at a low rate
// are re-queued when the rate is raised, so the new rate shows at once
// rather than after the old queue drains (here 20 s of it).
func TestThrottleRaiseReachesQueuedRequests(t *testing.T) {
	onFakeClock(t, func(t *testing.T) {
		a := &Set{}
		ctx, release := a.throttle(context.Background(), "job", migration.Limits{QPS: 10})
		defer release()
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		st := limitedStore{&fakeStore{}}
		var n atomic.Int64
		var wg sync.WaitGroup
		defer wg.Wait()
		defer cancel()
		for range 200 {
			wg.Go(func() {
				for {
					if _, err := st.Head(ctx, "k"); err != nil || ctx.Err() != nil {
						return
					}
					n.Add(1)
				}
			})
		}
		time.Sleep(200 * time.Millisecond) // all queued at 10/s
		throttleOf(ctx).job.apply(migration.Pacing{Limits: migration.Limits{QPS: 100}, Activities: 1}, time.Now())
		time.Sleep(500 * time.Millisecond) // re-queued within a wait step
		before := n.Load()
		time.Sleep(time.Second)
		if got := float64(n.Load() - before); !within(got, 100, 0.15) {
			t.Errorf("%v requests in the second after raising the limit from 10/s to 100/s", got)
		}
	})
}

// TestFollowEndsWhenTheWorkerStops: the refresher forgets the job when the
// worker stops, so a stopped worker leaves no goroutine querying behind.
func TestFollowEndsWhenTheWorkerStops(t *testing.T) {
	src := &fakeSource{limits: migration.Limits{QPS: 10}, inFlight: 1}
	a := &Set{Source: src}
	_, release := a.throttle(context.Background(), "job", migration.Limits{})
	release()
	stopped := make(chan struct{})
	close(stopped)
	done := make(chan struct{})
	go func() {
		a.follow(a.jobs["job"], src, stopped, a.logger())
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("follow did not end after the worker stopped")
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, ok := a.jobs["job"]; ok {
		t.Error("the job's limiter is still registered")
	}
}

type restorerStore struct {
	fakeStore
	restores atomic.Int64
}

func (r *restorerStore) Restore(context.Context, string, storage.RestoreOptions) error {
	r.restores.Add(1)
	return nil
}

// TestLimitedKeepsRestorer: the decorator of a store that restores archived
// objects restores too (paced), and one of a store that does not, does not.
func TestLimitedKeepsRestorer(t *testing.T) {
	rs := &restorerStore{}
	r, ok := Limited(rs).(storage.Restorer)
	if !ok {
		t.Fatal("the decorated store lost Restore")
	}
	if err := r.Restore(context.Background(), "k", storage.RestoreOptions{}); err != nil || rs.restores.Load() != 1 {
		t.Errorf("restore: %v, %d calls", err, rs.restores.Load())
	}
	if _, ok := Limited(&fakeStore{}).(storage.Restorer); ok {
		t.Error("a store without Restore gained it")
	}
}

// TestThrottleAsksAgainWhenAnActivityStarts: a limited job's activity that
// starts on a worker already running the job makes the worker ask the job
// at once, not at the next tick, since the job may count more activities
// now.
func TestThrottleAsksAgainWhenAnActivityStarts(t *testing.T) {
	src, a, _, l := runJobActivity(t, migration.Limits{QPS: 400}, 1)
	src.set(migration.Limits{QPS: 400}, 4) // the second activity below, and two elsewhere
	_, release2 := a.throttle(context.Background(), "job", migration.Limits{})
	defer release2()
	deadline := time.Now().Add(refreshEvery / 2)
	for {
		qps, _, n := l.share()
		if qps == 200 && n == 4 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("share %v of %d activities %v after the second started, want 200 of 4 before the next tick", qps, n, refreshEvery/2)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestSetRateReplacedBucketStartsEmpty: a job's first bucket starts with
// its burst, but one that replaces it (the rate changes each time one of
// the job's activities starts or ends on the worker) starts empty, so that
// frequent changes let no burst through above the limit.
func TestSetRateReplacedBucketStartsEmpty(t *testing.T) {
	var p atomic.Pointer[rate.Limiter]
	setRate(&p, 1000, requestBurst)
	if tokens := p.Load().Tokens(); tokens < 49 {
		t.Errorf("first bucket holds %.1f tokens, want its burst of 50", tokens)
	}
	for _, perSecond := range []float64{2000, 500, 1000} {
		setRate(&p, perSecond, requestBurst)
		if tokens := p.Load().Tokens(); tokens > 1 {
			t.Errorf("bucket replaced at %v/s holds %.1f tokens, want none", perSecond, tokens)
		}
	}
}

// throttle is Throttle on a worker that never stops.
func (s *Set) throttle(ctx context.Context, jobID string, initial migration.Limits) (context.Context, func()) {
	return s.Throttle(ctx, jobID, initial, nil)
}

// TestQueriesPerMinute counts the queries a worker sends a job in a minute
// in which one of the job's activities runs throughout and another starts
// every 5 s (and runs a second): the figures docs/limits.md gives. A job
// with limits is asked every refreshEvery and at each start; one without
// costs its first activity's question and a recheck at most every
// unlimitedRecheck, when an activity starts.
func TestQueriesPerMinute(t *testing.T) {
	for _, tc := range []struct {
		name   string
		limits migration.Limits
		most   int
	}{
		{"limited", migration.Limits{QPS: 100}, 1 + int(time.Minute/refreshEvery) + 12},
		{"unlimited", migration.Limits{}, 1 + int(time.Minute/unlimitedRecheck)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			onFakeClock(t, func(t *testing.T) {
				src := &fakeSource{limits: tc.limits, inFlight: 2}
				s := &Set{Source: src}
				_, release := s.throttle(context.Background(), "job", tc.limits)
				defer release()
				for range 12 {
					time.Sleep(4 * time.Second)
					_, r := s.throttle(context.Background(), "job", tc.limits)
					time.Sleep(time.Second)
					r()
				}
				src.mu.Lock()
				n := src.queries
				src.mu.Unlock()
				t.Logf("%d queries in a minute", n)
				if n > tc.most {
					t.Errorf("%d queries in a minute, want at most %d", n, tc.most)
				}
			})
		})
	}
}
