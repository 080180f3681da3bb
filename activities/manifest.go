package activities

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/bucketferry/bucketferry/migration"
	"github.com/bucketferry/bucketferry/storage"
)

// maxManifestLine bounds one manifest line: keys are at most a few KiB, so
// anything longer is not a manifest.
const maxManifestLine = 64 << 10

// lineReader reads manifest lines and tracks byte offsets.
type lineReader struct {
	r   *bufio.Reader
	off int64 // offset of the next unread byte
}

func newLineReader(r io.Reader, off int64) *lineReader {
	return &lineReader{r: bufio.NewReaderSize(r, 64<<10), off: off}
}

// next returns the key on the next line (without its line end: keys may
// begin or end with blanks; "" for an empty line), the offset the line
// starts at, whether a line end closed it, and io.EOF once there is no
// line left.
func (l *lineReader) next() (key string, start int64, ended bool, err error) {
	start = l.off
	var line []byte
	for {
		chunk, err := l.r.ReadSlice('\n')
		line = append(line, chunk...)
		l.off += int64(len(chunk))
		if len(line) > maxManifestLine {
			return "", start, false, fmt.Errorf("manifest line at byte %d is longer than %d bytes", start, maxManifestLine)
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return "", start, false, err
		}
		if len(line) == 0 {
			return "", start, false, io.EOF
		}
		ended = line[len(line)-1] == '\n'
		return strings.TrimSuffix(strings.TrimSuffix(string(line), "\n"), "\r"), start, ended, nil
	}
}

// manifestError classifies a failure to read the manifest: a missing
// object or unusable store stops the job; anything else is retried.
func manifestError(r role, st storage.Store, key string, err error) error {
	if storage.IsRetryable(err) {
		return fmt.Errorf("read manifest %s/%s: %w", st.Name(), key, err)
	}
	if storage.IsNotFound(err) {
		return fatal(fmt.Sprintf("manifest %q not found in %s (%s): check filters.manifest", key, r, st.Name()), err)
	}
	return storeFatal(r, st, err)
}

// planManifest reads the manifest once and cuts it into about target byte
// ranges of whole lines, each at least pageSize keys unless the manifest
// holds fewer. Only the offset of every pageSize-th key is kept, so memory
// stays small for manifests of any length.
func planManifest(ctx context.Context, r role, st storage.Store, key string, pageSize, target int) ([]migration.Shard, error) {
	body, _, err := st.Get(ctx, key, storage.Range{})
	if err != nil {
		return nil, manifestError(r, st, key, err)
	}
	defer body.Close()
	lr := newLineReader(body, 0)
	var chunks []int64 // start of keys 0, pageSize, 2*pageSize, ...
	keys := 0
	for {
		k, start, _, err := lr.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			var se *storage.Error
			if errors.As(err, &se) || storage.IsRetryable(err) {
				return nil, manifestError(r, st, key, err)
			}
			return nil, fatal(fmt.Sprintf("manifest %q in %s: %v", key, r, err), err)
		}
		if k == "" {
			continue
		}
		if keys%pageSize == 0 {
			chunks = append(chunks, start)
			if len(chunks)%64 == 0 {
				heartbeat(ctx, keys)
			}
		}
		keys++
	}
	end := lr.off
	// Whole pages only: a remainder joins the last page.
	pages := max(1, keys/pageSize)
	n := min(target, pages)
	shards := make([]migration.Shard, n)
	for i := range shards {
		shards[i] = migration.Shard{Index: i, ManifestEnd: end}
		if i > 0 {
			shards[i].ManifestStart = chunks[i*pages/n]
			shards[i-1].ManifestEnd = shards[i].ManifestStart
		}
	}
	return shards, nil
}

// manifestLine is one key of a manifest page.
type manifestLine struct {
	key   string
	start int64
}

// maxKeyLine is the longest line a valid key needs: OSS allows keys of
// 1,023 bytes, COS of 850, plus a CRLF.
const maxKeyLine = 1026

// readManifestPage reads up to pageSize keys from offset, stopping at end.
// It returns the keys, the offset after the last line read and whether the
// shard's range is exhausted. It asks for no more bytes than pageSize keys
// can take, not for the rest of the shard.
func readManifestPage(ctx context.Context, r role, st storage.Store, key string, offset, end int64, pageSize int) ([]manifestLine, int64, bool, error) {
	if offset >= end {
		return nil, offset, true, nil
	}
	limit := min(end-offset, max(int64(pageSize)*maxKeyLine, maxManifestLine+1))
	body, _, err := st.Get(ctx, key, storage.Range{Offset: offset, Length: limit})
	if err != nil {
		return nil, 0, false, manifestError(r, st, key, err)
	}
	defer body.Close()
	lr := newLineReader(io.LimitReader(body, limit), offset)
	var lines []manifestLine
	next := offset
	for len(lines) < pageSize {
		k, start, ended, err := lr.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var se *storage.Error
			if errors.As(err, &se) || storage.IsRetryable(err) || ctx.Err() != nil {
				return nil, 0, false, manifestError(r, st, key, err)
			}
			return nil, 0, false, fatal(fmt.Sprintf("manifest %q in %s: %v", key, r, err), err)
		}
		if !ended && lr.off < end {
			break // cut by the read limit: the next page reads it whole
		}
		next = lr.off
		if k != "" {
			lines = append(lines, manifestLine{key: k, start: start})
		}
	}
	if next == offset {
		return nil, 0, false, fatal(fmt.Sprintf("manifest %q in %s: no whole line at byte %d", key, r, offset), nil)
	}
	return lines, next, next >= end, nil
}
