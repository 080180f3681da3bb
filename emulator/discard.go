package emulator

import (
	"crypto/md5"
	"io"

	"github.com/bucketferry/bucketferry/storage"
)

// Discarding buckets receive bodies, hash them (MD5 for the ETag, CRC64 for
// the CRC header) and keep only the size, so that a benchmark or a scale run
// can write gigabytes or millions of objects to the emulator without it
// holding them: the destination still answers listings, HEADs and the CRC64
// a client checks, but a GET of such a body fails.

// errDiscarded answers a read of a discarded body.
var errDiscarded = &APIError{501, "NotImplemented", "the body of this object was discarded (emulator discard bucket): only its size, ETag and CRC64 are kept"}

// discardBlob is a received body of which only the size is kept.
type discardBlob struct{ size int64 }

func (b discardBlob) Size() int64 { return b.size }

func (b discardBlob) Open(off, n int64) (io.ReadCloser, error) { return nil, errDiscarded }

// DiscardBodies makes the backend drop the bodies written to a bucket from
// now on (objects and parts), keeping their size, ETag and CRC64.
func (b *Backend) DiscardBodies(bucketName string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.discard == nil {
		b.discard = map[string]bool{}
	}
	b.discard[bucketName] = true
}

// spoolBody is spool for a body written to bucketName: discarded when the
// bucket discards bodies.
func (b *Backend) spoolBody(bucketName string, r io.Reader, size int64) (Blob, []byte, uint64, string, error) {
	b.mu.RLock()
	discard := b.discard[bucketName]
	b.mu.RUnlock()
	if !discard {
		return b.spool(r, size)
	}
	h := md5.New()
	c := storage.NewCRC64()
	n, err := b.copy(io.MultiWriter(h, c), r)
	if err != nil {
		return nil, nil, 0, "", err
	}
	if size >= 0 && n != size {
		return nil, nil, 0, "", apiErr(400, "IncompleteBody", "got %d of %d bytes", n, size)
	}
	return discardBlob{size: n}, h.Sum(nil), c.Sum64(), "", nil
}
