package emulator

import (
	"context"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// FaultConfig says how a front end misbehaves, so the migrator's retries,
// resumes and limits are tested against the failures real services produce.
type FaultConfig struct {
	// ErrorRate is the fraction of requests answered with an error before
	// they are served: half 503 SlowDown, half 500 InternalError.
	ErrorRate float64
	// ResetRate is the fraction of requests whose connection is cut in the
	// middle of a body: the request body of an upload, or the response body
	// of a download.
	ResetRate float64
	// Latency is added before every request is served.
	Latency time.Duration
	// Bandwidth caps the bytes per second of all bodies through the front
	// end, both directions together; 0 is unlimited.
	Bandwidth int64
	// Down drops every connection before answering, as a service that is
	// out does (the client sees its connection reset or closed); switch it
	// on and off with Set while requests are in flight.
	Down bool
	// Fail, when set, is asked about every request (with its bucket-relative
	// key as the front end sees it in the path); a non-nil error is answered
	// instead of serving it. Tests use it to make chosen objects unreadable.
	Fail func(r *http.Request) *APIError
}

// FaultStats counts what passed through a Faults middleware.
type FaultStats struct {
	Requests       int64
	ByMethod       map[string]int64
	BytesIn        int64 // request bodies read by the front end
	BytesOut       int64 // response bodies written
	InjectedErrors int64
	Resets         int64
}

// Faults is fault-injection middleware for a protocol front end. Its
// configuration can change while requests are in flight.
type Faults struct {
	mu      sync.Mutex
	cfg     FaultConfig
	rng     *rand.Rand
	limiter *rate.Limiter // nil when unlimited

	requests, bytesIn, bytesOut, injected, resets atomic.Int64
	methods                                       sync.Map // method -> *atomic.Int64
}

// NewFaults returns middleware with the given configuration.
func NewFaults(cfg FaultConfig) *Faults {
	f := &Faults{rng: rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))}
	f.Set(cfg)
	return f
}

// Set replaces the configuration.
func (f *Faults) Set(cfg FaultConfig) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cfg = cfg
	f.limiter = nil
	if cfg.Bandwidth > 0 {
		burst := int(max(cfg.Bandwidth/20, 32<<10))
		f.limiter = rate.NewLimiter(rate.Limit(cfg.Bandwidth), burst)
	}
}

// Config returns the current configuration.
func (f *Faults) Config() FaultConfig {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.cfg
}

// Stats returns the counters so far.
func (f *Faults) Stats() FaultStats {
	s := FaultStats{Requests: f.requests.Load(), BytesIn: f.bytesIn.Load(), BytesOut: f.bytesOut.Load(),
		InjectedErrors: f.injected.Load(), Resets: f.resets.Load(), ByMethod: map[string]int64{}}
	f.methods.Range(func(k, v any) bool {
		s.ByMethod[k.(string)] = v.(*atomic.Int64).Load()
		return true
	})
	return s
}

// draw decides the faults for one request under the lock.
func (f *Faults) draw() (cfg FaultConfig, fail, reset bool, status int, limiter *rate.Limiter) {
	f.mu.Lock()
	defer f.mu.Unlock()
	cfg = f.cfg
	fail = cfg.ErrorRate > 0 && f.rng.Float64() < cfg.ErrorRate
	reset = cfg.ResetRate > 0 && f.rng.Float64() < cfg.ResetRate
	status = http.StatusServiceUnavailable
	if f.rng.IntN(2) == 0 {
		status = http.StatusInternalServerError
	}
	return cfg, fail, reset, status, f.limiter
}

// Wrap returns h with faults applied; writeErr renders an injected error in
// the front end's own format.
func (f *Faults) Wrap(h http.Handler, writeErr func(http.ResponseWriter, *http.Request, *APIError)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.requests.Add(1)
		c, _ := f.methods.LoadOrStore(r.Method, new(atomic.Int64))
		c.(*atomic.Int64).Add(1)
		cfg, fail, reset, status, limiter := f.draw()
		if cfg.Latency > 0 {
			select {
			case <-time.After(cfg.Latency):
			case <-r.Context().Done():
				return
			}
		}
		if cfg.Down {
			f.abort()
		}
		if cfg.Fail != nil {
			if e := cfg.Fail(r); e != nil {
				f.injected.Add(1)
				writeErr(w, r, e)
				return
			}
		}
		if fail {
			f.injected.Add(1)
			if status == http.StatusServiceUnavailable {
				writeErr(w, r, &APIError{Status: status, Code: "SlowDown", Message: "Please reduce your request rate. (injected)"})
			} else {
				writeErr(w, r, &APIError{Status: status, Code: "InternalError", Message: "We encountered an internal error. (injected)"})
			}
			return
		}
		// An upload is cut halfway through its request body; anything else
		// halfway through its response body.
		hasBody := r.ContentLength > 0
		bodyCut := int64(-1)
		if reset && hasBody {
			bodyCut = r.ContentLength / 2
		}
		if hasBody || limiter != nil {
			r.Body = &faultBody{ReadCloser: r.Body, f: f, ctx: r.Context(), limiter: limiter, cut: bodyCut}
		}
		fw := &faultWriter{ResponseWriter: w, f: f, ctx: r.Context(), limiter: limiter, cutHalf: reset && !hasBody}
		h.ServeHTTP(fw, r)
	})
}

// abort cuts the connection: net/http closes it without finishing the
// response when a handler panics with ErrAbortHandler.
func (f *Faults) abort() {
	f.resets.Add(1)
	panic(http.ErrAbortHandler)
}

type faultBody struct {
	io.ReadCloser
	f       *Faults
	ctx     context.Context
	limiter *rate.Limiter
	cut     int64
	n       int64
}

func (b *faultBody) Read(p []byte) (int, error) {
	if b.cut >= 0 && b.n >= b.cut {
		b.f.abort()
	}
	if b.cut >= 0 && int64(len(p)) > b.cut-b.n {
		p = p[:b.cut-b.n]
	}
	if b.limiter != nil && len(p) > b.limiter.Burst() {
		p = p[:b.limiter.Burst()]
	}
	n, err := b.ReadCloser.Read(p)
	if n > 0 {
		b.n += int64(n)
		b.f.bytesIn.Add(int64(n))
		if b.limiter != nil {
			if werr := b.limiter.WaitN(b.ctx, n); werr != nil {
				return n, werr
			}
		}
	}
	return n, err
}

type faultWriter struct {
	http.ResponseWriter
	f       *Faults
	ctx     context.Context
	limiter *rate.Limiter
	cutHalf bool
	cut     int64 // -1: no cut
	n       int64
	started bool
}

func (w *faultWriter) WriteHeader(status int) {
	if !w.started {
		w.started = true
		w.cut = -1
		if w.cutHalf && status < 300 {
			if n := contentLength(w.Header()); n > 1 {
				w.cut = n / 2
			}
		}
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *faultWriter) Write(p []byte) (int, error) {
	if !w.started {
		w.WriteHeader(http.StatusOK)
	}
	written := 0
	for len(p) > 0 {
		chunk := p
		if w.limiter != nil && len(chunk) > w.limiter.Burst() {
			chunk = chunk[:w.limiter.Burst()]
		}
		if w.cut >= 0 && int64(len(chunk)) > w.cut-w.n {
			chunk = chunk[:w.cut-w.n]
		}
		if w.cut >= 0 && w.n >= w.cut {
			if f, ok := w.ResponseWriter.(http.Flusher); ok {
				f.Flush()
			}
			w.f.abort()
		}
		if w.limiter != nil {
			if err := w.limiter.WaitN(w.ctx, len(chunk)); err != nil {
				return written, err
			}
		}
		n, err := w.ResponseWriter.Write(chunk)
		written += n
		w.n += int64(n)
		w.f.bytesOut.Add(int64(n))
		if err != nil {
			return written, err
		}
		p = p[n:]
	}
	return written, nil
}

// Flush lets streaming answers through the middleware.
func (w *faultWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func contentLength(h http.Header) int64 {
	n, err := strconv.ParseInt(h.Get("Content-Length"), 10, 64)
	if err != nil {
		return -1
	}
	return n
}
