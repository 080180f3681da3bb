package storage

import (
	"fmt"
	"hash"
	"io"

	"github.com/bucketferry/bucketferry/internal/crc64ecma"
)

// CRC64Reader is a reader that knows the CRC64 of the bytes it has yielded.
// CRC64 is most of the CPU a copy costs (a GET checked against its CRC
// header, the copier's own check, an upload checked against the answer's
// CRC header), so whoever is handed one uses its running value instead of
// hashing the same bytes again.
type CRC64Reader interface {
	io.Reader
	// CRC64 returns the CRC64 of the bytes read so far, and false when the
	// reader does not hash (a ranged read, for example).
	CRC64() (uint64, bool)
}

// KnownCRC64 returns r as a CRC64Reader when it is one that hashes.
func KnownCRC64(r io.Reader) (CRC64Reader, bool) {
	cr, ok := r.(CRC64Reader)
	if !ok {
		return nil, false
	}
	_, known := cr.CRC64()
	return cr, known
}

// HashingCRC64 returns r when it hashes what it yields already (a
// CRC64Reader that knows its CRC64), or r wrapped in a reader that does: an
// upload checks the CRC64 its answer reports against that of the bytes it
// sent.
func HashingCRC64(r io.Reader) CRC64Reader {
	if cr, ok := KnownCRC64(r); ok {
		return cr
	}
	return &crcReader{r: r}
}

type crcReader struct {
	r   io.Reader
	crc uint64
}

func (c *crcReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.crc = UpdateCRC64(c.crc, p[:n])
	return n, err
}

func (c *crcReader) CRC64() (uint64, bool) { return c.crc, true }

// NewCRC64 returns a hash computing the providers' CRC64 (CRC-64/XZ,
// ECMA-182 reflected, that OSS and COS both report in x-*-hash-crc64ecma).
func NewCRC64() hash.Hash64 { return crc64ecma.New() }

// CRC64 returns the providers' CRC64 of b.
func CRC64(b []byte) uint64 { return crc64ecma.Checksum(b) }

// UpdateCRC64 continues a CRC64 with more bytes.
func UpdateCRC64(crc uint64, b []byte) uint64 { return crc64ecma.Update(crc, b) }

// CombineCRC64 returns the CRC64 of A||B from crc(A), crc(B) and len(B),
// without the data: zlib's crc32_combine, widened to 64 bits. Multipart
// uploads use it to know the whole-object checksum from part checksums.
func CombineCRC64(crcA, crcB uint64, lenB int64) uint64 {
	return crcCombine(crc64ECMAPoly, 64, crcA, crcB, lenB)
}

// Reversed polynomials of the CRC families, as hash/crc32 and hash/crc64
// take them.
const (
	crc64ECMAPoly = 0xC96C5795D7870F42
	crc64NVMEPoly = 0x9a6c9329ac4bc9b5
	crc32IEEEPoly = 0xEDB88320
	crc32CPoly    = 0x82F63B78
)

// Combinable reports whether checksums of the family can be combined from
// those of consecutive pieces (the CRCs can, MD5 and SHA cannot): what a
// copy in parts needs to check a whole-object checksum.
func Combinable(alg Algorithm) bool {
	_, _, ok := crcParams(alg)
	return ok
}

func crcParams(alg Algorithm) (poly uint64, width int, ok bool) {
	switch alg {
	case CRC64ECMA:
		return crc64ECMAPoly, 64, true
	case CRC64NVME:
		return crc64NVMEPoly, 64, true
	case CRC32:
		return crc32IEEEPoly, 32, true
	case CRC32C:
		return crc32CPoly, 32, true
	}
	return 0, 0, false
}

// CombineChecksum returns the checksum of A||B in a CRC family from those
// of A and B and len(B); ok is false for a family that cannot be combined.
func CombineChecksum(alg Algorithm, a, b uint64, lenB int64) (uint64, bool) {
	poly, width, ok := crcParams(alg)
	if !ok {
		return 0, false
	}
	return crcCombine(poly, width, a, b, lenB), true
}

// ChecksumValue spells a CRC of the family as Checksum.Value does.
func ChecksumValue(alg Algorithm, v uint64) string {
	if _, width, ok := crcParams(alg); ok && width == 32 {
		return fmt.Sprintf("%08x", uint32(v))
	}
	return fmt.Sprintf("%016x", v)
}

// crcCombine is zlib's crc32_combine for a reflected CRC of width bits (32
// or 64) with the reversed polynomial poly.
func crcCombine(poly uint64, width int, crcA, crcB uint64, lenB int64) uint64 {
	if lenB <= 0 {
		return crcA
	}
	var even, odd [64]uint64
	odd[0] = poly
	row := uint64(1)
	for n := 1; n < width; n++ {
		odd[n] = row
		row <<= 1
	}
	gf2Square(&even, &odd, width) // two zero bits
	gf2Square(&odd, &even, width) // four zero bits
	for {
		gf2Square(&even, &odd, width)
		if lenB&1 != 0 {
			crcA = gf2Times(&even, crcA)
		}
		lenB >>= 1
		if lenB == 0 {
			break
		}
		gf2Square(&odd, &even, width)
		if lenB&1 != 0 {
			crcA = gf2Times(&odd, crcA)
		}
		lenB >>= 1
		if lenB == 0 {
			break
		}
	}
	return crcA ^ crcB
}

func gf2Times(mat *[64]uint64, vec uint64) uint64 {
	var sum uint64
	for i := 0; vec != 0; i, vec = i+1, vec>>1 {
		if vec&1 != 0 {
			sum ^= mat[i]
		}
	}
	return sum
}

func gf2Square(square, mat *[64]uint64, width int) {
	for n := 0; n < width; n++ {
		square[n] = gf2Times(mat, mat[n])
	}
}
