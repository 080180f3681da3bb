package activities

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/bucketferry/bucketferry/migration"
	"github.com/bucketferry/bucketferry/storage"
)

// Packed chunks: the objects of one listed chunk in the few bytes a
// workflow's history can afford for every object of a far-away source.
//
// Carrying every listing's objects saves every range its own listing (a
// round trip, a tenth of a far-away job's slot time), but as JSON
// (migration.Listed, about 150 bytes an object) it would be 300 MB of
// history a million objects. Packed, an object of a listing's sorted keys
// is its key's new suffix (front coding: keys of one chunk share most of
// their bytes), its size and its class: 13 bytes an object of the
// benchmark's keys (TestPackedIsSmall). ETags, times and checksums are
// packed only for the conflict policies that compare them (skip-identical,
// changed); without them a retried copy that checks what an earlier
// attempt wrote asks the source with a HEAD, as for a listing that does
// not carry checksums.
//
// The format starts with its version, so that a worker that meets one it
// does not know lists the range instead (pageRun.listPage).

const (
	packVersion = 1
	// packFull marks a chunk that holds ETags, times and checksums.
	packFull = 1 << 0

	// Per-object flags.
	objRestored = 1 << 0
	objClass    = 1 << 1 // a class other than the previous object's follows
	objCRC64    = 1 << 2
	objETagHex  = 1 << 3 // the ETag is lower-case hex, packed as bytes
	objETagHEX  = 1 << 4 // upper-case hex
)

// packsFull reports whether the spec's conflict policy compares what
// listings report beyond key, size and class.
func packsFull(spec migration.JobSpec) bool {
	return spec.Conflict == migration.SkipIdentical || spec.Conflict == migration.Changed
}

// packChunk packs sorted objects.
func packChunk(objs []storage.ObjectInfo, full bool) []byte {
	b := make([]byte, 0, 16+len(objs)*12)
	var head byte
	if full {
		head |= packFull
	}
	b = append(b, packVersion, head)
	b = binary.AppendUvarint(b, uint64(len(objs)))
	prev, class := "", ""
	var modified int64
	for _, o := range objs {
		shared := commonPrefix(prev, o.Key)
		b = binary.AppendUvarint(b, uint64(shared))
		b = appendString(b, o.Key[shared:])
		prev = o.Key
		b = binary.AppendUvarint(b, uint64(max(o.Size, 0)))
		var flags byte
		if o.Restored {
			flags |= objRestored
		}
		if o.Meta.StorageClass != class {
			flags |= objClass
		}
		tag := o.ETag
		if full {
			if o.HasCRC64 {
				flags |= objCRC64
			}
			if f := hexCase(o.ETag); f != 0 {
				t, _ := hex.DecodeString(o.ETag)
				flags, tag = flags|f, string(t)
			}
		}
		b = append(b, flags)
		if flags&objClass != 0 {
			b = appendString(b, o.Meta.StorageClass)
			class = o.Meta.StorageClass
		}
		if !full {
			continue
		}
		b = appendString(b, tag)
		var t int64
		if !o.LastModified.IsZero() {
			t = o.LastModified.UnixNano()
		}
		b = binary.AppendVarint(b, t-modified)
		modified = t
		if o.HasCRC64 {
			b = binary.LittleEndian.AppendUint64(b, o.CRC64)
		}
		b = binary.AppendUvarint(b, uint64(len(o.Checksums)))
		for _, c := range o.Checksums {
			b = appendString(b, c.String())
		}
	}
	return b
}

// packChunks packs the objects of each chunk of n that chunkEnds cuts,
// as many of the first chunks as fit migration.MaxCarriedBytes (as the
// payload encodes them, in base64); the others are left empty.
func packChunks(objs []storage.ObjectInfo, n int, full bool) [][]byte {
	n = max(n, 1)
	out := make([][]byte, 0, (len(objs)+n-1)/n)
	size := 0
	for from := 0; from < len(objs); from += n {
		var c []byte
		if size <= migration.MaxCarriedBytes {
			c = packChunk(objs[from:min(from+n, len(objs))], full)
			size += (len(c)+2)/3*4 + 3 // base64, its quotes and comma
			if size > migration.MaxCarriedBytes {
				c = nil
			}
		}
		out = append(out, c)
	}
	return out
}

// unpackChunks turns packed chunks back into what a listing returns, in
// order; keys must ascend across them.
func unpackChunks(chunks [][]byte) ([]storage.ObjectInfo, error) {
	var out []storage.ObjectInfo
	prev := ""
	for i, c := range chunks {
		objs, err := unpackChunk(c)
		if err != nil {
			return nil, fmt.Errorf("packed chunk %d: %w", i, err)
		}
		for _, o := range objs {
			if len(out) > 0 && o.Key <= prev {
				return nil, fmt.Errorf("packed objects out of order: %q after %q", o.Key, prev)
			}
			prev = o.Key
			out = append(out, o)
		}
	}
	return out, nil
}

var errPackedShort = errors.New("packed objects cut short")

func unpackChunk(b []byte) ([]storage.ObjectInfo, error) {
	d := unpacker{b: b}
	if v := d.byte(); v != packVersion {
		if d.err != nil {
			return nil, d.err
		}
		return nil, fmt.Errorf("packed objects of format %d: this worker reads format %d", v, packVersion)
	}
	full := d.byte()&packFull != 0
	n := d.uvarint()
	if d.err == nil && n > uint64(len(b)) {
		return nil, fmt.Errorf("packed objects: %d objects in %d bytes", n, len(b))
	}
	out := make([]storage.ObjectInfo, 0, n)
	prev, class := "", ""
	var modified int64
	for range n {
		shared := d.uvarint()
		suffix := d.string()
		if d.err != nil {
			return nil, d.err
		}
		if shared > uint64(len(prev)) {
			return nil, fmt.Errorf("packed objects: key shares %d bytes of %q", shared, prev)
		}
		o := storage.ObjectInfo{Key: prev[:shared] + suffix, Size: int64(d.uvarint())}
		prev = o.Key
		flags := d.byte()
		o.Restored = flags&objRestored != 0
		if flags&objClass != 0 {
			class = d.string()
		}
		o.Meta.StorageClass = class
		if full {
			tag := d.string()
			switch {
			case flags&objETagHex != 0:
				o.ETag = hex.EncodeToString([]byte(tag))
			case flags&objETagHEX != 0:
				o.ETag = strings.ToUpper(hex.EncodeToString([]byte(tag)))
			default:
				o.ETag = tag
			}
			modified += d.varint()
			if modified != 0 {
				o.LastModified = time.Unix(0, modified).UTC()
			}
			if flags&objCRC64 != 0 {
				o.CRC64, o.HasCRC64 = d.uint64(), true
			}
			sums := d.uvarint()
			if d.err == nil && sums > uint64(len(b)) {
				return nil, fmt.Errorf("packed objects: %d checksums of %q", sums, o.Key)
			}
			for range sums {
				s := d.string()
				alg, val, ok := strings.Cut(s, ":")
				if d.err == nil && !ok {
					return nil, fmt.Errorf("packed object %q: checksum %q", o.Key, s)
				}
				o.Checksums = append(o.Checksums, storage.Checksum{Alg: storage.Algorithm(alg), Value: val})
			}
		}
		if d.err != nil {
			return nil, d.err
		}
		out = append(out, o)
	}
	if d.err == nil && len(d.b) > 0 {
		return nil, fmt.Errorf("packed objects: %d bytes left over", len(d.b))
	}
	return out, d.err
}

// hexCase is objETagHex for an ETag of lower-case hex digits, objETagHEX
// for upper-case ones, and 0 for any other: an empty one, an odd length,
// a quoted or multipart one, or mixed case, which must come back as it was.
func hexCase(s string) byte {
	if s == "" || len(s)%2 != 0 {
		return 0
	}
	lower, upper := false, false
	for i := range len(s) {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
		case c >= 'a' && c <= 'f':
			lower = true
		case c >= 'A' && c <= 'F':
			upper = true
		default:
			return 0
		}
	}
	switch {
	case lower && upper:
		return 0
	case upper:
		return objETagHEX
	}
	return objETagHex
}

func commonPrefix(a, b string) int {
	n := min(len(a), len(b))
	for i := range n {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// unpacker reads a packed chunk; its first error sticks and every read
// after it returns zero values.
type unpacker struct {
	b   []byte
	err error
}

func (d *unpacker) fail() {
	if d.err == nil {
		d.err = errPackedShort
	}
	d.b = nil
}

func (d *unpacker) byte() byte {
	if len(d.b) < 1 {
		d.fail()
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *unpacker) uvarint() uint64 { return varint(d, binary.Uvarint) }

func (d *unpacker) varint() int64 { return varint(d, binary.Varint) }

// varint reads a varint with read, binary.Uvarint or binary.Varint.
func varint[T uint64 | int64](d *unpacker, read func([]byte) (T, int)) T {
	v, n := read(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *unpacker) uint64() uint64 {
	if len(d.b) < 8 {
		d.fail()
		return 0
	}
	v := binary.LittleEndian.Uint64(d.b)
	d.b = d.b[8:]
	return v
}

func (d *unpacker) string() string {
	n := d.uvarint()
	if d.err != nil {
		return ""
	}
	if n > uint64(len(d.b)) {
		d.fail()
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}
