package activities

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"go.temporal.io/sdk/activity"

	"github.com/bucketferry/bucketferry/internal/pool"
	"github.com/bucketferry/bucketferry/migration"
	"github.com/bucketferry/bucketferry/storage"
	"github.com/bucketferry/bucketferry/transfer"
)

// PageHeartbeat is what CopyPage heartbeats: enough for a retried attempt,
// which lists (or reads) the same page again, to skip what is done and to
// report every outcome exactly once. It stays small: done keys are a
// cursor plus the few done out of order, and failures are bounded.
type PageHeartbeat struct {
	// DoneThrough: every key of the listed page up to it is done.
	DoneThrough string `json:"doneThrough,omitempty"`
	// DoneBeyond: keys after DoneThrough that are done too.
	DoneBeyond []string `json:"doneBeyond,omitempty"`
	// DoneLines and DoneBeyondLines are the same for manifest pages, as
	// key indexes in the page: the first DoneLines keys are done.
	DoneLines       int   `json:"doneLines,omitempty"`
	DoneBeyondLines []int `json:"doneBeyondLines,omitempty"`
	// Counts of the done keys; BytesSent counts every attempt's uploads.
	Counts migration.Counts `json:"counts"`
	// Failures of done keys, for the failure log chunk that the attempt
	// completing the page writes.
	Failures []migration.Failure `json:"failures,omitempty"`
	// Large objects found among done manifest keys (a listed page finds its
	// large objects again in the listing).
	Large []migration.LargeObject `json:"large,omitempty"`
}

// Per-object retry inside one activity attempt, and heartbeat bounds.
const (
	objectTries           = 3
	objectBackoff         = 200 * time.Millisecond
	heartbeatFailureBytes = 256 << 10
)

type itemState int

const (
	itemTodo   itemState = iota // not done (possibly failed retryably: redo)
	itemDone                    // copied, skipped, large, filtered out
	itemFailed                  // failed for good: recorded
)

// item is one key of the page.
type item struct {
	key     string
	info    storage.ObjectInfo // from the listing (listed pages)
	state   itemState
	trivial bool // done without any request (filtered out, large in a listing)
	prior   bool // done by an earlier attempt: counted in its heartbeat
	counts  migration.Counts
	failure *migration.Failure
	large   *migration.LargeObject // a manifest key found large
	lastErr error                  // the retryable error that left it todo
}

// CopyPage lists one page of a shard (or reads one page of its manifest)
// and copies the objects of it smaller than Spec.LargeObjectBytes; it
// returns the larger ones for CopyLarge. Retries are idempotent: the page
// is listed again and what an earlier attempt reported done in its
// heartbeat is skipped.
func (a *Activities) CopyPage(ctx context.Context, in migration.CopyPageInput) (migration.CopyPageResult, error) {
	ctx, spec, release, err := a.begin(ctx, in.JobID, in.Spec)
	defer release()
	if err != nil {
		return migration.CopyPageResult{}, err
	}
	r := &pageRun{
		a: a, in: in, spec: spec,
		log:      a.logger().With("job", in.JobID, "shard", in.Shard.Index, "page", in.Page),
		srcRole:  role{"source", spec.Source.Store},
		dstRole:  role{"destination", spec.Destination.Store},
		manifest: spec.Filters.Manifest != nil,
	}
	res, err := r.run(ctx)
	if err == nil {
		record(ctx, in.JobID, res.Counts)
		res.Fleet = a.fleet(ctx)
	}
	if r.src != nil && r.dst != nil {
		a.observeListing(ctx, in.JobID, names(r.src, r.srcRole, r.dst, r.dstRole), err)
	}
	return res, err
}

type pageRun struct {
	a        *Activities
	in       migration.CopyPageInput
	spec     migration.JobSpec
	log      *slog.Logger
	srcRole  role
	dstRole  role
	src, dst storage.Store
	copier   *transfer.Copier
	match    func(string) bool
	manifest bool
	last     bool // the last attempt: retryable failures are recorded
	// resumeSince is set on a retried attempt under the overwrite policy:
	// a destination object written since then, identical to its source,
	// was copied by an earlier attempt that died before its heartbeat
	// said so, and is not sent again.
	resumeSince time.Time
	prior       PageHeartbeat
	items       []*item
	dstInfo     map[string]storage.ObjectInfo // conflict policies: destination objects of the page
	dstUpTo     string                        // dstInfo covers mapped keys up to this one
	probe       fatalProbe

	mu   sync.Mutex // guards the items' outcomes and sent
	sent int64
}

func (r *pageRun) run(ctx context.Context) (migration.CopyPageResult, error) {
	if err := r.setUp(ctx); err != nil {
		return migration.CopyPageResult{}, err
	}
	var res migration.CopyPageResult
	var err error
	if r.manifest {
		err = r.readManifest(ctx, &res)
	} else {
		err = r.list(ctx, &res)
	}
	if err != nil {
		return migration.CopyPageResult{}, err
	}

	stop := ticker(ctx, func() any { return r.snapshot() })
	err = r.copyAll(ctx)
	stop()
	if err != nil {
		heartbeat(ctx, r.snapshot())
		return migration.CopyPageResult{}, err
	}
	return r.result(ctx, res)
}

// setUp resolves the page's stores and takes up what earlier attempts
// left.
func (r *pageRun) setUp(ctx context.Context) error {
	var err error
	if r.src, err = r.a.resolve(r.srcRole); err != nil {
		return err
	}
	if r.dst, err = r.a.resolve(r.dstRole); err != nil {
		return err
	}
	if r.copier, err = r.a.copier(r.spec); err != nil {
		return err
	}
	if r.match, err = r.spec.Filters.Matcher(r.spec.Source.Prefix); err != nil {
		return err // Validate has compiled them already
	}
	r.last = attempt(ctx) >= r.spec.MaxAttempts
	if attempt(ctx) > 1 && !r.spec.Conflict.SkipsExisting() {
		// Listings carry whole seconds.
		r.resumeSince = activity.GetInfo(ctx).ScheduledTime.Truncate(time.Second)
	}
	if err := loadHeartbeat(ctx, &r.prior); err != nil {
		r.log.Warn("ignoring unreadable heartbeat details", "error", err)
		r.prior = PageHeartbeat{}
	}
	return nil
}

// result adds the items' outcomes to res, in page order after the earlier
// attempts' ones: the page fails while objects are left to try again, and
// its failures for good go to the failure log.
func (r *pageRun) result(ctx context.Context, res migration.CopyPageResult) (migration.CopyPageResult, error) {
	res.Counts = r.prior.Counts
	failures := append([]migration.Failure(nil), r.prior.Failures...)
	if r.manifest {
		res.Large = append(append([]migration.LargeObject(nil), r.prior.Large...), res.Large...)
	}
	var retry []*item
	for _, it := range r.items {
		switch {
		case it.state == itemTodo:
			retry = append(retry, it)
		case it.prior:
		default:
			res.Counts.Add(it.counts)
			if it.failure != nil {
				failures = append(failures, *it.failure)
			}
			if it.large != nil {
				res.Large = append(res.Large, *it.large)
			}
		}
	}
	res.Counts.BytesSent = r.prior.Counts.BytesSent + r.sent
	if len(retry) > 0 {
		heartbeat(ctx, r.snapshot())
		return migration.CopyPageResult{}, fmt.Errorf("%d objects of the page failed and will be tried again, e.g. %q: %w",
			len(retry), retry[0].key, retry[0].lastErr)
	}
	if len(failures) > 0 {
		// Everything is done: a retry after a failed write only rewrites.
		heartbeat(ctx, r.snapshot())
		name := fmt.Sprintf("failures/shard-%05d/page-%06d.jsonl", r.in.Shard.Index, r.in.Page)
		if err := r.a.writeFailures(ctx, r.spec, name, failures); err != nil {
			return migration.CopyPageResult{}, err
		}
	}
	res.Failures = sample(failures)
	r.log.Info("page done", "copied", res.Counts.Copied, "skipped", res.Counts.Skipped, "failed", res.Counts.Failed,
		"large", len(res.Large), "bytes", res.Counts.BytesCopied, "lastKey", res.LastKey, "done", res.Done)
	return res, nil
}

// loadHeartbeat reads the details of the previous attempt, if any.
func loadHeartbeat(ctx context.Context, v any) error {
	if !activity.IsActivity(ctx) || !activity.HasHeartbeatDetails(ctx) {
		return nil
	}
	return activity.GetHeartbeatDetails(ctx, v)
}

// list lists the page (or takes the objects its shard's listing carried)
// and sorts its keys into work and done.
func (r *pageRun) list(ctx context.Context, res *migration.CopyPageResult) error {
	page, err := r.listPage(ctx)
	if err != nil {
		return err
	}
	res.Done = page.Done
	if n := len(page.Objects); n > 0 {
		res.LastKey = page.Objects[n-1].Key
	}
	done := map[string]bool{}
	for _, k := range r.prior.DoneBeyond {
		done[k] = true
	}
	for _, o := range page.Objects {
		it := &item{key: o.Key, info: o}
		arch := archivedNotRestored(o)
		switch {
		case !r.match(o.Key):
			it.state, it.trivial = itemDone, true
		case arch && r.spec.Archive == migration.ArchiveRestore:
			it.state, it.trivial = itemDone, true
			res.Archived = append(res.Archived, migration.LargeObject{Key: o.Key, Size: o.Size})
		case o.Size >= r.spec.LargeObjectBytes && !arch:
			it.state, it.trivial = itemDone, true
			res.Large = append(res.Large, migration.LargeObject{Key: o.Key, Size: o.Size})
		case o.Key <= r.prior.DoneThrough || done[o.Key]:
			it.state, it.prior = itemDone, true
		case arch:
			f := archivedFailure(r.in.Shard.Index, o)
			it.state, it.counts, it.failure = itemFailed, failedCounts(o.Size), &f
		}
		r.items = append(r.items, it)
	}
	return r.listDestination(ctx)
}

func (r *pageRun) listPage(ctx context.Context) (storage.Page, error) {
	if len(r.in.Packed) > 0 || len(r.in.Objects) > 0 {
		objs, err := carriedObjects(r.in)
		if err == nil {
			return storage.Page{Objects: objs, Done: true}, nil
		}
		// Listing the range again is always right.
		r.log.Warn("listing the range: the objects its listing carried are unusable", "error", err)
	}
	after := max(r.in.After, r.in.Shard.After)
	page, err := list(ctx, r.src, storage.ListOptions{
		Prefix: r.spec.Source.Prefix, After: after, Before: r.in.Shard.Before, MaxKeys: r.spec.PageSize,
	})
	if err != nil {
		if storage.IsRetryable(err) || ctx.Err() != nil {
			return storage.Page{}, fmt.Errorf("list page after %q: %w", after, err)
		}
		return storage.Page{}, storeFatal(r.srcRole, r.src, err)
	}
	return page, nil
}

// listDestination lists, once for the page, the destination keys the page
// maps to, for the conflict policies that look at them.
func (r *pageRun) listDestination(ctx context.Context) error {
	if !r.spec.Conflict.ReadsDestination() && r.resumeSince.IsZero() {
		return nil
	}
	var first, last string
	want := map[string]bool{}
	for _, it := range r.items {
		if it.state != itemTodo {
			continue
		}
		k := dstKey(r.spec, it.key)
		if first == "" {
			first = k
		}
		last = k
		want[k] = true
	}
	if first == "" {
		return nil
	}
	r.dstInfo = map[string]storage.ObjectInfo{}
	// Start after where the page starts, mapped: a real key, where
	// JustBefore would send 0xFF bytes some services may refuse.
	after := storage.JustBefore(first)
	if a := max(r.in.After, r.in.Shard.After); a == "" || strings.HasPrefix(a, r.spec.Source.Prefix) {
		after = ""
		if a != "" {
			after = dstKey(r.spec, a)
		}
	}
	opts := storage.ListOptions{Prefix: r.spec.Destination.Prefix, After: after, Before: storage.JustAfter(last)}
	// A destination crowded with other keys in the range is not listed to
	// the end: the keys past what was listed are looked up one by one.
	const maxPages = 20
	for range maxPages {
		page, err := list(ctx, r.dst, opts)
		if err != nil {
			if storage.IsRetryable(err) || ctx.Err() != nil {
				return fmt.Errorf("list destination: %w", err)
			}
			return storeFatal(r.dstRole, r.dst, err)
		}
		for _, o := range page.Objects {
			if want[o.Key] {
				r.dstInfo[o.Key] = o
			}
		}
		if page.Done {
			r.dstUpTo = last
			return nil
		}
		r.dstUpTo, opts.After = page.Next, page.Next
	}
	return nil
}

// readManifest reads the page's keys from the manifest.
func (r *pageRun) readManifest(ctx context.Context, res *migration.CopyPageResult) error {
	m := r.spec.Filters.Manifest
	mr := role{"manifest", m.Store}
	mst, err := r.a.resolve(mr)
	if err != nil {
		return err
	}
	offset := max(r.in.ManifestOffset, r.in.Shard.ManifestStart)
	var lines []manifestLine
	var next int64
	var done bool
	if m.Format == migration.ManifestFailures {
		lines, next, done, err = readFailurePage(ctx, mr, mst, m.Prefix, r.in.Shard, offset, r.spec.PageSize)
	} else {
		lines, next, done, err = readManifestPage(ctx, mr, mst, m.Key, offset, r.in.Shard.ManifestEnd, r.spec.PageSize)
	}
	if err != nil {
		return err
	}
	res.NextManifest, res.Done = next, done
	beyond := map[int]bool{}
	for _, i := range r.prior.DoneBeyondLines {
		beyond[i] = true
	}
	for i, l := range lines {
		it := &item{key: l.key}
		switch {
		case !r.match(l.key):
			it.state, it.trivial = itemDone, true
		case i < r.prior.DoneLines || beyond[i]:
			it.state, it.prior = itemDone, true
		}
		r.items = append(r.items, it)
	}
	return nil
}

// copyAll copies the page's todo items with the job's object concurrency;
// an error of one (the job must stop) stops the others.
func (r *pageRun) copyAll(ctx context.Context) error {
	var todo []*item
	for _, it := range r.items {
		if it.state == itemTodo {
			todo = append(todo, it)
		}
	}
	return pool.Each(ctx, r.spec.Concurrency.Objects, todo, r.copyItem)
}

// copyItem copies one object, retrying retryable failures a few times. It
// returns an error only when the job must stop.
func (r *pageRun) copyItem(ctx context.Context, it *item) error {
	log := r.log.With("key", it.key)
	wait := backoff(r.spec)
	for try := 1; ; try++ {
		mark := r.a.mark(r.src, r.dst)
		counts, large, sent, err := r.tryItem(ctx, it)
		r.mu.Lock()
		r.sent += sent
		r.mu.Unlock()
		if err == nil {
			if counts.Copied > 0 {
				r.a.answered(r.src, r.dst)
			}
			r.finish(it, itemDone, counts, large, nil)
			return nil
		}
		if ctx.Err() != nil {
			return nil // stopped: stays todo
		}
		if r.a.waitOutage(ctx, r.in.JobID, names(r.src, r.srcRole, r.dst, r.dstRole), r.src.Name(), mark, err, &wait, r.probeOther(it)) {
			try-- // the store was out: not this object's try (outage.go)
			continue
		}
		size := it.info.Size
		if storage.IsFatal(err) {
			if ferr := r.confirmFatal(ctx, err); ferr != nil {
				log.Error("store unusable", "error", err)
				return ferr
			}
		}
		if !storage.IsRetryable(err) {
			log.Warn("object failed", "kind", storage.KindOf(err).String(), "error", err)
			f := failureOf(r.in.Shard.Index, it.key, size, try, err)
			r.finish(it, itemFailed, failedCounts(size), nil, &f)
			return nil
		}
		if try >= objectTries {
			attempts := (attempt(ctx)-1)*objectTries + try
			if r.last {
				log.Warn("object failed after retries", "attempts", attempts, "error", err)
				f := failureOf(r.in.Shard.Index, it.key, size, attempts, err)
				r.finish(it, itemFailed, failedCounts(size), nil, &f)
			} else {
				r.mu.Lock()
				it.lastErr = err
				r.mu.Unlock()
			}
			return nil
		}
		if storage.Sleep(ctx, objectBackoff<<(try-1)) != nil {
			return nil
		}
	}
}

func failedCounts(size int64) migration.Counts {
	return migration.Counts{Failed: 1, BytesFailed: size}
}

func (r *pageRun) finish(it *item, st itemState, c migration.Counts, large *migration.LargeObject, f *migration.Failure) {
	r.mu.Lock()
	defer r.mu.Unlock()
	it.state, it.counts, it.large, it.failure = st, c, large, f
}

// tryItem makes one try at an item: for manifest keys a HEAD of the source
// (which may find it large), the conflict check, then the copy.
func (r *pageRun) tryItem(ctx context.Context, it *item) (migration.Counts, *migration.LargeObject, int64, error) {
	info := it.info
	if r.manifest {
		h, err := r.src.Head(ctx, it.key)
		if err != nil {
			return migration.Counts{}, nil, 0, err
		}
		info = h
		r.mu.Lock()
		it.info = h
		r.mu.Unlock()
		if h.Size >= r.spec.LargeObjectBytes {
			return migration.Counts{}, &migration.LargeObject{Key: it.key, Size: h.Size}, 0, nil
		}
	}
	dk := dstKey(r.spec, it.key)
	if r.copiedBefore(ctx, info, dk) {
		return syncCopied(r.spec, true, migration.Counts{Copied: 1, BytesCopied: info.Size}), nil, 0, nil
	}
	if r.spec.Conflict == migration.Changed {
		return r.trySync(ctx, it.key, info, dk)
	}
	skip, err := r.skip(ctx, info, dk)
	if err != nil {
		return migration.Counts{}, nil, 0, err
	}
	if skip {
		return migration.Counts{Skipped: 1, BytesSkipped: info.Size}, nil, 0, nil
	}
	res, err := r.copier.Copy(ctx, transfer.Request{Src: r.src, SrcKey: it.key, Dst: r.dst, DstKey: dk, Listed: &info, Classes: classes(r.spec)})
	if err != nil {
		return migration.Counts{}, nil, res.BytesWritten, err
	}
	return copiedCounts(res), nil, res.BytesWritten, nil
}

// copiedCounts are the counts of one verified copy.
func copiedCounts(res transfer.Result) migration.Counts {
	c := migration.Counts{Copied: 1, BytesCopied: res.Size}
	if res.DestinationOnly {
		c.DestinationOnlyVerified = 1
	}
	return c
}

// copiedBefore reports, on a retried attempt, whether an earlier attempt
// of this activity copied the object already: the destination has it,
// written since the activity was scheduled, with the source's size and
// CRC64. On an error the answer is no: copying it again is always right.
func (r *pageRun) copiedBefore(ctx context.Context, src storage.ObjectInfo, dk string) bool {
	if r.resumeSince.IsZero() {
		return false
	}
	d, ok, err := r.destination(ctx, dk)
	if err != nil || !ok || d.LastModified.Before(r.resumeSince) {
		return false
	}
	same, err := identical(ctx, r.src, src, r.dst, d, dk)
	return err == nil && same
}

// destination finds the destination object of a key: in the page's
// destination listing when it covers the key, otherwise with a HEAD.
func (r *pageRun) destination(ctx context.Context, dk string) (storage.ObjectInfo, bool, error) {
	if r.dstInfo != nil && dk <= r.dstUpTo {
		d, ok := r.dstInfo[dk]
		return d, ok, nil
	}
	h, err := r.dst.Head(ctx, dk)
	switch {
	case storage.IsNotFound(err):
		return storage.ObjectInfo{}, false, nil
	case err != nil:
		return storage.ObjectInfo{}, false, err
	}
	return h, true, nil
}

// skip applies the conflict policy to one object.
func (r *pageRun) skip(ctx context.Context, src storage.ObjectInfo, dk string) (bool, error) {
	if !r.spec.Conflict.SkipsExisting() {
		return false, nil
	}
	d, ok, err := r.destination(ctx, dk)
	if err != nil || !ok {
		return false, err
	}
	if r.spec.Conflict == migration.Skip {
		return true, nil
	}
	return identical(ctx, r.src, src, r.dst, d, dk)
}

// identical reports whether the destination object has the source's size
// and a checksum of a family both report, asking with HEADs for the
// checksums listings do not carry. Objects whose stores share no family
// (an S3 source's MD5, a COS destination's CRC64) are never identical:
// copying again is always right.
func identical(ctx context.Context, src storage.Store, s storage.ObjectInfo, dst storage.Store, d storage.ObjectInfo, dk string) (bool, error) {
	if s.Size != d.Size {
		return false, nil
	}
	if same, known := storage.SameContent(s, d); known {
		return same, nil
	}
	if len(s.Sums()) == 0 {
		h, err := src.Head(ctx, s.Key)
		if err != nil {
			return false, err
		}
		if h.Size != d.Size {
			return false, nil
		}
		s = h
		if same, known := storage.SameContent(s, d); known {
			return same, nil
		}
	}
	h, err := dst.Head(ctx, dk)
	if storage.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	same, known := storage.SameContent(s, h)
	return same && known, nil
}

// confirmFatal probes the store an object error of a fatal kind came from.
func (r *pageRun) confirmFatal(ctx context.Context, err error) error {
	return confirmFatal(ctx, &r.probe, r.spec, r.src, r.dst, err)
}

func confirmFatal(ctx context.Context, p *fatalProbe, spec migration.JobSpec, src, dst storage.Store, err error) error {
	var se *storage.Error
	name := ""
	if errors.As(err, &se) {
		name = se.Store
	}
	if name == "" || name == src.Name() {
		if ferr := p.check(ctx, role{"source", spec.Source.Store}, src, spec.Source.Prefix); ferr != nil {
			return ferr
		}
	}
	if name == "" || name == dst.Name() {
		return p.check(ctx, role{"destination", spec.Destination.Store}, dst, spec.Destination.Prefix)
	}
	return nil
}

// snapshot builds the heartbeat: the done prefix of the page, the keys
// done beyond it (bounded), the counts and failures of exactly those.
func (r *pageRun) snapshot() PageHeartbeat {
	r.mu.Lock()
	defer r.mu.Unlock()
	h := PageHeartbeat{
		Counts:   r.prior.Counts,
		Failures: append([]migration.Failure(nil), r.prior.Failures...),
		Large:    append([]migration.LargeObject(nil), r.prior.Large...),
	}
	h.Counts.BytesSent += r.sent
	through := r.donePrefix(&h)
	beyond := r.doneBeyond(&h, through)
	if r.manifest {
		h.DoneLines, h.DoneBeyondLines = through+1, beyond
		return h
	}
	if through >= 0 {
		h.DoneThrough = r.items[through].key
	}
	for _, i := range beyond {
		h.DoneBeyond = append(h.DoneBeyond, r.items[i].key)
	}
	return h
}

// donePrefix adds to h the items of the page done in a row from its start,
// as long as their failures fit the heartbeat, and returns the index of
// the last (-1: none).
func (r *pageRun) donePrefix(h *PageHeartbeat) int {
	failBytes := 0
	for _, f := range h.Failures {
		failBytes += failureSize(f)
	}
	through := -1
	for i, it := range r.items {
		if it.state == itemFailed {
			if fs := failureSize(*it.failure); failBytes+fs <= heartbeatFailureBytes {
				failBytes += fs
			} else {
				break
			}
		} else if it.state != itemDone {
			break
		}
		h.add(it)
		through = i
	}
	return through
}

// doneBeyond returns the items done out of order after through: all an
// earlier attempt reported (its counts are in the prior counts), then new
// ones, added to h, up to the bound.
func (r *pageRun) doneBeyond(h *PageHeartbeat, through int) []int {
	bound := 2*r.spec.Concurrency.Objects + 16
	var beyond []int
	for i := through + 1; i < len(r.items); i++ {
		if it := r.items[i]; it.state == itemDone && it.prior {
			beyond = append(beyond, i)
		}
	}
	for i := through + 1; i < len(r.items) && len(beyond) < bound; i++ {
		if it := r.items[i]; it.state == itemDone && !it.prior && !it.trivial {
			beyond = append(beyond, i)
			h.add(it)
		}
	}
	return beyond
}

// add counts an item of this attempt in the heartbeat.
func (h *PageHeartbeat) add(it *item) {
	if it.prior || it.trivial {
		return
	}
	h.Counts.Add(it.counts)
	if it.failure != nil {
		h.Failures = append(h.Failures, *it.failure)
	}
	if it.large != nil {
		h.Large = append(h.Large, *it.large)
	}
}

func failureSize(f migration.Failure) int { return len(f.Key) + len(f.Reason) + len(f.Kind) + 96 }

// writeFailures writes one failure log chunk as JSON Lines; the name is
// fixed per page or large object, so a retry overwrites, never duplicates.
func (a *Activities) writeFailures(ctx context.Context, spec migration.JobSpec, name string, fs []migration.Failure) error {
	loc := *spec.FailureLog
	r := role{"failure log", loc.Store}
	st, err := a.resolve(r)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	for _, f := range fs {
		if err := enc.Encode(f); err != nil {
			return fmt.Errorf("encode failure: %w", err)
		}
	}
	key := loc.Prefix + name
	_, err = st.Put(ctx, key, bytes.NewReader(buf.Bytes()), int64(buf.Len()), storage.Metadata{ContentType: "application/x-ndjson"})
	if err != nil {
		if storage.IsRetryable(err) || ctx.Err() != nil {
			return fmt.Errorf("write failure log %s: %w", key, err)
		}
		return storeFatal(r, st, err)
	}
	return nil
}
