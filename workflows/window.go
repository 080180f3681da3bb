package workflows

import (
	"encoding/json"
	"fmt"
	"math"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/bucketferry/bucketferry/activities"
	"github.com/bucketferry/bucketferry/migration"
)

// Windowed shards.
//
// A shard that the job gives a window (ShardInput.Window > 0) lists ahead
// and copies several pages at once: a ListAhead activity lists the next
// keys and returns only where each range of them ends; up to Window
// CopyPage activities each copy one range, listing it again. The job sizes
// the windows from the slots of the workers polling the task queue, so
// that every worker that joins gets work at once (docs/scale.md).
//
// The shard's Cursor is then the last key listed, and the ranges listed but
// not yet copied travel across continue-as-new in ShardInput.Ranges; a run
// hands over only when none of its activities is in flight.

// windowedVersion gates the windowed walk: shards recorded before it
// replay the sequential one.
const windowedVersion = "windowed-shard"

// quietStartVersion gates a shard's first report: 0, as soon as its first
// run has an activity in flight; 1, only once it has more than one (or
// counts to tell), since the job counts a shard not heard from as one.
const quietStartVersion = "quiet-start"

// windowedNewest is windowed-shard's newest version.
const windowedNewest = 7

// useWindow decides, once per run, whether the shard walks its range
// windowed. A manifest shard reads its pages in sequence as before.
func (s *shard) useWindow(ctx workflow.Context) {
	v := s.gates.version(ctx, windowedVersion, windowedNewest)
	s.windowed = v >= 1 && s.in.Window > 0 && !s.manifest
	s.pageAtOne = v >= 2
	s.chunked = v >= 3
	s.rampShare = v >= 4
	s.listFirst = v >= 5
	s.carry = v >= 6 && s.in.CarryListed
	s.pack = v >= 7 && s.in.CarryListed
	if !s.windowed {
		return
	}
	if s.in.Runs == 0 && s.gates.version(ctx, quietStartVersion, 1) == 1 {
		// The job counts a shard it has not heard from as one activity
		// in flight: a first run that starts with one (its listing) has
		// nothing to tell it.
		s.reportedInFlight = 1
	}
	s.listed = s.in.Listed
	s.windowCh = workflow.GetSignalChannel(ctx, migration.SignalShardWindow)
	s.sel.AddReceive(s.windowCh, func(c workflow.ReceiveChannel, _ bool) {
		var sig migration.ShardWindow
		c.Receive(ctx, &sig)
		s.onWindow(sig)
	})
}

func (s *shard) onWindow(sig migration.ShardWindow) {
	if sig.Seq <= s.in.WindowSeq {
		return
	}
	s.in.Window, s.in.WindowSeq = max(sig.Pages, 1), sig.Seq
}

// drainWindow takes in the window signals delivered but not yet read.
func (s *shard) drainWindow() {
	if s.windowCh == nil {
		return
	}
	for {
		var sig migration.ShardWindow
		if !s.windowCh.ReceiveAsync(&sig) {
			return
		}
		s.onWindow(sig)
	}
}

// ranging reports whether the shard copies listed ranges now, rather than
// walking pages one after the other. A shard with a window of one page
// walks (one activity lists and copies each page, as before windows):
// listing ahead would only add an activity and a report for every few
// pages, which on small objects at full speed cost a third of the speed
// (go run ./bench). It takes to ranges when its window grows, between two
// pages, and keeps them.
func (s *shard) ranging() bool {
	return !s.pageAtOne || s.in.Window > 1 || len(s.in.Ranges) > 0 || s.copying > 0 || s.listing
}

// startWindowed lists ahead while fewer ranges are waiting than the window
// holds, and starts ranges while the window has room. Large objects found
// and not yet started hold new ranges back, so that they stay few.
func (s *shard) startWindowed(ctx workflow.Context, suggested bool) {
	if s.in.Paused || suggested {
		return
	}
	w := s.in.Window
	if !s.listing && !s.listed && !s.cutting() && s.listedIn(aheadChunks) < w {
		s.startListAhead(ctx, w)
	}
	for s.copying < w && len(s.in.Ranges) > 0 && len(s.queue) < w {
		k := s.chunksPerRange()
		if k == 0 {
			return
		}
		if s.pack {
			k = sameCarry(s.in.Ranges[:k])
		}
		r := s.in.Ranges[0]
		r.Last = s.in.Ranges[k-1].Last
		r.Objects = joinObjects(s.in.Ranges[:k])
		r.Packed = joinPacked(s.in.Ranges[:k])
		s.in.Ranges = s.in.Ranges[k:]
		s.startRange(ctx, r)
	}
}

// minChunks is the fewest chunks a range takes while the shard has keys
// left to list: each copy of a range keeps its objects' pool busy for at
// least four rounds, since the pool drains at a range's end (with fewer
// the drain was a fifth of a limited job's bandwidth unused), and each
// range lists its keys once more.
const minChunks = 4

// maxPackedChunks is the most chunks a range takes when its chunks come
// packed (since windowed-shard 7). A range started late ends late: with a
// window of ten pages a shard that has listed four pages ahead cuts ranges
// of twenty chunks, 40 s against a store 1 s away, and one started just
// before its shard's listing ended ran 9 s past everything else. A packed
// range lists nothing, so a shorter one costs only its activity.
const maxPackedChunks = 2 * minChunks

// chunkKeys is the keys of a listed chunk: one round of a range's pool,
// never more than a page.
func (s *shard) chunkKeys() int {
	return s.spec.ChunkKeys()
}

// aheadChunks is how many chunks a chunked shard keeps listed for each
// page of its window: ranges are shared from what is listed, so the more
// listed the longer they are, and the less their own listing (a round trip
// a range) costs: at four a slot a third of the 3-worker run's ranges were
// shorter than four chunks. A shard lists a thousand keys a round trip, so
// it keeps ahead of its window's copies.
const aheadChunks = 8

// listedIn is what the shard has listed, in ranges of per chunks (a shard
// that lists ranges rather than chunks: its ranges).
func (s *shard) listedIn(per int) int {
	if !s.chunked {
		return len(s.in.Ranges)
	}
	return (len(s.in.Ranges) + per - 1) / per
}

// chunksPerRange is how many listed chunks the next range takes (1 when
// the shard lists ranges, not chunks; 0 to wait for more listed). While
// chunks listed are shared evenly over the window (as ranges were cut when
// listed before chunks), at least minChunks a range while keys are left to
// list; at the end of the shard down to one chunk a range: the end of a
// shard is the end of the job when it is the last, and then the fleet's
// slots would otherwise stand idle while a few long ranges run. The share
// is taken when a range starts, with the window of that moment, so ranges
// listed before the window grew are cut for the new one.
func (s *shard) chunksPerRange() int {
	n := len(s.in.Ranges)
	if !s.chunked || n == 0 {
		return min(n, 1)
	}
	most := max(s.spec.PageSize/s.chunkKeys(), 1)
	if s.pack {
		most = min(most, maxPackedChunks)
	}
	w := max(s.in.Window, 1)
	k := min(max((n+w-1)/w, 1), most)
	if s.rampShare && !s.listed && s.ramping(w) && !s.fleetBusy() {
		free := max(w-s.copying, 1)
		return min(max((n+free-1)/free, 1), n, most)
	}
	if s.listed && s.listFirst {
		// The end of the shard is shared over its part of the fleet's
		// slots, not over its window: the window's quarter more waits in
		// the task queue, and ranges cut for it ran as a second wave
		// after the first had ended.
		k = min(max((n+slotsOf(w)-1)/slotsOf(w), 1), most)
	}
	if !s.listed {
		if n < minChunks && s.copying > 0 {
			return 0
		}
		k = max(k, min(minChunks, most))
	}
	return min(k, n)
}

// slotsOf is the slots a window of w pages stands for: the job's window
// is the fleet's slots and a quarter more (fleet.go).
func slotsOf(w int) int {
	return max(w*4/5, 1)
}

// heard takes in the fleet view of an activity's result.
func (s *shard) heard(f *migration.Fleet) {
	s.fleet = s.fleet.Newer(f)
	s.seen = s.seen.Newer(f)
}

// fleetBusy reports, since windowed-shard 5, whether the newest fleet
// view has fewer than an eighth of its slots free. Ramp shares fill empty
// slots; a shard that starts while the others keep the fleet busy (the
// job's planned shards, after its head took the whole window) would only
// queue ranges of one chunk, each listing its keys once more.
func (s *shard) fleetBusy() bool {
	f := s.seen
	return s.listFirst && f != nil && f.Slots > 0 && (f.Slots-f.Used)*8 < f.Slots
}

// ramping reports whether the window of w pages has empty slots that
// what is listed, in ranges of minChunks, would not fill.
func (s *shard) ramping(w int) bool {
	return s.copying+s.listedIn(minChunks) < w
}

// backlogShort reports whether the shard lists one page at a time: while
// its window has empty slots (since chunks), and since windowed-shard 4
// while what it has listed, in ranges of minChunks, would not cover its
// window of w pages once.
func (s *shard) backlogShort(w int) bool {
	if s.rampShare {
		return s.listedIn(minChunks) < w
	}
	return s.chunked && s.ramping(w)
}

// listPriority is the task queue priority of a shard's listings (1 is
// the highest, 3 the default every copy has). The window keeps a quarter
// more copies than the fleet has slots waiting in the task queue; a listing
// behind them waited for a dozen copies to end (a second and a half in the
// 3-worker run against a store 1 s away, as long as the listing itself), so
// the shards listed hardly ahead of the copies, whose ranges stayed short
// (each lists its range again) and whose end came late. A server that does
// not know priorities (before Temporal 1.28) dispatches them in order.
const listPriority = 1

func (s *shard) startListAhead(ctx workflow.Context, ranges int) {
	after := max(s.in.Cursor, s.in.Shard.After)
	summary := fmt.Sprintf("list ahead after %q", after)
	actx := s.activityContext(summary, pageTimeout)
	if s.listFirst {
		actx = workflow.WithPriority(actx, temporal.Priority{PriorityKey: listPriority})
	}
	in := migration.ListAheadInput{
		JobID: s.in.JobID, Spec: s.spec, Shard: s.in.Shard, After: after, Ranges: ranges,
		// Each copy of a range keeps its objects' pool busy for at least
		// four rounds: the pool drains at a range's end, and with fewer the
		// drain was a fifth of a limited job's bandwidth unused.
		MinKeys: 4 * s.spec.Concurrency.Objects,
	}
	if s.copying == 0 || s.backlogShort(ranges) {
		// Nothing to copy meanwhile (since chunks, slots of the window
		// still empty): one listing, and copies start after one round
		// trip to the store. Four in a row kept a far-away store's job
		// from filling its fleet for four round trips more.
		in.Listings = 1
	}
	if s.chunked && s.pack {
		in.ChunkKeys, in.Pack = s.chunkKeys(), true
	} else if s.chunked {
		in.ChunkKeys = s.chunkKeys()
		in.Carry = s.carry
		// What this listing brings will be shared over empty slots, a
		// chunk a range: carried, each is a GET and a PUT, where its own
		// listing made it a third longer. Ramps are few a shard (its
		// start, a window that grew), so what they carry stays bounded.
		in.CarryAll = s.carry && s.rampShare && s.ramping(ranges) && !s.fleetBusy()
	}
	var a *activities.Activities
	f := workflow.ExecuteActivity(actx, a.ListAhead, in)
	s.listing = true
	s.sel.AddFuture(f, func(f workflow.Future) {
		s.listing = false
		var res migration.ListAheadResult
		if err := f.Get(ctx, &res); err != nil {
			s.failed(ctx, summary, err)
			return
		}
		s.onListAhead(ctx, summary, after, res)
	})
}

func (s *shard) onListAhead(ctx workflow.Context, what, after string, res migration.ListAheadResult) {
	s.progressed = true
	s.heard(res.Fleet)
	prev := after
	from := len(s.in.Ranges)
	for _, b := range res.Bounds {
		if b <= prev {
			s.failed(ctx, what, fmt.Errorf("the listing went back from %q to %q", prev, b))
			return
		}
		s.in.Ranges = append(s.in.Ranges, migration.Range{After: prev, Last: b, Page: s.nextPage()})
		prev = b
	}
	if len(res.Bounds) == 0 && !res.Done {
		s.failed(ctx, what, fmt.Errorf("the listing ended without moving past its start"))
		return
	}
	if s.pack && len(res.Chunks) == len(res.Bounds) {
		keep(s.in.Ranges[from:], res.Chunks, packedState-packedBytes(s.in.Ranges[:from]))
	} else if s.carry && carriedBytes(s.in.Ranges[:from])+jsonBytes(res.Objects) <= 2*migration.MaxCarriedBytes {
		// Two listings' objects at most wait in the shard's state, so
		// that its continue-as-new input stays within twice
		// MaxCarriedBytes and a few kilobytes: a ramp's, not yet copied
		// when the last page is listed, and the last page's.
		attach(s.in.Ranges[from:], res.Objects)
	}
	s.in.Cursor = prev
	s.listed = res.Done
	s.in.Listed = res.Done
}

// nextPage numbers a new range: the number names its failure-log chunk.
func (s *shard) nextPage() int {
	p := s.in.Page
	s.in.Page++
	return p
}

func (s *shard) startRange(ctx workflow.Context, r migration.Range) {
	sub := s.in.Shard
	sub.After = max(r.After, s.in.Shard.After)
	sub.Before = r.Last + "\x00" // storage.JustAfter: the range takes in r.Last
	summary := fmt.Sprintf("page %d: keys after %q to %q", r.Page, r.After, r.Last)
	actx := s.activityContext(summary, pageTimeout)
	var a *activities.Activities
	f := workflow.ExecuteActivity(actx, a.CopyPage, migration.CopyPageInput{
		JobID: s.in.JobID, Spec: s.spec, Shard: sub, Page: r.Page, Objects: r.Objects, Packed: r.Packed,
	})
	s.copying++
	s.sel.AddFuture(f, func(f workflow.Future) {
		s.copying--
		var res migration.CopyPageResult
		if err := f.Get(ctx, &res); err != nil {
			s.failed(ctx, summary, err)
			return
		}
		s.onRange(ctx, summary, r, res)
	})
}

func (s *shard) onRange(ctx workflow.Context, what string, r migration.Range, res migration.CopyPageResult) {
	if !res.Done && res.LastKey < r.Last {
		// Keys written into the range since it was listed made it longer
		// than a page: the rest is a range of its own.
		if res.LastKey <= r.After {
			s.failed(ctx, what, fmt.Errorf("the page ended without moving past its start"))
			return
		}
		rest := migration.Range{After: res.LastKey, Last: r.Last, Page: s.nextPage()}
		s.in.Ranges = append([]migration.Range{rest}, s.in.Ranges...)
	}
	s.heard(res.Fleet)
	s.queue = append(s.queue, res.Large...)
	s.count(res.Counts, res.Failures)
	s.onArchived(ctx, res.Archived)
}

// pages is what the shard could copy at once now, for the job's
// allotment: -1 while keys are left to list.
func (s *shard) pages() int {
	if !s.listed {
		return -1
	}
	return len(s.in.Ranges) + s.copying
}

// attach gives ranges of one chunk each, as a listing returned them, the
// objects it carried: those of its last chunks, from the first key of
// one. A range that is not wholly among them gets none (its copy lists
// it); objects that do not fit the ranges are all dropped.
func attach(ranges []migration.Range, objs []migration.Listed) {
	if len(objs) == 0 {
		return
	}
	j := 0
	for i := range ranges {
		r := &ranges[i]
		if r.Last < objs[0].Key {
			continue
		}
		k := j
		for k < len(objs) && objs[k].Key <= r.Last {
			k++
		}
		if k == j || objs[k-1].Key != r.Last || objs[j].Key <= r.After {
			break
		}
		r.Objects, j = objs[j:k], k
	}
	if j != len(objs) {
		for i := range ranges {
			ranges[i].Objects = nil
		}
	}
}

// packedState bounds the packed objects that wait in a shard's state
// (since windowed-shard 7): its continue-as-new input then stays under
// 200 KB more, as base64. That is some 9,000 objects of keys that share
// most of their bytes, a backlog of eight chunks for each of 70 pages of
// the shard's window; chunks listed beyond it are listed again by their
// copies, as before.
const packedState = migration.MaxCarriedBytes / 2

// keep gives ranges of one chunk each, as a listing returned them, their
// packed objects, in order while they fit room bytes.
func keep(ranges []migration.Range, chunks [][]byte, room int) {
	for i := range ranges {
		room -= len(chunks[i])
		if room < 0 {
			return
		}
		if len(chunks[i]) > 0 {
			ranges[i].Packed = chunks[i : i+1]
		}
	}
}

// sameCarry is how many of the first chunks come the same way: with
// objects carried (the job's check), packed, or with neither. A range of
// chunks of two kinds would list its keys again.
func sameCarry(chunks []migration.Range) int {
	kind := func(r migration.Range) int {
		switch {
		case len(r.Packed) > 0:
			return 2
		case len(r.Objects) > 0:
			return 1
		}
		return 0
	}
	for i := range chunks {
		if kind(chunks[i]) != kind(chunks[0]) {
			return i
		}
	}
	return len(chunks)
}

// packedBytes is the size of the packed objects that ranges hold.
func packedBytes(ranges []migration.Range) int {
	n := 0
	for _, r := range ranges {
		for _, c := range r.Packed {
			n += len(c)
		}
	}
	return n
}

// joinPacked is the packed objects of ranges joined into one range's:
// nil unless every one of them holds its own.
func joinPacked(ranges []migration.Range) [][]byte {
	if len(ranges) == 1 {
		return ranges[0].Packed
	}
	var out [][]byte
	for _, r := range ranges {
		if len(r.Packed) == 0 {
			return nil
		}
		out = append(out, r.Packed...)
	}
	return out
}

// carriedBytes is the size of the objects the ranges carry, as their
// payload encodes them.
func carriedBytes(ranges []migration.Range) int {
	n := 0
	for _, r := range ranges {
		n += jsonBytes(r.Objects)
	}
	return n
}

// jsonBytes is the size of carried objects as the payload encodes them
// (activities.carried cuts a listing's to MaxCarriedBytes the same way).
func jsonBytes(objs []migration.Listed) int {
	if len(objs) == 0 {
		return 0
	}
	b, err := json.Marshal(objs)
	if err != nil {
		return math.MaxInt32
	}
	return len(b)
}

// joinObjects is the objects of ranges joined into one: nil unless every
// one of them carries its objects.
func joinObjects(ranges []migration.Range) []migration.Listed {
	n := 0
	for _, r := range ranges {
		if len(r.Objects) == 0 {
			return nil
		}
		n += len(r.Objects)
	}
	if len(ranges) == 1 {
		return ranges[0].Objects
	}
	out := make([]migration.Listed, 0, n)
	for _, r := range ranges {
		out = append(out, r.Objects...)
	}
	return out
}
