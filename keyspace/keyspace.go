// Package keyspace plans a job: it cuts the key space under a prefix into
// about as many shards as asked, by probing a store with cheap listings
// (never by listing the whole bucket). It is pure logic over
// storage.Store: the Plan activity and the dry run (starter plan) both
// call it, and neither needs the other's machinery.
package keyspace

import (
	"cmp"
	"context"
	"errors"
	"math"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/bucketferry/bucketferry/internal/pool"
	"github.com/bucketferry/bucketferry/migration"
	"github.com/bucketferry/bucketferry/storage"
)

// Options say what to plan and how far to probe.
type Options struct {
	// Prefix is the part of the key space to plan.
	Prefix string
	// PageSize is the keys a listing returns; Target, the shards wanted.
	PageSize, Target int
	// Time bounds the probing (0: ProbeTime): its end, as the probe
	// budget's, leaves the plan as coarse as the segments found so far.
	Time time.Duration
	// Tries and Backoff retry a listing that fails retryably (0: 3 tries,
	// 200 ms, as a copy retries an object): the planner makes hundreds, and
	// one transient answer must not fail them all.
	Tries   int
	Backoff time.Duration
	// Tick, when set, is called at every probe with the probes so far
	// (never concurrently): the activity heartbeats with it.
	Tick func(probes int)
}

// Stats tell what planning cost.
type Stats struct {
	Probes   int // listings made
	KeysSeen int // keys counted exactly
}

// Plan cuts the key space of st under o.Prefix into about o.Target shards,
// biggest first. A spent budget or deadline is no error: the plan is then
// coarser.
func Plan(ctx context.Context, st storage.Store, o Options) ([]migration.Shard, Stats, error) {
	p := newPlanner(st, o.Prefix, o.PageSize, o.Target)
	p.deadline = time.Now().Add(cmp.Or(o.Time, ProbeTime))
	p.tries, p.backoff, p.tick = cmp.Or(o.Tries, 3), cmp.Or(o.Backoff, 200*time.Millisecond), o.Tick
	shards, err := p.plan(ctx)
	return shards, Stats{Probes: p.probes, KeysSeen: p.known}, err
}

// ProbeTime bounds the probing by default: each probe waits for
// the store, and against a far-away one (a second a request) the trie
// descent took 37 s for 20,000 keys, all of it before the first copy.
// Windowed shards list ahead and copy many pages at once, so a coarser plan
// costs little speed; the deadline keeps the segments found so far.
const ProbeTime = 4 * time.Second

// Planner tuning.
const (
	// Each known range keeps this many evenly spaced keys, so that it can be
	// cut into smaller shards without listing it again.
	planSamples = 32
	// Probe budget: enough for deep trees and wide fan-outs, small next to
	// the listing of any bucket big enough to need it.
	planBaseProbes   = 2000
	planProbesPerShd = 4
	planMaxProbes    = 50000
	// Big segments keep their first page for their expansion, up to this
	// many keys in all.
	planCachedKeys = 100000
	// planParallel bounds the segments listed at once.
	planParallel = 16
)

type segState int

const (
	segUnlisted segState = iota // not listed since it was found
	segKnown                    // all its keys fit one page: count exact
	segBig                      // its first page was truncated
)

// segment is a range of the key space: the keys k with after < k <= the
// next segment's after (the last segment is unbounded). Bounds are always
// real strings (keys or prefixes of keys), never JustBefore-style strings
// with 0xFF bytes: shard bounds travel as JSON, which would replace such
// bytes.
type segment struct {
	after string
	// q is what the segment's keys start with, apart from its last key
	// when that key is the prefix the next segment is split at.
	q       string
	state   segState
	count   int
	samples []keyPos // known: ascending
	page    []string // big: its first page, when kept
	// frac estimates, for a segment not known, its share of the key space:
	// an expansion splits its share evenly among the children it could
	// not count.
	frac float64
}

// keyPos is a key and how many keys of its segment are <= it.
type keyPos struct {
	key string
	pos int
}

// planner splits the key space under a prefix into about target shards by
// descending the key trie with cheap listings: a range whose first page is
// truncated is split at the distinct next characters of its keys, found
// one listing each (the first key after everything that starts with the
// previous one).
type planner struct {
	st       storage.Store
	prefix   string
	pageSize int
	target   int
	budget   int
	probes   int
	known    int // keys counted in known segments
	cached   int // keys of the first pages kept for big segments
	tick     func(probes int)
	tries    int
	backoff  time.Duration
	segs     []*segment
	// deadline, when set, ends the probing as the budget does.
	deadline time.Time
	// mu guards probes, cached, known and tick while segments are listed
	// at once.
	mu sync.Mutex
}

var errBudget = errors.New("probe budget exhausted")

func newPlanner(st storage.Store, prefix string, pageSize, target int) *planner {
	return &planner{
		st: st, prefix: prefix, pageSize: max(pageSize, 2), target: max(target, 1),
		budget: min(planBaseProbes+planProbesPerShd*target, planMaxProbes),
	}
}

func (p *planner) list(ctx context.Context, opts storage.ListOptions) (storage.Page, error) {
	if err := ctx.Err(); err != nil {
		return storage.Page{}, err
	}
	p.mu.Lock()
	if p.probes >= p.budget || (p.probes > 0 && !p.deadline.IsZero() && time.Now().After(p.deadline)) {
		p.mu.Unlock()
		return storage.Page{}, errBudget
	}
	p.probes++
	if p.tick != nil {
		p.tick(p.probes)
	}
	p.mu.Unlock()
	return storage.Retry(ctx, p.tries, p.backoff, func() (storage.Page, error) { return p.st.List(ctx, opts) })
}

// first returns the first key under prefix after after and below before.
func (p *planner) first(ctx context.Context, prefix, after, before string) (string, bool, error) {
	page, err := p.list(ctx, storage.ListOptions{Prefix: prefix, After: after, Before: before, MaxKeys: 1})
	if err != nil || len(page.Objects) == 0 {
		return "", false, err
	}
	return page.Objects[0].Key, true, nil
}

// before is the exclusive listing bound of segment i.
func (p *planner) before(i int) string {
	if i+1 < len(p.segs) {
		return storage.JustAfter(p.segs[i+1].after)
	}
	return ""
}

func (p *planner) plan(ctx context.Context) ([]migration.Shard, error) {
	p.segs = []*segment{{q: p.prefix, frac: 1}}
	err := p.expandAll(ctx)
	if err != nil && !errors.Is(err, errBudget) {
		return nil, err
	}
	return p.shards(), nil
}

// expandAll lists every new segment, then splits the biggest big one (by
// its estimated share), until none is left, or there are target big ones
// of which none is more than twice the average, or the budget is spent.
func (p *planner) expandAll(ctx context.Context) error {
	for {
		// The new segments are listed at once: against a far-away store
		// each listing is a round trip, and they are independent.
		var unlisted []int
		for i, s := range p.segs {
			if s.state == segUnlisted {
				unlisted = append(unlisted, i)
			}
		}
		if err := pool.Each(ctx, planParallel, unlisted, p.listSeg); err != nil {
			return err
		}
		pick, big, sum := -1, 0, 0.0
		for i, s := range p.segs {
			if s.state != segBig {
				continue
			}
			big++
			sum += s.frac
			if pick < 0 || s.frac > p.segs[pick].frac || (s.frac == p.segs[pick].frac && len(s.q) < len(p.segs[pick].q)) {
				pick = i
			}
		}
		if big == 0 || (big >= p.target && p.segs[pick].frac <= 2*sum/float64(big)) {
			return nil
		}
		if err := p.expand(ctx, pick); err != nil {
			return err
		}
	}
}

// listSeg lists the first page of segment i: it is known when that page
// holds all its keys, big otherwise.
func (p *planner) listSeg(ctx context.Context, i int) error {
	s := p.segs[i]
	page, err := p.list(ctx, storage.ListOptions{Prefix: s.q, After: s.after, Before: p.before(i), MaxKeys: p.pageSize})
	if err != nil {
		return err
	}
	keys := pageKeys(page)
	p.mu.Lock()
	defer p.mu.Unlock()
	if page.Done {
		p.setKnown(s, keys)
		return nil
	}
	s.state = segBig
	if p.cached+len(keys) <= planCachedKeys {
		s.page = keys
		p.cached += len(keys)
	}
	return nil
}

func (p *planner) setKnown(s *segment, keys []string) {
	s.state, s.count = segKnown, len(keys)
	p.known += len(keys)
	n := min(len(keys), planSamples)
	s.samples = s.samples[:0]
	for j := 1; j < n; j++ {
		idx := j*len(keys)/n - 1
		s.samples = append(s.samples, keyPos{keys[idx], idx + 1})
	}
}

// expand splits big segment i at the distinct characters that follow the
// longest prefix its keys share.
func (p *planner) expand(ctx context.Context, i int) error {
	s := p.segs[i]
	before := p.before(i)
	keys, err := p.firstPage(ctx, s, before)
	if err != nil || s.state == segKnown {
		return err
	}
	q, err := p.descend(ctx, s.q, keys, before)
	if err != nil {
		return err
	}
	children, exhausted, err := p.enumerate(ctx, s, q, keys, before)
	if err != nil {
		return err
	}
	if len(children) == 0 {
		// Nothing below q but q itself: cannot be big; list it again.
		s.state = segUnlisted
		return nil
	}
	closeChildren(children, q)
	segs := p.childSegments(s, q, children, exhausted)
	p.segs = append(p.segs[:i], append(segs, p.segs[i+1:]...)...)
	if exhausted {
		return errBudget
	}
	return nil
}

// firstPage is the first page of big segment s: the one kept when it was
// listed, or a new listing. A segment that shrank since it was listed to
// a page or less becomes known.
func (p *planner) firstPage(ctx context.Context, s *segment, before string) ([]string, error) {
	keys := s.page
	p.cached -= len(s.page)
	s.page = nil
	if keys != nil {
		return keys, nil
	}
	page, err := p.list(ctx, storage.ListOptions{Prefix: s.q, After: s.after, Before: before, MaxKeys: p.pageSize})
	if err != nil {
		return nil, err
	}
	keys = pageKeys(page)
	if page.Done {
		p.setKnown(s, keys)
	}
	return keys, nil
}

// descend lengthens q while every key shares a longer prefix: a page of
// "file-0000001".."file-0000100" suggests "file-0000"; one listing after
// everything under the suggestion either confirms it or shows a key that
// shortens it.
func (p *planner) descend(ctx context.Context, q string, keys []string, before string) (string, error) {
	var extra []string // keys found beyond the page, ascending
	for {
		lcp, ok := commonPrefix(q, keys, extra)
		if !ok || len(lcp) <= len(q) {
			return q, nil
		}
		k, found, err := p.first(ctx, q, lcp+"\xff", before)
		if err != nil {
			return "", err
		}
		if !found {
			q = lcp
			extra = under(extra, q)
			continue
		}
		extra = append(extra, k)
	}
}

// enumerate finds the distinct next characters after q, page by page: the
// listing goes on from the last key seen, so characters with few keys are
// counted exactly, and jumps over everything that begins with a character
// once a page of its keys has been seen (a big child, listed no further).
// A listing is spent per page of small children or per big one, never per
// key. exhausted tells that the budget ended the enumeration.
func (p *planner) enumerate(ctx context.Context, s *segment, q string, keys []string, before string) ([]child, bool, error) {
	var children []child
	addPage(&children, q, keys, true)
	after := s.after
	for _, k := range keys {
		if strings.HasPrefix(k, q) && k > after {
			after = k
		}
	}
	for len(children) > 0 {
		last := &children[len(children)-1]
		if !last.open {
			break
		}
		if len(last.keys) >= p.pageSize {
			last.big = true
			after = q + last.c + "\xff"
		}
		page, err := p.list(ctx, storage.ListOptions{Prefix: q, After: after, Before: before, MaxKeys: p.pageSize})
		if errors.Is(err, errBudget) {
			return children, true, nil
		}
		if err != nil {
			return nil, false, err
		}
		ks := pageKeys(page)
		addPage(&children, q, ks, !page.Done)
		if page.Done {
			break
		}
		after = ks[len(ks)-1]
	}
	return children, false, nil
}

// addPage sorts a page of keys under q into children by their next
// character; truncated tells that more keys follow the page.
func addPage(children *[]child, q string, ks []string, truncated bool) {
	cs := *children
	from := max(len(cs)-1, 0) // the last child may go on
	var lead []string         // keys that are q or shorter sort first
	for _, k := range ks {
		if len(k) <= len(q) || !strings.HasPrefix(k, q) {
			lead = append(lead, k)
			continue
		}
		c := nextChar(k, len(q))
		if n := len(cs); n > 0 && cs[n-1].c == c && !cs[n-1].big {
			cs[n-1].keys = append(cs[n-1].keys, k)
			continue
		}
		cs = append(cs, child{c: c, keys: append(lead, k)})
		lead = nil
	}
	for j := from; j < len(cs); j++ {
		cs[j].open = cs[j].big || (truncated && j == len(cs)-1)
	}
	*children = cs
}

// closeChildren moves the key q+c_j, when it exists, to child j-1: child j
// holds the keys after q+c_j up to q+c_(j+1) included, and the first child
// everything from the segment's start.
func closeChildren(children []child, q string) {
	for j := len(children) - 1; j > 0; j-- {
		if ch := &children[j]; len(ch.keys) > 0 && ch.keys[0] == q+ch.c {
			prev := &children[j-1]
			prev.keys = append(prev.keys, ch.keys[0])
			ch.keys = ch.keys[1:]
		}
	}
}

// childSegments makes the segments that replace s: known children are
// counted, big ones keep their first page, and the uncounted share s's
// estimated share evenly.
func (p *planner) childSegments(s *segment, q string, children []child, exhausted bool) []*segment {
	unknown := 0
	for j, ch := range children {
		if ch.big || ch.open || (exhausted && j == len(children)-1) {
			unknown++
		}
	}
	segs := make([]*segment, 0, len(children))
	for j, ch := range children {
		ns := &segment{after: q + ch.c, q: q + ch.c, frac: s.frac / float64(max(unknown, 1))}
		if j == 0 {
			ns.after = s.after
		}
		switch {
		case exhausted && j == len(children)-1:
		case ch.big:
			ns.state = segBig
			p.keepFirstPage(ns, ch.keys)
		case !ch.open:
			p.setKnown(ns, ch.keys)
		}
		segs = append(segs, ns)
	}
	if exhausted {
		// The characters after the last one found were never enumerated:
		// the last child spans them all.
		segs[len(segs)-1].q = q
	}
	return segs
}

// keepFirstPage keeps, within the cache's bound, the first page of big
// segment ns: its own keys, not the key that closes it.
func (p *planner) keepFirstPage(ns *segment, keys []string) {
	var first []string
	for _, k := range keys {
		if strings.HasPrefix(k, ns.q) && len(first) < p.pageSize {
			first = append(first, k)
		}
	}
	if p.cached+len(first) <= planCachedKeys {
		ns.page = first
		p.cached += len(first)
	}
}

// pageKeys is the keys of a listed page.
func pageKeys(page storage.Page) []string {
	keys := make([]string, len(page.Objects))
	for j, o := range page.Objects {
		keys[j] = o.Key
	}
	return keys
}

// child is the keys of a segment that share their next character.
type child struct {
	c    string
	keys []string // all of them unless open
	open bool     // more keys than were seen may follow
	big  bool     // more than a page of keys: skipped over
}

// commonPrefix is the longest prefix, cut at a character boundary, of the
// keys strictly below q in keys and extra; ok is false when there are none.
func commonPrefix(q string, keys, extra []string) (string, bool) {
	var lo, hi string
	found := false
	for _, set := range [][]string{keys, extra} {
		for _, k := range set {
			if len(k) <= len(q) || !strings.HasPrefix(k, q) {
				continue
			}
			if !found || k < lo {
				lo = k
			}
			if !found || k > hi {
				hi = k
			}
			found = true
		}
	}
	if !found {
		return "", false
	}
	n := 0
	for n < len(lo) && n < len(hi) && lo[n] == hi[n] {
		n++
	}
	// Cut back to a whole character.
	end := len(q)
	for end < n {
		_, size := utf8.DecodeRuneInString(lo[end:])
		if end+size > n {
			break
		}
		end += size
	}
	return lo[:end], true
}

// nextChar is the character of k at byte offset i, as a string; an
// invalid byte is returned alone.
func nextChar(k string, i int) string {
	_, size := utf8.DecodeRuneInString(k[i:])
	return k[i : i+size]
}

func under(keys []string, q string) []string {
	out := keys[:0]
	for _, k := range keys {
		if strings.HasPrefix(k, q) {
			out = append(out, k)
		}
	}
	return out
}

// piece is a run of keys that becomes part of a shard.
type piece struct {
	after  string
	weight int
	big    bool    // size unknown but more than a page
	frac   float64 // big: estimated share of the key space
}

// shards turns the segments into about target shards: known segments are
// cut (at their sample keys) or packed to a common size; big ones stay
// whole; shards far below that size join a neighbour.
func (p *planner) shards() []migration.Shard {
	pieces, size := p.pieces()
	out := pack(pieces, size)
	out = joinTiny(out, size)
	out = mergeDown(out, p.target)
	return biggestFirst(out)
}

// pieces cuts the segments into pieces of about the shard size, which it
// returns too.
func (p *planner) pieces() ([]piece, int) {
	known, open := 0, 0
	sumFrac := 0.0
	for _, s := range p.segs {
		if s.state == segKnown {
			known += s.count
		} else {
			open++
			sumFrac += s.frac
		}
	}
	// A range not counted holds at least a page of keys; ranges of larger
	// estimated shares weigh proportionally more. A shard is never planned
	// smaller than a page: every shard costs a child workflow, its first
	// page and its reports to the job, which for a page-sized shard cost
	// more than copying it (5,000 small objects took 10 s in 50 shards and
	// 2 s in 5).
	minShard := max(1, p.pageSize)
	size := max(minShard, int(math.Ceil(float64(known+open*p.pageSize)/float64(p.target))))
	bigWeight := func(frac float64) int {
		if sumFrac <= 0 {
			return p.pageSize
		}
		return max(1, int(math.Round(float64(p.pageSize)*frac*float64(open)/sumFrac)))
	}

	var pieces []piece
	acc := 0.0 // shards owed so far, so that rounding errors do not add up
	for _, s := range p.segs {
		if s.state != segKnown {
			pieces = append(pieces, piece{after: s.after, weight: bigWeight(s.frac), big: true, frac: s.frac})
			continue
		}
		ideal := float64(s.count) / float64(size)
		m := max(1, int(math.Round(acc+ideal)-math.Round(acc)))
		acc += ideal
		pieces = append(pieces, cutKnown(s, m)...)
	}
	return pieces, size
}

// cutKnown cuts known segment s into m pieces at the sample keys nearest
// to even cuts.
func cutKnown(s *segment, m int) []piece {
	var pieces []piece
	start, startPos := s.after, 0
	for j := 1; j < m; j++ {
		want := j * s.count / m
		best := -1
		for k, sp := range s.samples {
			if sp.pos > startPos && (best < 0 || abs(sp.pos-want) < abs(s.samples[best].pos-want)) {
				best = k
			}
		}
		if best < 0 {
			break
		}
		sp := s.samples[best]
		pieces = append(pieces, piece{after: start, weight: sp.pos - startPos})
		start, startPos = sp.key, sp.pos
	}
	return append(pieces, piece{after: start, weight: s.count - startPos})
}

// pack packs consecutive known pieces up to size. A bound that does not
// increase would break the partition: its piece joins the previous one (a
// safety net; expansions only produce increasing bounds).
func pack(pieces []piece, size int) []piece {
	var out []piece
	for _, pc := range pieces {
		if n := len(out); n > 0 && pc.after <= out[n-1].after {
			out[n-1].weight += pc.weight
			out[n-1].frac += pc.frac
			out[n-1].big = out[n-1].big || pc.big
			continue
		}
		if n := len(out); n > 0 && !out[n-1].big && !pc.big && out[n-1].weight+pc.weight <= size {
			out[n-1].weight += pc.weight
			continue
		}
		out = append(out, pc)
	}
	return out
}

// joinTiny joins pieces under half the size to their smaller neighbour.
func joinTiny(out []piece, size int) []piece {
	for i := 0; i < len(out) && len(out) > 1; {
		if out[i].big || out[i].weight*2 >= size {
			i++
			continue
		}
		into := i - 1
		if i == 0 || (i+1 < len(out) && out[i+1].weight < out[i-1].weight) {
			into = i + 1
		}
		if into > i {
			out[into].after = out[i].after
		}
		out[into].weight += out[i].weight
		out = append(out[:i], out[i+1:]...)
		if into < i {
			i = into
		}
	}
	return out
}

// mergeDown merges the lightest neighbours down to target pieces:
// expansions of wide nodes can yield more big ranges than asked for.
func mergeDown(out []piece, target int) []piece {
	for len(out) > target && len(out) > 1 {
		best := 0
		for i := 1; i+1 < len(out); i++ {
			if out[i].weight+out[i+1].weight < out[best].weight+out[best+1].weight {
				best = i
			}
		}
		out[best].weight += out[best+1].weight
		out[best].frac += out[best+1].frac
		out[best].big = out[best].big || out[best+1].big
		out = append(out[:best+1], out[best+2:]...)
	}
	return out
}

// biggestFirst makes the pieces shards, ordered biggest first: the job
// starts shards in plan order, a shard's pages run one after another, and
// a big shard started last would copy alone at the end. (20,000 small
// objects in 22 shards of one or two pages ended 0.3 s after the others in
// key order.)
func biggestFirst(out []piece) []migration.Shard {
	shards := make([]migration.Shard, len(out))
	for i, pc := range out {
		shards[i] = migration.Shard{Index: i, After: pc.after}
		if i+1 < len(out) {
			shards[i].Before = storage.JustAfter(out[i+1].after)
		}
	}
	shards[0].After = ""
	order := make([]int, len(out))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(out[b].weight, out[a].weight) })
	sorted := make([]migration.Shard, len(shards))
	for i, k := range order {
		sorted[i] = shards[k]
		sorted[i].Index = i
	}
	return sorted
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
