package emulator

import (
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
)

// Blob is an object's immutable body.
type Blob interface {
	Size() int64
	// Open returns a reader of n bytes starting at off.
	Open(off, n int64) (io.ReadCloser, error)
}

type memBlob []byte

func (b memBlob) Size() int64 { return int64(len(b)) }

func (b memBlob) Open(off, n int64) (io.ReadCloser, error) {
	return io.NopCloser(io.NewSectionReader(readerAtBytes(b), off, n)), nil
}

type readerAtBytes []byte

func (b readerAtBytes) ReadAt(p []byte, off int64) (int, error) {
	if off >= int64(len(b)) {
		return 0, io.EOF
	}
	n := copy(p, b[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// fileBlob is a body spooled to disk (on-disk backends).
type fileBlob struct {
	path string
	size int64
}

func (b fileBlob) Size() int64 { return b.size }

func (b fileBlob) Open(off, n int64) (io.ReadCloser, error) {
	f, err := os.Open(b.path)
	if err != nil {
		return nil, err
	}
	return struct {
		io.Reader
		io.Closer
	}{io.NewSectionReader(f, off, n), f}, nil
}

// genBlob is pseudo-random content computed on demand from a seed, so a data
// set of any size costs no memory. Any offset can be read directly: content
// is generated in independent 64 KiB blocks.
type genBlob struct {
	seed uint64
	size int64
}

const genBlock = 64 << 10

// GeneratedBlob returns a blob of size bytes of deterministic pseudo-random
// content derived from seed.
func GeneratedBlob(seed uint64, size int64) Blob { return genBlob{seed: seed, size: size} }

func (b genBlob) Size() int64 { return b.size }

func (b genBlob) Open(off, n int64) (io.ReadCloser, error) {
	if off < 0 || off+n > b.size {
		return nil, fmt.Errorf("range %d+%d outside blob of %d bytes", off, n, b.size)
	}
	return &genReader{b: b, off: off, end: off + n}, nil
}

type genReader struct {
	b        genBlob
	off, end int64
	block    int64 // index of the block in buf, -1 if none
	buf      []byte
}

func (r *genReader) Read(p []byte) (int, error) {
	if r.off >= r.end {
		return 0, io.EOF
	}
	n := copy(p, r.next())
	r.off += int64(n)
	return n, nil
}

// WriteTo hands w the generated blocks themselves: io.Copy would otherwise
// allocate a 32 KiB buffer for every GET.
func (r *genReader) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for r.off < r.end {
		n, err := w.Write(r.next())
		r.off += int64(n)
		total += int64(n)
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// next is the rest of the current block, up to the end of the range.
func (r *genReader) next() []byte {
	if r.buf == nil {
		// A small object needs only its own bytes of its one block: neither
		// a whole 64 KiB buffer nor the pseudo-random numbers past its end.
		r.buf = make([]byte, min(genBlock, (r.b.size+7)&^7))
		r.block = -1
	}
	idx := r.off / genBlock
	if idx != r.block {
		fillBlock(r.buf[:min(int64(len(r.buf)), (r.b.size-idx*genBlock+7)&^7)], r.b.seed, idx)
		r.block = idx
	}
	in := r.off - idx*genBlock
	avail := int64(genBlock) - in
	if rem := r.end - r.off; rem < avail {
		avail = rem
	}
	return r.buf[in : in+avail]
}

func (r *genReader) Close() error { return nil }

func fillBlock(buf []byte, seed uint64, idx int64) {
	src := rand.NewPCG(seed, uint64(idx)*0x9E3779B97F4A7C15+1)
	for i := 0; i+8 <= len(buf); i += 8 {
		binary.LittleEndian.PutUint64(buf[i:], src.Uint64())
	}
}

// multiBlob is the concatenation of parts, so completing a multipart upload
// copies nothing.
type multiBlob struct {
	parts []Blob
	size  int64
}

func newMultiBlob(parts []Blob) multiBlob {
	m := multiBlob{parts: parts}
	for _, p := range parts {
		m.size += p.Size()
	}
	return m
}

func (m multiBlob) Size() int64 { return m.size }

func (m multiBlob) Open(off, n int64) (io.ReadCloser, error) {
	var readers []io.Reader
	var closers []io.Closer
	pos := int64(0)
	for _, p := range m.parts {
		ps := p.Size()
		if n > 0 && off < pos+ps && off+n > pos {
			start := max(off, pos) - pos
			end := min(off+n, pos+ps) - pos
			rc, err := p.Open(start, end-start)
			if err != nil {
				for _, c := range closers {
					c.Close()
				}
				return nil, err
			}
			readers = append(readers, rc)
			closers = append(closers, rc)
		}
		pos += ps
	}
	return &multiReadCloser{Reader: io.MultiReader(readers...), closers: closers}, nil
}

type multiReadCloser struct {
	io.Reader
	closers []io.Closer
}

func (m *multiReadCloser) Close() error {
	var first error
	for _, c := range m.closers {
		if err := c.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}
