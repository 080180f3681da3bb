package activities

import (
	"slices"
	"testing"
)

func TestCutRanges(t *testing.T) {
	keys := func(n int) []string {
		ks := make([]string, n)
		for i := range ks {
			ks[i] = string(rune('A' + i))
		}
		return ks
	}
	for _, c := range []struct {
		n, maxRanges, pageSize, minKeys int
		want                            string
	}{
		{0, 4, 10, 2, ""},
		// As many ranges as allowed, of at least minKeys.
		{12, 4, 10, 2, "CFIL"},
		{12, 4, 10, 5, "FL"},
		{12, 1, 10, 1, "FL"}, // never over a page, even past maxRanges
		{7, 10, 10, 1, "ABCDEFG"},
		{5, 3, 10, 0, "BDE"},
	} {
		got := cutRanges(keys(c.n), c.maxRanges, c.pageSize, c.minKeys)
		if want := slices.Collect(func(yield func(string) bool) {
			for _, r := range c.want {
				if !yield(string(r)) {
					return
				}
			}
		}); !slices.Equal(got, want) {
			t.Errorf("cutRanges(%d keys, max %d, page %d, min %d) = %v, want %v", c.n, c.maxRanges, c.pageSize, c.minKeys, got, want)
		}
	}
}
