package storage

import (
	"errors"
	"fmt"
	"io"
)

// ExactBody returns r as the body of an upload of exactly size bytes that
// is sent whole only when r ends well. It holds back r's last byte until r
// has said io.EOF: a source that fails with or after its last byte (a
// download that checks its CRC64 at its end does) makes the body fail
// short, and no backend commits a short body. Without this, a store that
// stops reading at the declared size, or a transport that has sent every
// byte by the time the error comes, stores what the source disowned.
//
// It fails too when r ends before size bytes or holds more. A CRC64Reader
// stays one (its running CRC64 is r's, complete once the body is read), so
// no one hashes the bytes again.
func ExactBody(r io.Reader, size int64) io.Reader {
	b := &exactBody{r: r, left: size, size: size}
	if cr, ok := KnownCRC64(r); ok {
		return &exactCRCBody{exactBody: b, cr: cr}
	}
	return b
}

type exactBody struct {
	r    io.Reader
	left int64 // bytes not yet yielded
	size int64
	err  error // sticky: once failed, always failed
}

type exactCRCBody struct {
	*exactBody
	cr CRC64Reader
}

func (b *exactCRCBody) CRC64() (uint64, bool) { return b.cr.CRC64() }

func (b *exactBody) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	if b.left == 0 {
		if err := b.checkEnd(); err != nil {
			b.err = err
			return 0, err
		}
		return 0, io.EOF
	}
	if b.left > 1 {
		// Everything but the last byte passes straight through.
		if int64(len(p)) > b.left-1 {
			p = p[:b.left-1]
		}
		n, err := b.r.Read(p)
		b.left -= int64(n)
		if errors.Is(err, io.EOF) {
			err = b.short()
		}
		if err != nil {
			b.err = err
		}
		return n, err
	}
	// The last byte: yielded only once the source has ended well.
	var last [1]byte
	for tries := 0; ; tries++ {
		n, err := b.r.Read(last[:])
		if n == 1 {
			if err == nil {
				err = b.checkEnd()
			} else if errors.Is(err, io.EOF) {
				err = nil
			}
			if err != nil {
				b.err = err
				return 0, err
			}
			p[0] = last[0]
			b.left = 0
			return 1, nil
		}
		switch {
		case errors.Is(err, io.EOF):
			b.err = b.short()
			return 0, b.err
		case err != nil:
			b.err = err
			return 0, err
		case tries >= 100:
			b.err = io.ErrNoProgress
			return 0, b.err
		}
	}
}

// checkEnd reads past the last byte: the source must end there, well.
func (b *exactBody) checkEnd() error {
	var one [1]byte
	for range 100 { // readers may return 0, nil a few times
		n, err := b.r.Read(one[:])
		switch {
		case n > 0:
			return fmt.Errorf("body holds more than the %d bytes announced", b.size)
		case errors.Is(err, io.EOF):
			return nil
		case err != nil:
			return err
		}
	}
	return io.ErrNoProgress
}

func (b *exactBody) short() error {
	// Transient (KindOf): the source may read whole next time.
	return fmt.Errorf("body ended %d bytes short of %d: %w", b.left, b.size, io.ErrUnexpectedEOF)
}
