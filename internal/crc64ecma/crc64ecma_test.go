package crc64ecma

import (
	"bytes"
	"hash/crc64"
	"math/rand/v2"
	"testing"
)

func random(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 7))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// TestMatchesTable holds every length to 2 KiB at every alignment within a
// lane, and some long inputs, against hash/crc64, from several starting
// CRCs; and the vector path against the table on the same inputs.
func TestMatchesTable(t *testing.T) {
	if !hasCLMUL {
		t.Log("no carry-less multiplication on this CPU: only the table is tested")
	}
	buf := random(1<<20+64, 1)
	for _, start := range []uint64{0, 1, 0xffffffffffffffff, 0x0123456789abcdef} {
		for off := range 16 {
			for n := 0; n <= 2048; n++ {
				p := buf[off : off+n]
				if got, want := Update(start, p), crc64.Update(start, table, p); got != want {
					t.Fatalf("Update(%#x, %d bytes at offset %d) = %#x, want %#x", start, n, off, got, want)
				}
			}
		}
		for _, n := range []int{4096, 65536 + 17, 1 << 20} {
			p := buf[3 : 3+n]
			if got, want := Update(start, p), crc64.Update(start, table, p); got != want {
				t.Fatalf("Update(%#x, %d bytes) = %#x, want %#x", start, n, got, want)
			}
		}
	}
	// Known answer: CRC-64/XZ's check value.
	if got := Checksum([]byte("123456789")); got != 0x995dc9bbdf1939fa {
		t.Errorf("Checksum(123456789) = %#x, want 0x995dc9bbdf1939fa", got)
	}
}

// TestHashWrites: the hash gives the same sum however the input is cut.
func TestHashWrites(t *testing.T) {
	buf := random(100000, 2)
	want := crc64.Checksum(buf, table)
	r := rand.New(rand.NewPCG(3, 3))
	for range 50 {
		h := New()
		for p := buf; len(p) > 0; {
			n := min(len(p), r.IntN(5000))
			h.Write(p[:n])
			p = p[n:]
		}
		if h.Sum64() != want {
			t.Fatalf("Sum64 = %#x, want %#x", h.Sum64(), want)
		}
		ref := crc64.New(table)
		ref.Write(buf)
		if !bytes.Equal(h.Sum(nil), ref.Sum(nil)) {
			t.Fatalf("Sum = %x, want %x", h.Sum(nil), ref.Sum(nil))
		}
	}
}

func FuzzUpdate(f *testing.F) {
	f.Add(uint64(0), random(300, 4))
	f.Add(uint64(99), random(1024, 5))
	f.Fuzz(func(t *testing.T, start uint64, p []byte) {
		if got, want := Update(start, p), crc64.Update(start, table, p); got != want {
			t.Fatalf("Update(%#x, %d bytes) = %#x, want %#x", start, len(p), got, want)
		}
	})
}

func BenchmarkUpdate(b *testing.B) {
	for _, n := range []int{4 << 10, 1 << 20} {
		p := random(n, 6)
		b.Run("crc64ecma/"+size(n), func(b *testing.B) {
			b.SetBytes(int64(n))
			for b.Loop() {
				Update(0, p)
			}
		})
		b.Run("hash-crc64/"+size(n), func(b *testing.B) {
			b.SetBytes(int64(n))
			for b.Loop() {
				crc64.Update(0, table, p)
			}
		})
	}
}

func size(n int) string {
	if n >= 1<<20 {
		return "1MiB"
	}
	return "4KiB"
}
