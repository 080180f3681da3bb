package activities

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"golang.org/x/sync/errgroup"

	"github.com/bucketferry/bucketferry/migration"
	"github.com/bucketferry/bucketferry/storage"
)

// Plan checks that every store of the job is usable with the workers'
// credentials and splits the job into shards: key ranges of the source
// found by probing (never by listing the whole bucket), or byte ranges of
// the manifest. A store that is out stalls the job until it answers
// (outage.go); Temporal tries the plan again meanwhile.
func (a *Activities) Plan(ctx context.Context, in migration.PlanInput) (migration.PlanResult, error) {
	res, err := a.plan(ctx, in)
	src, serr := a.resolve(role{"source", in.Spec.Source.Store})
	dst, derr := a.resolve(role{"destination", in.Spec.Destination.Store})
	if serr == nil && derr == nil {
		a.observeListing(ctx, in.JobID, names(src, role{"source", in.Spec.Source.Store}, dst, role{"destination", in.Spec.Destination.Store}), err)
	}
	return res, err
}

func (a *Activities) plan(ctx context.Context, in migration.PlanInput) (migration.PlanResult, error) {
	spec, err := prepare(in.Spec, in.JobID)
	if err != nil {
		return migration.PlanResult{}, err
	}
	ctx, release := a.throttle(ctx, in.JobID, spec.Limits)
	defer release()
	log := a.logger().With("job", in.JobID)
	srcRole := role{"source", spec.Source.Store}
	dstRole := role{"destination", spec.Destination.Store}
	src, err := a.resolve(srcRole)
	if err != nil {
		return migration.PlanResult{}, err
	}
	dst, err := a.resolve(dstRole)
	if err != nil {
		return migration.PlanResult{}, err
	}
	if storage.IsReadOnly(dst) {
		return migration.PlanResult{}, fatal(fmt.Sprintf("%s (%s) cannot be used: it is read-only (a URL list can only be a source); "+
			"name an oss, cos, s3 or local store as the destination", dstRole, dst.Name()), nil)
	}
	manifest := spec.Filters.Manifest
	// A source that may not be listed only matters when it must be.
	if err := checkStore(ctx, log, srcRole, src, spec.Source.Prefix, manifest == nil); err != nil {
		return migration.PlanResult{}, err
	}
	// The destination (and the failure log's store) are probed while the
	// source is planned: against a far-away store each probe is a round
	// trip before the first copy. A fatal answer still stops the job, and
	// the planning with it, before any shard starts.
	checks, cctx := errgroup.WithContext(ctx)
		checks.Go(func() error { return checkStore(cctx, log, dstRole, dst, spec.Destination.Prefix, spec.Conflict.ReadsDestination()) })
	if fl := *spec.FailureLog; fl.Store != spec.Destination.Store {
		r := role{"failure log", fl.Store}
		st, err := a.resolve(r)
		if err != nil {
			return migration.PlanResult{}, err
		}
		checks.Go(func() error { return checkStore(cctx, log, r, st, fl.Prefix, false) })
	}
	shards, err := a.planShards(cctx, log, spec, srcRole, src)
	if cerr := checks.Wait(); cerr != nil {
		return migration.PlanResult{}, cerr
	}
	if err != nil {
		return migration.PlanResult{}, err
	}
	if fit := migration.FitPlan(shards, migration.MaxPlanBytes); len(fit) != len(shards) {
		// Long keys: the plan must stay one Temporal payload.
		log.Warn("plan merged to fit a Temporal payload", "shards", len(shards), "merged", len(fit))
		shards = fit
	}
	return migration.PlanResult{Shards: shards, Fleet: a.fleet(ctx)}, nil
}

// planShards cuts the source's key space (or the manifest) into shards.
func (a *Activities) planShards(ctx context.Context, log *slog.Logger, spec migration.JobSpec, srcRole role, src storage.Store) ([]migration.Shard, error) {
	manifest := spec.Filters.Manifest
	var shards []migration.Shard
	if manifest != nil {
		r := role{"manifest", manifest.Store}
		mst, err := a.resolve(r)
		if err != nil {
			return nil, err
		}
		if manifest.Format == migration.ManifestFailures {
			shards, err = planFailureManifest(ctx, r, mst, manifest.Prefix, spec.Shards)
		} else {
			shards, err = planManifest(ctx, r, mst, manifest.Key, spec.PageSize, spec.Shards)
		}
		if err != nil {
			return nil, err
		}
		log.Info("planned manifest shards", "manifest", mst.Name()+"/"+manifest.Key+manifest.Prefix, "shards", len(shards))
	} else {
		p := newPlanner(src, spec.Source.Prefix, spec.PageSize, spec.Shards)
		p.tick = func() { heartbeat(ctx, p.probes) }
		p.deadline = time.Now().Add(planTime)
		var err error
		shards, err = p.plan(ctx)
		if err != nil {
			if storage.IsRetryable(err) || ctx.Err() != nil {
				return nil, fmt.Errorf("plan: %w", err)
			}
			return nil, storeFatal(srcRole, src, err)
		}
		log.Info("planned shards", "source", src.Name(), "prefix", spec.Source.Prefix, "shards", len(shards),
			"probes", p.probes, "keysSeen", p.known)
	}
	return shards, nil
}

// checkStore probes a store. Bad credentials and missing buckets stop the
// job; a store that may not be listed stops it only when listing is
// needed; transient errors are returned for the activity to be retried.
func checkStore(ctx context.Context, log *slog.Logger, r role, st storage.Store, prefix string, mustList bool) error {
	err := probeStore(ctx, st, prefix)
	switch {
	case err == nil:
		return nil
	case storage.IsRetryable(err) || ctx.Err() != nil:
		return fmt.Errorf("probe %s: %w", r, err)
	case storage.KindOf(err) == storage.KindForbidden && !mustList:
		log.Warn("store may not be listed; going on since this job does not list it", "store", st.Name(), "error", err)
		return nil
	}
	return storeFatal(r, st, err)
}

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
	// planTime bounds the probing in time as well: each probe waits for
	// the store, and against a far-away one (a second a request) the
	// trie descent took 37 s for 20,000 keys, all of it before the first
	// copy. Windowed shards list ahead and copy many pages at once, so a
	// coarser plan costs little speed; the budget's end keeps the
	// segments found so far.
	planTime = 4 * time.Second
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
	tick     func()
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
		p.tick()
	}
	p.mu.Unlock()
	return list(ctx, p.st, opts)
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
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(planParallel)
		for i := 0; i < len(p.segs); i++ {
			if p.segs[i].state == segUnlisted {
				g.Go(func() error { return p.listSeg(gctx, i) })
			}
		}
		if err := g.Wait(); err != nil {
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
	keys := make([]string, len(page.Objects))
	for j, o := range page.Objects {
		keys[j] = o.Key
	}
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
	keys := s.page
	p.cached -= len(s.page)
	s.page = nil
	if keys == nil {
		page, err := p.list(ctx, storage.ListOptions{Prefix: s.q, After: s.after, Before: before, MaxKeys: p.pageSize})
		if err != nil {
			return err
		}
		keys = make([]string, len(page.Objects))
		for j, o := range page.Objects {
			keys[j] = o.Key
		}
		if page.Done { // shrank since it was listed
			p.setKnown(s, keys)
			return nil
		}
	}

	// Descend while every key shares a longer prefix: a page of
	// "file-0000001".."file-0000100" suggests "file-0000"; one listing after
	// everything under the suggestion either confirms it or shows a key
	// that shortens it.
	q := s.q
	var extra []string // keys found beyond the page, ascending
	for {
		lcp, ok := commonPrefix(q, keys, extra)
		if !ok || len(lcp) <= len(q) {
			break
		}
		k, found, err := p.first(ctx, q, lcp+"\xff", before)
		if err != nil {
			return err
		}
		if !found {
			q = lcp
			extra = under(extra, q)
			continue
		}
		extra = append(extra, k)
	}

	// The distinct next characters, page by page: the listing goes on
	// from the last key seen, so characters with few keys are counted
	// exactly, and jumps over everything that begins with a character once
	// a page of its keys has been seen (a big child, listed no further).
	// A listing is spent per page of small children or per big
	// one, never per key.
	var children []child
	addPage := func(ks []string, truncated bool) {
		from := max(len(children)-1, 0) // the last child may go on
		var lead []string               // keys that are q or shorter sort first
		for _, k := range ks {
			if len(k) <= len(q) || !strings.HasPrefix(k, q) {
				lead = append(lead, k)
				continue
			}
			c := nextChar(k, len(q))
			if n := len(children); n > 0 && children[n-1].c == c && !children[n-1].big {
				children[n-1].keys = append(children[n-1].keys, k)
				continue
			}
			children = append(children, child{c: c, keys: append(lead, k)})
			lead = nil
		}
		for j := from; j < len(children); j++ {
			children[j].open = children[j].big || (truncated && j == len(children)-1)
		}
	}
	addPage(keys, true)
	after := s.after
	for _, k := range keys {
		if strings.HasPrefix(k, q) && k > after {
			after = k
		}
	}
	exhausted := false
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
			exhausted = true
			break
		}
		if err != nil {
			return err
		}
		ks := make([]string, len(page.Objects))
		for j, o := range page.Objects {
			ks[j] = o.Key
		}
		addPage(ks, !page.Done)
		if page.Done {
			break
		}
		after = ks[len(ks)-1]
	}
	if len(children) == 0 {
		// Nothing below q but q itself: cannot be big; list it again.
		s.state = segUnlisted
		return nil
	}

	// Child j holds the keys after q+c_j up to q+c_(j+1) included: the key
	// q+c_j itself, when it exists, closes child j-1. The first child
	// holds everything from the segment's start.
	for j := len(children) - 1; j > 0; j-- {
		if ch := &children[j]; len(ch.keys) > 0 && ch.keys[0] == q+ch.c {
			prev := &children[j-1]
			prev.keys = append(prev.keys, ch.keys[0])
			ch.keys = ch.keys[1:]
		}
	}
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
			// Its first page: its own keys, not the key that closes it.
			var first []string
			for _, k := range ch.keys {
				if strings.HasPrefix(k, ns.q) && len(first) < p.pageSize {
					first = append(first, k)
				}
			}
			if p.cached+len(first) <= planCachedKeys {
				ns.page = first
				p.cached += len(first)
			}
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
	p.segs = append(p.segs[:i], append(segs, p.segs[i+1:]...)...)
	if exhausted {
		return errBudget
	}
	return nil
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
	known, open := 0, 0
	for _, s := range p.segs {
		if s.state == segKnown {
			known += s.count
		} else {
			open++
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
	sumFrac := 0.0
	for _, s := range p.segs {
		if s.state != segKnown {
			sumFrac += s.frac
		}
	}
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
		pieces = append(pieces, piece{after: start, weight: s.count - startPos})
	}

	// Pack consecutive known pieces up to size. A bound that does not
	// increase would break the partition: its piece joins the previous one
	// (a safety net; expansions only produce increasing bounds).
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
	// Tiny shards join their smaller neighbour.
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
	// Expansions of wide nodes can yield more big ranges than asked for:
	// merge the lightest neighbours down to the target.
	for len(out) > p.target && len(out) > 1 {
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

	shards := make([]migration.Shard, len(out))
	for i, pc := range out {
		shards[i] = migration.Shard{Index: i, After: pc.after}
		if i+1 < len(out) {
			shards[i].Before = storage.JustAfter(out[i+1].after)
		}
	}
	shards[0].After = ""
	// Biggest first: the job starts shards in plan order, a shard's pages
	// run one after another, and a big shard started last would copy alone
	// at the end. (20,000 small objects in 22 shards of one or two pages
	// ended 0.3 s after the others in key order.)
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
