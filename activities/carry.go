package activities

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/bucketferry/bucketferry/migration"
	"github.com/bucketferry/bucketferry/storage"
)

// Objects carried from a listing to the copies of its ranges.
//
// Against a far-away source each range's own listing is a round trip: a
// third of a range of one chunk (its listing, the GETs, the PUTs), and
// the end of a shard is cut into such ranges so that the fleet ends it
// together. A shard's last page is listed anyway, so its listing returns
// the objects, and the copies of its ranges take them instead of listing
// again. Only that page, and the job's first one: the history a shard
// carries stays bounded whatever the bucket's size.

// carried returns the objects of the last chunks of n listed (chunks
// as chunkEnds cuts them) that fit migration.MaxCarriedBytes, in the few
// bytes they travel in; the copies of the chunks before them, if any,
// list them again as before.
func carried(objs []storage.ObjectInfo, n int) []migration.Listed {
	n = max(n, 1)
	out := make([]migration.Listed, len(objs))
	from, size := len(objs), 0
	for i := len(objs) - 1; i >= 0; i-- {
		o := objs[i]
		l := migration.Listed{Key: o.Key, Size: o.Size, ETag: o.ETag, Class: o.Meta.StorageClass, Restored: o.Restored}
		if !o.LastModified.IsZero() {
			l.Modified = o.LastModified.UnixNano()
		}
		if o.HasCRC64 {
			l.CRC64 = strconv.FormatUint(o.CRC64, 16)
		}
		for _, c := range o.Checksums {
			l.Sums = append(l.Sums, c.String())
		}
		out[i] = l
		// As the payload encodes it (keys with <, > or & grow sixfold),
		// and its comma.
		b, err := json.Marshal(l)
		if err != nil {
			break
		}
		size += len(b) + 1
		if size > migration.MaxCarriedBytes {
			break
		}
		if i%n == 0 {
			from = i
		}
	}
	if from == len(objs) {
		return nil
	}
	return out[from:]
}

// carriedObjects is the objects a range's listing carried to its copy,
// packed (since windowed-shard 7) or as JSON.
func carriedObjects(in migration.CopyPageInput) ([]storage.ObjectInfo, error) {
	if len(in.Packed) > 0 {
		return unpackChunks(in.Packed)
	}
	return uncarried(in.Objects)
}

// uncarried turns carried objects back into what a listing returns.
func uncarried(ls []migration.Listed) ([]storage.ObjectInfo, error) {
	out := make([]storage.ObjectInfo, 0, len(ls))
	prev := ""
	for i, l := range ls {
		if i > 0 && l.Key <= prev {
			return nil, fmt.Errorf("carried objects out of order: %q after %q", l.Key, prev)
		}
		prev = l.Key
		o := storage.ObjectInfo{Key: l.Key, Size: l.Size, ETag: l.ETag, Restored: l.Restored}
		o.Meta.StorageClass = l.Class
		if l.Modified != 0 {
			o.LastModified = time.Unix(0, l.Modified).UTC()
		}
		if l.CRC64 != "" {
			v, err := strconv.ParseUint(l.CRC64, 16, 64)
			if err != nil {
				return nil, fmt.Errorf("carried object %q: CRC64 %q: %w", l.Key, l.CRC64, err)
			}
			o.CRC64, o.HasCRC64 = v, true
		}
		for _, s := range l.Sums {
			alg, val, ok := strings.Cut(s, ":")
			if !ok {
				return nil, fmt.Errorf("carried object %q: checksum %q", l.Key, s)
			}
			o.Checksums = append(o.Checksums, storage.Checksum{Alg: storage.Algorithm(alg), Value: val})
		}
		out = append(out, o)
	}
	return out, nil
}
