package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/bucketferry/bucketferry/storage"
)

// checkResult is what the verification of one run's destination found.
type checkResult struct {
	Objects     int64 `json:"objects"`     // source objects found at the destination with the same size
	ETagChecked int64 `json:"etagChecked"` // of those, single-part objects whose MD5 ETags were compared
	CRCChecked  int64 `json:"crcChecked"`  // objects whose CRC64 was compared by HEAD on both sides
}

func (c checkResult) String() string {
	return fmt.Sprintf("%d objects, %d MD5, %d CRC64", c.Objects, c.ETagChecked, c.CRCChecked)
}

// lister walks one store's listing an object at a time.
type lister struct {
	s    storage.Store
	page storage.Page
	i    int
	err  error
	done bool
}

func (l *lister) next(ctx context.Context) (storage.ObjectInfo, bool) {
	for l.i >= len(l.page.Objects) {
		if l.done || l.err != nil {
			return storage.ObjectInfo{}, false
		}
		opts := storage.ListOptions{MaxKeys: 1000}
		if l.page.Next != "" {
			opts.After = l.page.Next
		}
		var err error
		for attempt := range 5 {
			if l.page, err = l.s.List(ctx, opts); err == nil || !storage.IsRetryable(err) || attempt == 4 {
				break
			}
		}
		if err != nil {
			l.err = err
			return storage.ObjectInfo{}, false
		}
		l.i, l.done = 0, l.page.Done
	}
	o := l.page.Objects[l.i]
	l.i++
	return o, true
}

// checkCopy merges the sorted listings of the source and the destination:
// every source object must be at the destination with the same size (and
// the same MD5 ETag when both are single-part); every sampleEvery-th object,
// and every object of at least 64 MiB, also has its CRC64 compared by HEAD
// on both sides. Destination keys under ignore are not counted.
func checkCopy(ctx context.Context, src, dst storage.Store, want int64, sampleEvery int64, ignore string) (checkResult, error) {
	var res checkResult
	ls, ld := &lister{s: src}, &lister{s: dst}
	d, dok := ld.next(ctx)
	var i int64
	for {
		s, sok := ls.next(ctx)
		if !sok {
			break
		}
		i++
		for dok && (d.Key < s.Key || (ignore != "" && strings.HasPrefix(d.Key, ignore))) {
			if !strings.HasPrefix(d.Key, ignore) || ignore == "" {
				return res, fmt.Errorf("extra object %q at the destination", d.Key)
			}
			d, dok = ld.next(ctx)
		}
		if !dok || d.Key != s.Key {
			return res, fmt.Errorf("%q is missing at the destination", s.Key)
		}
		if d.Size != s.Size {
			return res, fmt.Errorf("%q: %d bytes at the destination, %d at the source", s.Key, d.Size, s.Size)
		}
		se, de := strings.Trim(s.ETag, `"`), strings.Trim(d.ETag, `"`)
		if !strings.Contains(se, "-") && !strings.Contains(de, "-") {
			if !strings.EqualFold(se, de) {
				return res, fmt.Errorf("%q: ETag %s at the destination, %s at the source", s.Key, de, se)
			}
			res.ETagChecked++
		}
		if (sampleEvery > 0 && i%sampleEvery == 1) || s.Size >= 64<<20 || sampleEvery == 1 {
			hs, err := src.Head(ctx, s.Key)
			if err != nil {
				return res, err
			}
			hd, err := dst.Head(ctx, d.Key)
			if err != nil {
				return res, err
			}
			if !hs.HasCRC64 || !hd.HasCRC64 || hs.CRC64 != hd.CRC64 {
				return res, fmt.Errorf("%q: CRC64 %d (known %v) at the destination, %d (known %v) at the source", s.Key, hd.CRC64, hd.HasCRC64, hs.CRC64, hs.HasCRC64)
			}
			res.CRCChecked++
		}
		res.Objects++
		d, dok = ld.next(ctx)
	}
	for dok {
		if ignore == "" || !strings.HasPrefix(d.Key, ignore) {
			return res, fmt.Errorf("extra object %q at the destination", d.Key)
		}
		d, dok = ld.next(ctx)
	}
	if ls.err != nil {
		return res, fmt.Errorf("list the source: %w", ls.err)
	}
	if ld.err != nil {
		return res, fmt.Errorf("list the destination: %w", ld.err)
	}
	if res.Objects != want {
		return res, fmt.Errorf("%d objects at the destination, want %d", res.Objects, want)
	}
	return res, nil
}
