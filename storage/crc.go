package storage

import (
	"hash"
	"hash/crc64"
	"io"
)

// crcTable is the CRC-64/XZ (ECMA-182, reflected) table that OSS and COS
// both use for x-*-hash-crc64ecma.
var crcTable = crc64.MakeTable(crc64.ECMA)

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

// NewCRC64 returns a hash computing the providers' CRC64.
func NewCRC64() hash.Hash64 { return crc64.New(crcTable) }

// CRC64 returns the providers' CRC64 of b.
func CRC64(b []byte) uint64 { return crc64.Checksum(b, crcTable) }

// UpdateCRC64 continues a CRC64 with more bytes.
func UpdateCRC64(crc uint64, b []byte) uint64 { return crc64.Update(crc, crcTable, b) }

// CombineCRC64 returns the CRC64 of A||B from crc(A), crc(B) and len(B),
// without the data: zlib's crc32_combine, widened to 64 bits. Multipart
// uploads use it to know the whole-object checksum from part checksums.
func CombineCRC64(crcA, crcB uint64, lenB int64) uint64 {
	if lenB <= 0 {
		return crcA
	}
	var even, odd [64]uint64
	odd[0] = 0xC96C5795D7870F42 // reflected ECMA-182 polynomial
	row := uint64(1)
	for n := 1; n < 64; n++ {
		odd[n] = row
		row <<= 1
	}
	gf2Square(&even, &odd) // two zero bits
	gf2Square(&odd, &even) // four zero bits
	for {
		gf2Square(&even, &odd)
		if lenB&1 != 0 {
			crcA = gf2Times(&even, crcA)
		}
		lenB >>= 1
		if lenB == 0 {
			break
		}
		gf2Square(&odd, &even)
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

func gf2Square(square, mat *[64]uint64) {
	for n := 0; n < 64; n++ {
		square[n] = gf2Times(mat, mat[n])
	}
}
