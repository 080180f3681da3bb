package outage

import (
	"sync"
	"testing"
	"time"
)

// TestOutTellsStoreFromObject: a failure is the store's outage only when
// the store answered nothing since the try began.
func TestOutTellsStoreFromObject(t *testing.T) {
	var tr Tracker
	m := tr.Mark("src", "dst")
	if !tr.Out(m) {
		t.Fatal("no answer since the mark: want out")
	}
	tr.Answered("dst")
	if tr.Out(m) {
		t.Fatal("dst answered since the mark: want not out")
	}
	m = tr.Mark("src")
	tr.Answered("other")
	if !tr.Out(m) {
		t.Fatal("another store's answer says nothing of src")
	}
}

// TestStallToldOnceEachWay: many waiters of two jobs on one stall: each job
// hears of its start once and of its end once, whatever the retries.
func TestStallToldOnceEachWay(t *testing.T) {
	var tr Tracker
	var mu sync.Mutex
	got := map[string][]Event{}
	notify := func(ev Event) {
		mu.Lock()
		defer mu.Unlock()
		got[ev.Job] = append(got[ev.Job], ev)
	}
	for range 10 {
		tr.Stalled("j1", "oss://b", `source store "src"`, "objects", "get: transient", notify)
		tr.Stalled("j2", "oss://b", `source store "src"`, "objects", "later reason", notify)
	}
	if !tr.Open("oss://b") {
		t.Fatal("stall not open")
	}
	tr.Answered("oss://b")
	tr.Answered("oss://b")
	if tr.Open("oss://b") {
		t.Fatal("stall still open after an answer")
	}
	for _, job := range []string{"j1", "j2"} {
		evs := got[job]
		if len(evs) != 2 || !evs[0].Stalled || evs[1].Stalled {
			t.Fatalf("%s: events %+v, want one start and one end", job, evs)
		}
		if evs[0].Reason != "get: transient" || evs[1].Since != evs[0].Since {
			t.Errorf("%s: events %+v: want the first failure's reason and since", job, evs)
		}
	}
	// A new outage is a new stall, told again.
	tr.Stalled("j1", "oss://b", "s", "objects", "again", notify)
	if n := len(got["j1"]); n != 3 {
		t.Errorf("j1 heard %d events, want 3", n)
	}
}

// TestBackoffCapped: the waits double from Initial up to Max and stay there.
func TestBackoffCapped(t *testing.T) {
	b := Backoff{Initial: time.Second, Max: 5 * time.Second}
	want := []time.Duration{1, 2, 4, 5, 5, 5}
	for i, w := range want {
		if d := b.Next(); d != w*time.Second {
			t.Fatalf("wait %d: %v, want %v", i, d, w*time.Second)
		}
	}
	b.Reset()
	if d := b.Next(); d != time.Second {
		t.Fatalf("after reset: %v", d)
	}
	var z Backoff
	if d := z.Next(); d != DefaultInitial {
		t.Fatalf("zero backoff: %v", d)
	}
}
