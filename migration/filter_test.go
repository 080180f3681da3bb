package migration

import (
	"strings"
	"testing"
)

func TestMatcher(t *testing.T) {
	tests := []struct {
		name    string
		filters Filters
		prefix  string
		keep    []string
		drop    []string
	}{
		{
			name: "no patterns keeps all",
			keep: []string{"a", "a/b/c", ""},
		},
		{
			name:    "last segment",
			filters: Filters{Include: []string{"*.log"}},
			keep:    []string{"x.log", "a/b/x.log", ".log"},
			drop:    []string{"x.log/y", "x.txt", "a.log.gz"},
		},
		{
			name:    "question mark and class",
			filters: Filters{Include: []string{"part-?[0-9]"}},
			keep:    []string{"d/part-a1", "part-x9"},
			drop:    []string{"part-ab", "part-a", "part-/1"},
		},
		{
			name:    "negated class never matches slash",
			filters: Filters{Include: []string{"a/[!x]b"}},
			keep:    []string{"a/cb"},
			drop:    []string{"a/xb", "a//b"},
		},
		{
			name:    "range spanning slash",
			filters: Filters{Include: []string{"a[+-0]b"}},
			keep:    []string{"a+b", "a.b", "a0b"},
			drop:    []string{"a/b"},
		},
		{
			name:    "star stays in segment",
			filters: Filters{Include: []string{"logs/*"}},
			keep:    []string{"logs/a", "logs/"},
			drop:    []string{"logs/a/b", "x/logs/a"},
		},
		{
			name:    "double star crosses",
			filters: Filters{Include: []string{"logs/**"}},
			keep:    []string{"logs/a", "logs/a/b/c"},
			drop:    []string{"logsx/a", "x/logs/a"},
		},
		{
			name:    "double star as segment matches zero dirs",
			filters: Filters{Include: []string{"a/**/b.txt"}},
			keep:    []string{"a/b.txt", "a/x/b.txt", "a/x/y/b.txt"},
			drop:    []string{"a/xb.txt", "b.txt"},
		},
		{
			name:    "leading double star",
			filters: Filters{Include: []string{"**/tmp/*"}},
			keep:    []string{"tmp/a", "x/y/tmp/a"},
			drop:    []string{"x/tmp/a/b"},
		},
		{
			name:    "double star inside segment",
			filters: Filters{Include: []string{"a**z/q"}},
			keep:    []string{"az/q", "a/b/z/q", "abcz/q"},
			drop:    []string{"a/q"},
		},
		{
			name:    "trailing slash is directory",
			filters: Filters{Exclude: []string{"tmp/"}},
			keep:    []string{"tmpx/a", "a/tmp/b"},
			drop:    []string{"tmp/a", "tmp/a/b"},
		},
		{
			name:    "include and exclude",
			filters: Filters{Include: []string{"*.jpg", "*.png"}, Exclude: []string{"thumbs/**"}},
			keep:    []string{"img/a.jpg", "b.png"},
			drop:    []string{"thumbs/a.jpg", "a.gif"},
		},
		{
			name:    "relative to source prefix or full key",
			filters: Filters{Include: []string{"logs/**", "data/keep/*"}},
			prefix:  "data/",
			keep:    []string{"data/logs/a", "data/keep/x"},
			drop:    []string{"data/other/a", "data/keep/x/y"},
		},
		{
			name:    "escapes and regexp metacharacters are literal",
			filters: Filters{Include: []string{`a\*b.(c)+`}},
			keep:    []string{"a*b.(c)+"},
			drop:    []string{"axb.(c)+", "a*bx(c)+", "a*b.(c)"},
		},
		{
			name:    "unicode",
			filters: Filters{Include: []string{"照片/?.jpg"}},
			keep:    []string{"照片/猫.jpg"},
			drop:    []string{"照片/猫猫.jpg"},
		},
		{
			name:    "newline in key",
			filters: Filters{Include: []string{"a*b"}},
			keep:    []string{"a\nb"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			match, err := tt.filters.Matcher(tt.prefix)
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range tt.keep {
				if !match(k) {
					t.Errorf("%q dropped, want kept", k)
				}
			}
			for _, k := range tt.drop {
				if match(k) {
					t.Errorf("%q kept, want dropped", k)
				}
			}
		})
	}
}

func TestMatcherErrors(t *testing.T) {
	for _, p := range []string{"", "a[bc", `a\`, "[z-a]", "[/]", "a/[", "\xff"} {
		_, err := Filters{Exclude: []string{"ok", p}}.Matcher("")
		if err == nil {
			t.Errorf("pattern %q: no error", p)
			continue
		}
		if !strings.Contains(err.Error(), "spec.filters.exclude[1]") {
			t.Errorf("pattern %q: error %q does not name the field", p, err)
		}
	}
}
