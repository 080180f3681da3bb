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
