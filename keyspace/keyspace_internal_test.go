package keyspace

import "testing"

func TestCommonPrefixCutsAtCharacters(t *testing.T) {
	for _, tc := range []struct {
		q    string
		keys []string
		want string
		ok   bool
	}{
		{"", []string{"abc", "abd"}, "ab", true},
		{"a", []string{"a", "abc", "abd"}, "ab", true}, // q itself is not below q
		{"", []string{"照片1", "照相"}, "照", true},         // 照 is E7 85 A7; 片 E7 89 87, 相 E7 9B B8
		{"", []string{"\u4e00x", "\u4e01x"}, "", true}, // E4 B8 80 vs E4 B8 81: no whole character shared
		{"x/", []string{"x/", "y"}, "", false},
	} {
		got, ok := commonPrefix(tc.q, tc.keys, nil)
		if got != tc.want || ok != tc.ok {
			t.Errorf("commonPrefix(%q, %q) = %q, %v; want %q, %v", tc.q, tc.keys, got, ok, tc.want, tc.ok)
		}
	}
}
