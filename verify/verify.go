// Package verify compares a job's scope at its source and destination
// without copying anything: it merges the two sorted listings page by page
// (memory stays bounded by a page, however big the buckets) and reports each
// key as equal, missing at the destination, differing (size or a checksum),
// extra at the destination, or unverifiable (no checksum of one family known
// on both sides; Deep then reads a body). Stores report different families
// (CRC64 for OSS, COS and local stores; MD5 or full-object checksums for S3
// and URL lists): a pair is compared in a family both report.
package verify

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/bucketferry/bucketferry/internal/pool"
	"github.com/bucketferry/bucketferry/storage"
)

// Kind is what verification found for one key.
type Kind int

// Kinds of result.
const (
	// Equal: same size and same CRC64 on both sides.
	Equal Kind = iota
	// Missing: at the source only.
	Missing
	// Differing: at both, but sizes or CRC64s differ.
	Differing
	// Extra: at the destination only.
	Extra
	// Unverifiable: same size, but a CRC64 is unknown on one side (or the
	// object could not be read), so equality is not proven. -deep (Options.Deep)
	// hashes the bodies instead.
	Unverifiable
)

var kindNames = [...]string{Equal: "equal", Missing: "missing", Differing: "differing", Extra: "extra", Unverifiable: "unverifiable"}

func (k Kind) String() string {
	if k >= 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// MarshalText writes the kind's name, so that JSON output reads "missing".
func (k Kind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// UnmarshalText reads a kind's name.
func (k *Kind) UnmarshalText(b []byte) error {
	for i, n := range kindNames {
		if n == string(b) {
			*k = Kind(i)
			return nil
		}
	}
	return fmt.Errorf("unknown verify kind %q", b)
}

// ErrOptions is wrapped by the errors of Run and Count for unusable options.
var ErrOptions = errors.New("verify: invalid options")

// Options selects what to compare.
type Options struct {
	Source, Destination storage.Store
	// SourcePrefix maps to DestPrefix as a copy maps keys: the destination
	// key of source key SourcePrefix+r is DestPrefix+r.
	SourcePrefix, DestPrefix string
	// Match, when set, keeps only the source keys it accepts (a job's
	// migration.Filters.Matcher); a destination key is in scope when the
	// source key it maps back to is.
	Match func(sourceKey string) bool
	// IgnoreDest lists destination key prefixes that are never extra: the
	// job's own failure log, for instance.
	IgnoreDest []string
	// Deep reads and hashes the bodies of objects whose stores report no
	// checksum of one family (an S3 multipart object and its COS copy),
	// instead of reporting them unverifiable.
	Deep bool
	// Workers is how many HEADs (or deep reads) run at once; default 16.
	Workers int
	// After and Before, when set, bound the source keys compared (exclusive
	// both, as migration.Shard's bounds are).
	After, Before string
	// PageSize is the listing page size; default 1,000.
	PageSize int
}

// Diff is one key that is not equal on both sides.
type Diff struct {
	// Key is the source key (for extra objects, the source key the
	// destination key maps back to).
	Key        string `json:"key"`
	Kind       Kind   `json:"kind"`
	DestKey    string `json:"destKey"`
	SourceSize int64  `json:"sourceSize"` // -1 when absent
	DestSize   int64  `json:"destSize"`   // -1 when absent
	Reason     string `json:"reason,omitempty"`
}

// Report counts the keys of each kind and the bytes of the scope.
type Report struct {
	Equal, Missing, Differing, Extra, Unverifiable int64
	// Source bytes of the missing, differing and unverifiable objects.
	MissingBytes, DifferingBytes, UnverifiableBytes int64
	// Objects and bytes in scope on each side.
	SourceObjects, SourceBytes int64
	DestObjects, DestBytes     int64
}

// Differences is how many keys are not proven equal.
func (r Report) Differences() int64 { return r.Missing + r.Differing + r.Extra + r.Unverifiable }

// Add adds o to r.
func (r *Report) Add(o Report) {
	r.Equal += o.Equal
	r.Missing += o.Missing
	r.Differing += o.Differing
	r.Extra += o.Extra
	r.Unverifiable += o.Unverifiable
	r.MissingBytes += o.MissingBytes
	r.DifferingBytes += o.DifferingBytes
	r.UnverifiableBytes += o.UnverifiableBytes
	r.SourceObjects += o.SourceObjects
	r.SourceBytes += o.SourceBytes
	r.DestObjects += o.DestObjects
	r.DestBytes += o.DestBytes
}

func (r *Report) count(d Diff) {
	switch d.Kind {
	case Equal:
		r.Equal++
	case Missing:
		r.Missing++
		r.MissingBytes += d.SourceSize
	case Differing:
		r.Differing++
		r.DifferingBytes += max(d.SourceSize, 0)
	case Extra:
		r.Extra++
	case Unverifiable:
		r.Unverifiable++
		r.UnverifiableBytes += max(d.SourceSize, 0)
	}
}

// String is a one-line summary.
func (r Report) String() string {
	return fmt.Sprintf("%d equal, %d missing, %d differing, %d extra, %d unverifiable; source %d objects (%d bytes), destination %d objects (%d bytes)",
		r.Equal, r.Missing, r.Differing, r.Extra, r.Unverifiable, r.SourceObjects, r.SourceBytes, r.DestObjects, r.DestBytes)
}

// Defaults.
const (
	DefaultWorkers  = 16
	DefaultPageSize = 1000
)

// Retries of one request that failed retryably.
const (
	tries   = 6
	backoff = 100 * time.Millisecond
)

func (o *Options) check(needDest bool) error {
	if o.Source == nil || (needDest && o.Destination == nil) {
		return fmt.Errorf("%w: source and destination stores are required", ErrOptions)
	}
	if o.Before != "" && o.After >= o.Before {
		return fmt.Errorf("%w: range after %q before %q is empty", ErrOptions, o.After, o.Before)
	}
	if o.Workers <= 0 {
		o.Workers = DefaultWorkers
	}
	if o.PageSize <= 0 {
		o.PageSize = DefaultPageSize
	}
	if o.Match == nil {
		o.Match = func(string) bool { return true }
	}
	return nil
}

// Count lists only the source scope and reports its objects and bytes (in
// SourceObjects and SourceBytes), for when no comparison is wanted.
func Count(ctx context.Context, o Options) (Report, error) {
	var rep Report
	if err := o.check(false); err != nil {
		return rep, err
	}
	it := newLister(o.Source, "source", o.SourcePrefix, o.After, o.Before, o.PageSize, o.Match)
	for {
		obj, ok, err := it.next(ctx)
		if err != nil {
			return rep, err
		}
		if !ok {
			return rep, nil
		}
		rep.SourceObjects++
		rep.SourceBytes += obj.Size
	}
}

// Run compares the scope and calls emit, in key order and from one
// goroutine, for every key that is not equal; emit may be nil. It stops at
// the first error: a listing that keeps failing, a store that refuses the
// credentials, a cancelled ctx or an error of emit. Objects that cannot be
// read for another reason are reported unverifiable, with the reason.
func Run(ctx context.Context, o Options, emit func(Diff) error) (Report, error) {
	var rep Report
	if err := o.check(true); err != nil {
		return rep, err
	}
	if emit == nil {
		emit = func(Diff) error { return nil }
	}
	dAfter, dBefore, empty := mapRange(o.SourcePrefix, o.DestPrefix, o.After, o.Before)
	if empty {
		return rep, nil
	}
	m := &merge{
		src: side{l: newLister(o.Source, "source", o.SourcePrefix, o.After, o.Before, o.PageSize, o.Match),
			prefix: o.SourcePrefix, objects: &rep.SourceObjects, bytes: &rep.SourceBytes},
		dst: side{l: newLister(o.Destination, "destination", o.DestPrefix, dAfter, dBefore, o.PageSize, o.keepDest),
			prefix: o.DestPrefix, objects: &rep.DestObjects, bytes: &rep.DestBytes},
	}
	c := &comparer{o: o}

	// A batch of merged keys is compared (HEADs in parallel), then emitted
	// in order: memory stays a batch plus a page of each listing.
	batch := make([]*pair, 0, o.PageSize)
	flush := func() error {
		if err := c.resolve(ctx, batch); err != nil {
			return err
		}
		for _, p := range batch {
			rep.count(p.diff)
			if p.diff.Kind != Equal {
				if err := emit(p.diff); err != nil {
					return fmt.Errorf("verify: %w", err)
				}
			}
		}
		batch = batch[:0]
		return nil
	}
	if err := m.start(ctx); err != nil {
		return rep, err
	}
	for {
		p, err := m.next(ctx)
		if err != nil {
			return rep, err
		}
		if p == nil {
			break
		}
		c.first(p)
		batch = append(batch, p)
		if len(batch) == cap(batch) {
			if err := flush(); err != nil {
				return rep, err
			}
		}
	}
	if err := flush(); err != nil {
		return rep, err
	}
	return rep, nil
}

// keepDest tells the destination keys the scope holds: the ones not
// ignored whose source keys the filters keep.
func (o Options) keepDest(k string) bool {
	for _, p := range o.IgnoreDest {
		if strings.HasPrefix(k, p) {
			return false
		}
	}
	return o.Match(o.SourcePrefix + strings.TrimPrefix(k, o.DestPrefix))
}

// merge walks the two sorted listings side by side, pairing the keys that
// are the same below their prefixes.
type merge struct {
	src, dst side
}

// side is one listing of a merge and the counts of what it listed.
type side struct {
	l              *lister
	prefix         string
	cur            storage.ObjectInfo // the next object, when ok
	ok             bool
	objects, bytes *int64
}

func (s *side) read(ctx context.Context) error {
	var err error
	s.cur, s.ok, err = s.l.next(ctx)
	return err
}

// take counts the current object and returns a copy of it (cur is reused
// by the next read), reading the next.
func (s *side) take(ctx context.Context) (*storage.ObjectInfo, error) {
	cp := s.cur
	*s.objects++
	*s.bytes += cp.Size
	return &cp, s.read(ctx)
}

func (s *side) rel() string { return strings.TrimPrefix(s.cur.Key, s.prefix) }

func (m *merge) start(ctx context.Context) error {
	if err := m.src.read(ctx); err != nil {
		return err
	}
	return m.dst.read(ctx)
}

// next returns the next pair, or nil once both listings are done.
func (m *merge) next(ctx context.Context) (*pair, error) {
	s, d := &m.src, &m.dst
	if !s.ok && !d.ok {
		return nil, nil
	}
	takeSrc := s.ok && (!d.ok || s.rel() <= d.rel())
	takeDst := d.ok && (!s.ok || d.rel() <= s.rel())
	p := &pair{}
	var err error
	if takeSrc {
		if p.src, err = s.take(ctx); err != nil {
			return nil, err
		}
	}
	if takeDst {
		if p.dst, err = d.take(ctx); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// mapRange maps the exclusive source bounds to destination bounds; empty
// reports that no key under the source prefix lies in the range.
func mapRange(sp, dp, after, before string) (dAfter, dBefore string, empty bool) {
	switch {
	case after == "" || after < sp:
		// Every key under sp is greater.
	case strings.HasPrefix(after, sp):
		dAfter = dp + after[len(sp):]
	default: // greater than every key under sp
		return "", "", true
	}
	switch {
	case before == "":
	case strings.HasPrefix(before, sp):
		rel := before[len(sp):]
		if rel == "" { // before is sp itself: every key under sp is >= it
			return "", "", true
		}
		dBefore = dp + rel
	case before < sp:
		return "", "", true
	}
	return dAfter, dBefore, false
}

// pair is one merged key: at the source, the destination or both.
type pair struct {
	src, dst *storage.ObjectInfo
	diff     Diff
	todo     bool // needs requests to decide
}

type comparer struct {
	o Options

	mu     sync.Mutex // guards probed
	probed map[storage.Store]error
}

// first decides what the listings alone can decide.
func (c *comparer) first(p *pair) {
	p.diff = Diff{SourceSize: -1, DestSize: -1}
	if p.src != nil {
		p.diff.Key = p.src.Key
		p.diff.DestKey = c.o.DestPrefix + strings.TrimPrefix(p.src.Key, c.o.SourcePrefix)
		p.diff.SourceSize = p.src.Size
	}
	if p.dst != nil {
		p.diff.DestKey = p.dst.Key
		p.diff.Key = c.o.SourcePrefix + strings.TrimPrefix(p.dst.Key, c.o.DestPrefix)
		p.diff.DestSize = p.dst.Size
	}
	switch {
	case p.dst == nil:
		p.diff.Kind = Missing
	case p.src == nil:
		p.diff.Kind = Extra
	default:
		p.diff.Kind, p.diff.Reason, p.todo = compare(*p.src, *p.dst)
	}
}

// compare decides from what is known of both objects: sizes, then a
// checksum of a family both report (CRC64 for OSS, COS and local stores,
// MD5 or a full-object checksum for S3 objects and URLs); todo reports
// that they share none.
func compare(s, d storage.ObjectInfo) (Kind, string, bool) {
	if s.Size != d.Size {
		return Differing, fmt.Sprintf("size %d at source, %d at destination", s.Size, d.Size), false
	}
	if alg, vs, vd, ok := storage.Common(s, d); ok {
		if vs != vd {
			return Differing, fmt.Sprintf("%s %s at source, %s at destination", alg, vs, vd), false
		}
		return Equal, "", false
	}
	return Unverifiable, unknownReason(s, d), true
}

func unknownReason(s, d storage.ObjectInfo) string {
	ss, ds := s.Sums(), d.Sums()
	switch {
	case len(ss) == 0 && len(ds) == 0:
		return "no checksum known at source or destination"
	case len(ss) == 0:
		return "no checksum known at source"
	case len(ds) == 0:
		return "no checksum known at destination"
	}
	return fmt.Sprintf("no checksum family known on both sides (source: %s; destination: %s)", families(ss), families(ds))
}

func families(sums []storage.Checksum) string {
	names := make([]string, len(sums))
	for i, c := range sums {
		names[i] = string(c.Alg)
	}
	return strings.Join(names, ", ")
}

// resolve makes the requests the pairs of a batch need, Workers at a time.
func (c *comparer) resolve(ctx context.Context, batch []*pair) error {
	var todo []*pair
	for _, p := range batch {
		if p.todo {
			todo = append(todo, p)
		}
	}
	return pool.Each(ctx, c.o.Workers, todo, c.check)
}

// check settles one pair of equal sizes that the listings did not: HEAD
// the source, then the destination, until both report a checksum of one
// family; then, with Deep, read a body and hash it in a family the other
// side reports (both in CRC64 when neither reports any). It returns an
// error only when the whole run must stop.
func (c *comparer) check(ctx context.Context, p *pair) error {
	s, d := *p.src, *p.dst
	if _, _, todo := compare(s, d); todo {
		h, err := retry(ctx, func() (storage.ObjectInfo, error) { return c.o.Source.Head(ctx, s.Key) })
		switch {
		case storage.IsNotFound(err):
			// Deleted since it was listed: only the destination has it now.
			p.diff.Kind, p.diff.SourceSize, p.diff.Reason = Extra, -1, "deleted at source while verifying"
			return nil
		case err != nil:
			return c.objectError(ctx, p, "source", err)
		}
		s = h
	}
	if _, _, todo := compare(s, d); todo && s.Size == d.Size {
		h, err := retry(ctx, func() (storage.ObjectInfo, error) { return c.o.Destination.Head(ctx, d.Key) })
		switch {
		case storage.IsNotFound(err):
			p.diff.Kind, p.diff.DestSize, p.diff.Reason = Missing, -1, "deleted at destination while verifying"
			return nil
		case err != nil:
			return c.objectError(ctx, p, "destination", err)
		}
		d = h
	}
	p.diff.SourceSize, p.diff.DestSize = s.Size, d.Size
	kind, reason, todo := compare(s, d)
	if !todo || !c.o.Deep {
		p.diff.Kind, p.diff.Reason = kind, reason
		return nil
	}
	// Deep: hash a body in a family the other side reports.
	type side struct {
		name string
		st   storage.Store
		info *storage.ObjectInfo
		alg  storage.Algorithm
	}
	var reads []side
	switch {
	case len(d.Sums()) > 0:
		reads = []side{{"source", c.o.Source, &s, d.Sums()[0].Alg}}
	case len(s.Sums()) > 0:
		reads = []side{{"destination", c.o.Destination, &d, s.Sums()[0].Alg}}
	default:
		reads = []side{{"source", c.o.Source, &s, storage.CRC64ECMA}, {"destination", c.o.Destination, &d, storage.CRC64ECMA}}
	}
	for _, r := range reads {
		sum, n, err := hashBody(ctx, r.st, r.info.Key, r.alg)
		if err != nil {
			return c.objectError(ctx, p, r.name, err)
		}
		r.info.Checksums = append(r.info.Checksums, sum)
		r.info.Size = n
	}
	p.diff.SourceSize, p.diff.DestSize = s.Size, d.Size
	p.diff.Kind, p.diff.Reason, _ = compare(s, d)
	return nil
}

// objectError records an object that could not be checked, or returns the
// error when it concerns more than the object: a fatal kind (bad
// credentials, missing bucket) that a listing of the store confirms. A HEAD
// denied for one object carries no error code and looks like bad
// credentials; the probe tells them apart.
func (c *comparer) objectError(ctx context.Context, p *pair, side string, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if storage.IsFatal(err) {
		st, prefix := c.o.Source, c.o.SourcePrefix
		if side == "destination" {
			st, prefix = c.o.Destination, c.o.DestPrefix
		}
		if perr := c.probe(ctx, st, prefix); perr != nil {
			return fmt.Errorf("verify %q at %s: %w", p.diff.Key, side, perr)
		}
	}
	p.diff.Kind = Unverifiable
	p.diff.Reason = fmt.Sprintf("%s: %v", side, err)
	return nil
}

// probe lists one key of a store (once per store and run): a fatal answer,
// or ctx's end, is returned.
func (c *comparer) probe(ctx context.Context, st storage.Store, prefix string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.probed == nil {
		c.probed = map[storage.Store]error{}
	}
	if err, ok := c.probed[st]; ok {
		return err
	}
	_, err := st.List(ctx, storage.ListOptions{Prefix: prefix, MaxKeys: 1})
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err != nil && !storage.IsFatal(err) {
		err = nil // proves nothing about the store
	}
	if err != nil {
		err = fmt.Errorf("store %s unusable: %w", st.Name(), err)
	}
	c.probed[st] = err
	return err
}

// hashBody reads an object and returns its checksum of a family and its
// length.
func hashBody(ctx context.Context, st storage.Store, key string, alg storage.Algorithm) (storage.Checksum, int64, error) {
	var (
		sum storage.Checksum
		n   int64
	)
	_, err := retry(ctx, func() (storage.ObjectInfo, error) {
		rc, info, err := st.Get(ctx, key, storage.Range{})
		if err != nil {
			return info, err
		}
		defer rc.Close()
		h, err := storage.NewHash(alg)
		if err != nil {
			return info, err
		}
		m, err := io.Copy(h, rc)
		if err != nil {
			return info, fmt.Errorf("read %s %q: %w", st.Name(), key, err)
		}
		sum, n = storage.Checksum{Alg: alg, Value: storage.HashValue(h)}, m
		return info, nil
	})
	return sum, n, err
}

// retry runs f until it succeeds, fails for good or tries run out.
func retry(ctx context.Context, f func() (storage.ObjectInfo, error)) (storage.ObjectInfo, error) {
	return storage.Retry(ctx, tries, backoff, f)
}

// lister walks one side's listing an object at a time, a page in memory.
type lister struct {
	st     storage.Store
	side   string
	opts   storage.ListOptions
	keep   func(string) bool
	page   []storage.ObjectInfo
	i      int
	done   bool
	before string
}

func newLister(st storage.Store, side, prefix, after, before string, pageSize int, keep func(string) bool) *lister {
	return &lister{st: st, side: side, keep: keep, before: before,
		opts: storage.ListOptions{Prefix: prefix, After: after, Before: before, MaxKeys: pageSize}}
}

func (l *lister) next(ctx context.Context) (storage.ObjectInfo, bool, error) {
	for {
		for l.i < len(l.page) {
			o := l.page[l.i]
			l.i++
			if l.before != "" && o.Key >= l.before {
				l.page, l.done = nil, true
				break
			}
			if l.keep(o.Key) {
				return o, true, nil
			}
		}
		if l.done {
			return storage.ObjectInfo{}, false, nil
		}
		var page storage.Page
		err := retryList(ctx, func() error {
			var err error
			page, err = l.st.List(ctx, l.opts)
			return err
		})
		if err != nil {
			return storage.ObjectInfo{}, false, fmt.Errorf("verify: list %s %s after %q: %w", l.side, l.st.Name(), l.opts.After, err)
		}
		l.page, l.i = page.Objects, 0
		next := page.Next
		if next == "" && len(page.Objects) > 0 {
			next = page.Objects[len(page.Objects)-1].Key
		}
		// A page that is neither done nor moves the cursor would loop.
		if page.Done || next == "" || next <= l.opts.After {
			l.done = true
		} else {
			l.opts.After = next
		}
	}
}

func retryList(ctx context.Context, f func() error) error {
	_, err := retry(ctx, func() (storage.ObjectInfo, error) { return storage.ObjectInfo{}, f() })
	return err
}
