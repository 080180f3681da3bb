// Package outage tells a store that is out from an object that has a
// problem of its own, and waits the outage out.
//
// A store that is unreachable, answers 5xx or throttles everything fails
// every request with an error of an outage kind (storage.IsOutage). So can
// one object (a key whose reads the service keeps failing), but then other
// requests to the same store succeed meanwhile. A Tracker, one per worker,
// counts the answers of each store (an object moved through it) and keeps
// the open stalls: a failure of an outage kind is the store's outage, not
// the object's, when the store answered nothing since the failing try
// began. The caller then waits with a capped backoff and tries again,
// without spending the object's budget; the first answer of the store ends
// the stall for every waiter.
//
// Every job that waits on a stall is told once when it starts and once when
// it ends (never once per retry), through the notify function it joined
// with, so that a job can show "stalled" with the reason and since when.
package outage

import (
	"sync"
	"time"
)

// Event is a change of a job's view of a store: a stall begins (Stalled) or
// ends.
type Event struct {
	Job string
	// Store names the store for people ("source store \"src\""); What says
	// which of its services is out: "objects" or "listing".
	Store   string
	What    string
	Stalled bool
	// Since and Reason describe the stall (the first failure that opened
	// it); an end carries the same Since.
	Since  time.Time
	Reason string
}

// Notify tells a job of an Event. It is called outside the tracker's lock,
// at most twice per stall and job.
type Notify func(Event)

// Tracker follows the stores of one worker. The zero value is ready to use;
// it must not be copied after first use.
type Tracker struct {
	mu     sync.Mutex
	stores map[string]*state
}

// state is one store (tracker key) of a Tracker.
type state struct {
	answers uint64 // answers so far
	stall   *stall // nil: not out
}

// stall is an open outage of a store.
type stall struct {
	label, what string
	since       time.Time
	reason      string
	jobs        map[string]Notify // told it began; to be told it ends
}

func (t *Tracker) state(key string) *state {
	if t.stores == nil {
		t.stores = map[string]*state{}
	}
	s := t.stores[key]
	if s == nil {
		s = &state{}
		t.stores[key] = s
	}
	return s
}

// Mark is what the stores had answered at one moment: take it before a try,
// and ask Out after the try fails.
type Mark struct {
	keys    []string
	answers []uint64
}

// Mark snapshots the answers of the stores with the given keys.
func (t *Tracker) Mark(keys ...string) Mark {
	t.mu.Lock()
	defer t.mu.Unlock()
	m := Mark{keys: keys, answers: make([]uint64, len(keys))}
	for i, k := range keys {
		m.answers[i] = t.state(k).answers
	}
	return m
}

// Out reports whether none of the stores of m answered since m was taken:
// a failure of an outage kind of a try begun at m is then the stores'
// outage, not the object's problem.
func (t *Tracker) Out(m Mark) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	for i, k := range m.keys {
		if t.state(k).answers != m.answers[i] {
			return false
		}
	}
	return true
}

// Answered records that the stores answered (an object was read, written or
// found): it ends their stalls, telling every job that waited.
func (t *Tracker) Answered(keys ...string) {
	var tell []func()
	t.mu.Lock()
	for _, k := range keys {
		s := t.state(k)
		s.answers++
		if st := s.stall; st != nil {
			s.stall = nil
			for job, n := range st.jobs {
				ev := Event{Job: job, Store: st.label, What: st.what, Since: st.since, Reason: st.reason}
				tell = append(tell, func() { n(ev) })
			}
		}
	}
	t.mu.Unlock()
	for _, f := range tell {
		f()
	}
}

// Stalled records that job finds the store of key out (label and what name
// it for people, reason is the failure): it opens the store's stall if none
// is open and tells the job, once per stall, through notify.
func (t *Tracker) Stalled(job, key, label, what, reason string, notify Notify) {
	t.mu.Lock()
	s := t.state(key)
	if s.stall == nil {
		s.stall = &stall{label: label, what: what, since: time.Now(), reason: reason, jobs: map[string]Notify{}}
	}
	st := s.stall
	_, told := st.jobs[job]
	if !told {
		st.jobs[job] = notify
	}
	ev := Event{Job: job, Store: st.label, What: st.what, Stalled: true, Since: st.since, Reason: st.reason}
	t.mu.Unlock()
	if !told {
		notify(ev)
	}
}

// Open reports whether the store of key has a stall open.
func (t *Tracker) Open(key string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.state(key).stall != nil
}

// Backoff is the wait between tries while a store is out: Initial, doubling
// up to Max. The zero value waits one second, doubling to two minutes.
type Backoff struct {
	Initial, Max time.Duration
	next         time.Duration
}

// Defaults of a zero Backoff.
const (
	DefaultInitial = time.Second
	DefaultMax     = 2 * time.Minute
)

// Next returns the next wait and doubles the one after, up to Max.
func (b *Backoff) Next() time.Duration {
	hi := b.Max
	if hi <= 0 {
		hi = DefaultMax
	}
	if b.next <= 0 {
		b.next = b.Initial
		if b.next <= 0 {
			b.next = DefaultInitial
		}
	}
	d := min(b.next, hi)
	b.next = min(2*b.next, hi)
	return d
}

// Reset starts the doubling again from Initial.
func (b *Backoff) Reset() { b.next = 0 }
