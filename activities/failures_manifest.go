package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/bucketferry/bucketferry/migration"
	"github.com/bucketferry/bucketferry/storage"
)

// A failure-log manifest (migration.ManifestFailures) is the failure log of
// an earlier job: JSON Lines chunk objects under a prefix, one per page or
// large object of that job, each line a migration.Failure. It is read as
// if its chunks were one object laid end to end in key order: a shard is a
// run of consecutive chunks (keys After < k < Before) and its manifest
// offsets count bytes of those chunks, so the shard workflow's byte cursor
// works unchanged. The chunks of a finished job never change; a chunk that
// did since planning is detected (sizes no longer add up) and stops the job.

// chunk is one failure-log object.
type chunk struct {
	key  string
	size int64
}

// chunkLister walks the chunks under a prefix in a key range, one list page
// in memory at a time.
type chunkLister struct {
	st   storage.Store
	opts storage.ListOptions
	page []storage.ObjectInfo
	done bool
}

func newChunkLister(st storage.Store, prefix, after, before string) *chunkLister {
	return &chunkLister{st: st, opts: storage.ListOptions{Prefix: prefix, After: after, Before: before}}
}

// next returns the next chunk, or false once there is none.
func (l *chunkLister) next(ctx context.Context) (chunk, bool, error) {
	for len(l.page) == 0 {
		if l.done {
			return chunk{}, false, nil
		}
		p, err := list(ctx, l.st, l.opts)
		if err != nil {
			return chunk{}, false, err
		}
		l.page, l.done, l.opts.After = p.Objects, p.Done, p.Next
		if !p.Done && len(p.Objects) == 0 && p.Next == "" {
			return chunk{}, false, fmt.Errorf("list %s: an empty page that is not the last", l.st.Name())
		}
	}
	o := l.page[0]
	l.page = l.page[1:]
	return chunk{key: o.Key, size: o.Size}, true, nil
}

// failureLogError classifies a failure to read the failure-log manifest as
// manifestError does for plain manifests.
func failureLogError(r role, st storage.Store, prefix string, err error) error {
	if storage.IsRetryable(err) {
		return fmt.Errorf("read failure log %s/%s: %w", st.Name(), prefix, err)
	}
	return storeFatal(r, st, err)
}

// planFailureManifest lists the chunks under prefix and cuts them into at
// most target runs of consecutive chunks of about equal bytes. The chunk
// list is kept in memory while planning: one small entry per page of the
// earlier job that had a failure.
func planFailureManifest(ctx context.Context, r role, st storage.Store, prefix string, target int) ([]migration.Shard, error) {
	l := newChunkLister(st, prefix, "", "")
	var chunks []chunk
	var total int64
	for {
		c, ok, err := l.next(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, failureLogError(r, st, prefix, err)
		}
		if !ok {
			break
		}
		chunks = append(chunks, c)
		total += c.size
		if len(chunks)%1000 == 0 {
			heartbeat(ctx, len(chunks))
		}
	}
	return cutChunks(chunks, total, target), nil
}

// cutChunks groups chunks into at most target shards of consecutive chunks,
// starting a new shard when the bytes before a chunk reach the next even
// share of the total.
func cutChunks(chunks []chunk, total int64, target int) []migration.Shard {
	n := int64(max(1, min(target, len(chunks))))
	shards := []migration.Shard{{Index: 0}}
	var before int64 // bytes of the chunks before the current one
	for i, c := range chunks {
		if total > 0 && i > 0 {
			want := min(n-1, before*n/total)
			if want > int64(len(shards)-1) {
				shards[len(shards)-1].Before = c.key
				shards = append(shards, migration.Shard{Index: len(shards), After: chunks[i-1].key})
			}
		}
		shards[len(shards)-1].ManifestEnd += c.size
		before += c.size
	}
	return shards
}

// readFailurePage reads up to pageSize failed keys of a shard from virtual
// offset on. It lists the shard's chunks (a run of a few list pages at
// most) and checks that their sizes still add up to the plan's, then reads
// lines chunk after chunk. It returns the keys, the offset after the last
// line read and whether the shard is exhausted.
func readFailurePage(ctx context.Context, r role, st storage.Store, prefix string, sh migration.Shard, offset int64, pageSize int) ([]manifestLine, int64, bool, error) {
	end := sh.ManifestEnd
	if offset >= end {
		return nil, offset, true, nil
	}
	l := newChunkLister(st, prefix, sh.After, sh.Before)
	var chunks []chunk
	var total int64
	for {
		c, ok, err := l.next(ctx)
		if err != nil {
			return nil, 0, false, failureLogError(r, st, prefix, err)
		}
		if !ok {
			break
		}
		chunks = append(chunks, c)
		total += c.size
	}
	if total != end {
		return nil, 0, false, fatal(fmt.Sprintf("failure log %s/%s holds %d bytes in shard %d where the plan counted %d: it changed since the job was planned",
			st.Name(), prefix, total, sh.Index, end), nil)
	}
	var base int64 // virtual offset of the current chunk
	var lines []manifestLine
	next := offset
	for _, c := range chunks {
		if len(lines) >= pageSize || next >= end {
			break
		}
		if base+c.size <= next {
			base += c.size
			continue
		}
		want := pageSize - len(lines)
		got, after, err := readChunkLines(ctx, r, st, c, base, next, want)
		if err != nil {
			return nil, 0, false, err
		}
		if len(got) < want && after != base+c.size {
			return nil, 0, false, fatal(fmt.Sprintf("failure log chunk %q in %s ended at byte %d of %d: it changed since the job was planned",
				c.key, r, after-base, c.size), nil)
		}
		lines = append(lines, got...)
		next = after
		base += c.size
	}
	if next == offset {
		return nil, 0, false, fatal(fmt.Sprintf("failure log %s/%s: no whole line at byte %d of shard %d", st.Name(), prefix, offset, sh.Index), nil)
	}
	return lines, next, next >= end, nil
}

// readChunkLines reads up to max failures of chunk c (at virtual offset
// base) from virtual offset from, returning their keys and the virtual
// offset after the last line read.
func readChunkLines(ctx context.Context, r role, st storage.Store, c chunk, base, from int64, max int) ([]manifestLine, int64, error) {
	local := from - base
	body, _, err := st.Get(ctx, c.key, storage.Range{Offset: local, Length: c.size - local})
	if err != nil {
		return nil, 0, manifestError(r, st, c.key, err)
	}
	defer body.Close()
	lr := newLineReader(io.LimitReader(body, c.size-local), from)
	var lines []manifestLine
	next := from
	for len(lines) < max {
		text, start, _, err := lr.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var se *storage.Error
			if errors.As(err, &se) || storage.IsRetryable(err) || ctx.Err() != nil {
				return nil, 0, manifestError(r, st, c.key, err)
			}
			return nil, 0, fatal(fmt.Sprintf("failure log chunk %q in %s: %v", c.key, r, err), err)
		}
		next = lr.off
		if text == "" {
			continue
		}
		var f migration.Failure
		if err := json.Unmarshal([]byte(text), &f); err != nil {
			return nil, 0, fatal(fmt.Sprintf("failure log chunk %q in %s, byte %d: not a failure record: %v", c.key, r, start-base, err), err)
		}
		if f.Key != "" {
			lines = append(lines, manifestLine{key: f.Key, start: start})
		}
	}
	return lines, next, nil
}
