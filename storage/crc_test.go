package storage

import (
	"math/rand/v2"
	"testing"
)

func TestCRC64KnownValue(t *testing.T) {
	if got := CRC64([]byte("123456789")); got != 0x995dc9bbdf1939fa {
		t.Fatalf("CRC64(123456789) = %#x, want 0x995dc9bbdf1939fa", got)
	}
}

func TestCombineCRC64(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, sizes := range [][2]int{{0, 0}, {0, 5}, {5, 0}, {1, 1}, {1000, 3}, {7, 65536}, {100003, 99991}} {
		a := make([]byte, sizes[0])
		b := make([]byte, sizes[1])
		for i := range a {
			a[i] = byte(r.Uint32())
		}
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		want := CRC64(append(append([]byte{}, a...), b...))
		if got := CombineCRC64(CRC64(a), CRC64(b), int64(len(b))); got != want {
			t.Errorf("combine(%d,%d) = %#x, want %#x", sizes[0], sizes[1], got, want)
		}
	}
}

func randBytes(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// Every CRC family combines: what a copy in parts checks a source's
// full-object CRC32, CRC32C or CRC64NVME by.
func TestCombineChecksum(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, alg := range []Algorithm{CRC64ECMA, CRC64NVME, CRC32, CRC32C} {
		for _, sizes := range [][2]int{{0, 7}, {5, 0}, {1, 1}, {1000, 3}, {65536, 100003}} {
			a, b := randBytes(r, sizes[0]), randBytes(r, sizes[1])
			sum := func(parts ...[]byte) uint64 {
				h, _ := NewHash(alg)
				for _, p := range parts {
					h.Write(p)
				}
				return SumUint(h)
			}
			got, ok := CombineChecksum(alg, sum(a), sum(b), int64(len(b)))
			if want := sum(a, b); !ok || got != want {
				t.Errorf("%s combine(%d,%d) = %#x, want %#x", alg, sizes[0], sizes[1], got, want)
			}
			h, _ := NewHash(alg)
			h.Write(a)
			h.Write(b)
			if v := ChecksumValue(alg, sum(a, b)); v != HashValue(h) {
				t.Errorf("%s value %s, hash says %s", alg, v, HashValue(h))
			}
		}
	}
	if Combinable(MD5) || Combinable(SHA256) {
		t.Error("MD5 or SHA-256 said to be combinable")
	}
	// CRC-64/NVME's check value.
	h, _ := NewHash(CRC64NVME)
	h.Write([]byte("123456789"))
	if got := SumUint(h); got != 0xae8b14860a799888 {
		t.Errorf("CRC64NVME(123456789) = %#x", got)
	}
}

func TestJustBeforeAndAfter(t *testing.T) {
	keys := []string{"", "a", "a/", "a/b", "a0", "aa", "ab", "b", "é", "éa", "z\x00", "z\x00\x01"}
	for _, k := range keys {
		b := JustBefore(k)
		for _, other := range keys {
			if other < k && other > b {
				t.Errorf("JustBefore(%q) = %q excludes %q, which sorts below %q", k, b, other, k)
			}
			if other >= k && other <= b && k != "" {
				t.Errorf("JustBefore(%q) = %q covers %q", k, b, other)
			}
		}
		if a := JustAfter(k); !(a > k) {
			t.Errorf("JustAfter(%q) = %q", k, a)
		}
	}
}
