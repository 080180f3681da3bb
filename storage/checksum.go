package storage

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"hash"
	"hash/crc32"
	"hash/crc64"
	"strings"
)

// Algorithm names a family of whole-object checksum. Stores report
// different families: OSS, COS and local stores CRC-64/XZ (ECMA-182), S3
// stores the MD5 of a single-part object (its ETag) and, when the object
// was uploaded with one, a full-object CRC32, CRC32C, CRC64NVME, SHA-1 or
// SHA-256. A copy verifies each side in the family that side reports.
type Algorithm string

// Checksum algorithms. The zero Algorithm is CRC64ECMA, so a Limits without
// a Checksum describes the stores that predate the others.
const (
	CRC64ECMA Algorithm = "crc64ecma"
	MD5       Algorithm = "md5"
	CRC32     Algorithm = "crc32"
	CRC32C    Algorithm = "crc32c"
	CRC64NVME Algorithm = "crc64nvme"
	SHA1      Algorithm = "sha1"
	SHA256    Algorithm = "sha256"
)

// Algorithms lists every family, the cheapest to compute first: the order
// in which a comparison picks one both sides report.
var algorithms = [...]Algorithm{CRC64ECMA, CRC64NVME, CRC32C, CRC32, MD5, SHA1, SHA256}

// Algorithms returns every known family, cheapest first.
func Algorithms() []Algorithm { return algorithms[:] }

// crc64NVMETable is CRC-64/NVME's polynomial, bit-reversed as hash/crc64
// wants it (S3's x-amz-checksum-crc64nvme).
var crc64NVMETable = crc64.MakeTable(0x9a6c9329ac4bc9b5)

var crc32CTable = crc32.MakeTable(crc32.Castagnoli)

// NewHash returns a hash of the family; its Sum(nil) is the big-endian
// checksum, which Checksum.Value spells in hex.
func NewHash(alg Algorithm) (hash.Hash, error) {
	switch alg {
	case CRC64ECMA, "":
		return NewCRC64(), nil
	case CRC64NVME:
		return crc64.New(crc64NVMETable), nil
	case CRC32:
		return crc32.NewIEEE(), nil
	case CRC32C:
		return crc32.New(crc32CTable), nil
	case MD5:
		return md5.New(), nil
	case SHA1:
		return sha1.New(), nil
	case SHA256:
		return sha256.New(), nil
	}
	return nil, fmt.Errorf("unknown checksum algorithm %q", alg)
}

// Checksum is one whole-object checksum: Value is the lower-case hex of its
// big-endian bytes, whatever the provider's own spelling (S3 says base64,
// OSS and COS a decimal CRC64).
type Checksum struct {
	Alg   Algorithm `json:"alg"`
	Value string    `json:"value"`
}

func (c Checksum) String() string { return string(c.Alg) + ":" + c.Value }

// HashValue is the Checksum.Value of a hash's current sum.
func HashValue(h hash.Hash) string { return hex.EncodeToString(h.Sum(nil)) }

// SumUint is a CRC hash's current value as a number (0 for other hashes).
func SumUint(h hash.Hash) uint64 {
	switch h := h.(type) {
	case hash.Hash64:
		return h.Sum64()
	case hash.Hash32:
		return uint64(h.Sum32())
	}
	return 0
}

// CRC64Value is the Checksum.Value of a CRC64.
func CRC64Value(crc uint64) string { return fmt.Sprintf("%016x", crc) }

// ChecksumFromBase64 converts a checksum in S3's spelling (base64 of the
// big-endian bytes) to a Checksum; ok is false for anything else, such as
// the "...-N" of a composite checksum of parts.
func ChecksumFromBase64(alg Algorithm, v string) (Checksum, bool) {
	b, err := base64.StdEncoding.DecodeString(v)
	if err != nil || len(b) == 0 {
		return Checksum{}, false
	}
	return Checksum{Alg: alg, Value: hex.EncodeToString(b)}, true
}

// MD5FromETag reads an ETag that is the MD5 of the object (a single-part
// upload without KMS encryption): 32 hex digits, quotes optional.
func MD5FromETag(etag string) (Checksum, bool) {
	e := strings.ToLower(strings.Trim(etag, `"`))
	if len(e) != 32 {
		return Checksum{}, false
	}
	if _, err := hex.DecodeString(e); err != nil {
		return Checksum{}, false
	}
	return Checksum{Alg: MD5, Value: e}, true
}

// Sum returns the object's checksum of a family, when it reports one: its
// CRC64 for CRC64ECMA, otherwise one of its Checksums.
func (o ObjectInfo) Sum(alg Algorithm) (string, bool) {
	return sumOf(alg, o.CRC64, o.HasCRC64, o.Checksums)
}

// Sums lists every checksum the object reports, CRC64 included.
func (o ObjectInfo) Sums() []Checksum {
	var out []Checksum
	if o.HasCRC64 {
		out = append(out, Checksum{Alg: CRC64ECMA, Value: CRC64Value(o.CRC64)})
	}
	return append(out, o.Checksums...)
}

// Sum returns the checksum of a family a write reported.
func (r PutResult) Sum(alg Algorithm) (string, bool) {
	return sumOf(alg, r.CRC64, r.HasCRC64, r.Checksums)
}

// Sum returns the checksum of a family of one part.
func (p Part) Sum(alg Algorithm) (string, bool) {
	return sumOf(alg, p.CRC64, p.HasCRC64, p.Checksums)
}

func sumOf(alg Algorithm, crc uint64, hasCRC bool, sums []Checksum) (string, bool) {
	if alg == CRC64ECMA || alg == "" {
		if hasCRC {
			return CRC64Value(crc), true
		}
	}
	for _, c := range sums {
		if c.Alg == alg {
			return c.Value, true
		}
	}
	return "", false
}

// Common finds a family both objects report, cheapest first, and both
// values; ok is false when they share none.
func Common(a, b ObjectInfo) (alg Algorithm, va, vb string, ok bool) {
	for _, alg := range algorithms {
		va, oka := a.Sum(alg)
		vb, okb := b.Sum(alg)
		if oka && okb {
			return alg, va, vb, true
		}
	}
	return "", "", "", false
}

// SameContent compares two objects by size and by a checksum both report.
// known is false when sizes agree but no family is shared: then only a
// read of the bodies can tell.
func SameContent(a, b ObjectInfo) (same, known bool) {
	if a.Size != b.Size {
		return false, true
	}
	_, va, vb, ok := Common(a, b)
	if !ok {
		return false, false
	}
	return va == vb, true
}

// Preferred is the family a store's objects are best compared in: its
// Limits' Checksum, or CRC64ECMA.
func (l Limits) Preferred() Algorithm {
	if l.Checksum == "" {
		return CRC64ECMA
	}
	return l.Checksum
}
