package migration

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"
)

// Matcher compiles the include and exclude patterns into a predicate over
// full source keys: a key is kept when it matches some include pattern (or
// there are none) and no exclude pattern.
//
// Patterns are globs: `*` matches any run of characters other than `/`, `?`
// one such character, `[a-z]` / `[!a-z]` a class of them, `\` quotes the
// next character, and `**` matches across segments (`a/**/b` also matches
// `a/b`). A pattern without `/` is matched against the last segment of the
// key, so "*.log" finds logs at any depth. A pattern with `/` is matched
// against the whole key relative to sourcePrefix, and also against the
// whole key itself, so "logs/**" and "data/logs/**" both select the logs of
// a job whose source prefix is "data/". A trailing `/` selects everything
// under a directory ("tmp/" is "tmp/**").
func (f Filters) Matcher(sourcePrefix string) (func(key string) bool, error) {
	include, err := compileGlobs("include", f.Include)
	if err != nil {
		return nil, err
	}
	exclude, err := compileGlobs("exclude", f.Exclude)
	if err != nil {
		return nil, err
	}
	if len(include) == 0 && len(exclude) == 0 {
		return func(string) bool { return true }, nil
	}
	anyMatch := func(res []*regexp.Regexp, key, rel string) bool {
		for _, re := range res {
			if re.MatchString(key) || (rel != key && re.MatchString(rel)) {
				return true
			}
		}
		return false
	}
	return func(key string) bool {
		rel := strings.TrimPrefix(key, sourcePrefix)
		if len(include) > 0 && !anyMatch(include, key, rel) {
			return false
		}
		return !anyMatch(exclude, key, rel)
	}, nil
}

func compileGlobs(field string, patterns []string) ([]*regexp.Regexp, error) {
	res := make([]*regexp.Regexp, 0, len(patterns))
	for i, p := range patterns {
		re, err := compileGlob(p)
		if err != nil {
			return nil, fmt.Errorf("spec.filters.%s[%d]: %w", field, i, err)
		}
		res = append(res, re)
	}
	return res, nil
}

// compileGlob translates a glob into an anchored regular expression. RE2
// matches in linear time, so no pattern can make matching blow up.
func compileGlob(pattern string) (*regexp.Regexp, error) {
	if pattern == "" {
		return nil, errors.New("empty pattern")
	}
	var b strings.Builder
	b.WriteString(`(?s)^`)
	p := pattern
	if !strings.Contains(p, "/") {
		// Last segment: anything up to a slash may come first.
		b.WriteString(`(?:.*/)?`)
	} else {
		p = strings.TrimPrefix(p, "/") // keys have no leading slash
		if strings.HasSuffix(p, "/") {
			p += "**"
		}
	}
	for i := 0; i < len(p); {
		c := p[i]
		switch c {
		case '*':
			j := i
			for j < len(p) && p[j] == '*' {
				j++
			}
			switch {
			case j-i == 1:
				b.WriteString(`[^/]*`)
			case j < len(p) && p[j] == '/' && (i == 0 || p[i-1] == '/'):
				// "**/" as a whole segment: zero or more directories.
				b.WriteString(`(?:.*/)?`)
				j++
			default:
				b.WriteString(`.*`)
			}
			i = j
		case '?':
			b.WriteString(`[^/]`)
			i++
		case '[':
			class, n, err := globClass(p[i:])
			if err != nil {
				return nil, fmt.Errorf("pattern %q: %w", pattern, err)
			}
			b.WriteString(class)
			i += n
		case '\\':
			if i+1 >= len(p) {
				return nil, fmt.Errorf("pattern %q: trailing backslash", pattern)
			}
			r, size := utf8.DecodeRuneInString(p[i+1:])
			b.WriteString(regexp.QuoteMeta(string(r)))
			i += 1 + size
		default:
			r, size := utf8.DecodeRuneInString(p[i:])
			if r == utf8.RuneError && size == 1 {
				return nil, fmt.Errorf("pattern %q: not valid UTF-8", pattern)
			}
			b.WriteString(regexp.QuoteMeta(p[i : i+size]))
			i += size
		}
	}
	b.WriteString(`$`)
	re, err := regexp.Compile(b.String())
	if err != nil {
		return nil, fmt.Errorf("pattern %q: %w", pattern, err)
	}
	return re, nil
}

// globClass translates the character class at the start of s ("[...]") and
// returns the regular expression and the number of bytes consumed. Classes
// never match `/`, like `*` and `?`.
func globClass(s string) (string, int, error) {
	i := 1
	negate := false
	if i < len(s) && (s[i] == '!' || s[i] == '^') {
		negate = true
		i++
	}
	var b strings.Builder
	b.WriteByte('[')
	if negate {
		b.WriteString(`^/`)
	}
	first := true
	for {
		if i >= len(s) {
			return "", 0, errors.New("unclosed [")
		}
		if s[i] == ']' && !first {
			i++
			break
		}
		first = false
		lo, n, err := classChar(s[i:])
		if err != nil {
			return "", 0, err
		}
		i += n
		hi := lo
		if i+1 < len(s) && s[i] == '-' && s[i+1] != ']' {
			hi, n, err = classChar(s[i+1:])
			if err != nil {
				return "", 0, err
			}
			if hi < lo {
				return "", 0, fmt.Errorf("bad range %q-%q", lo, hi)
			}
			i += 1 + n
		}
		// Ranges skip '/', so a class never crosses segments.
		if lo <= '/' && '/' <= hi {
			writeRange(&b, lo, '/'-1)
			writeRange(&b, '/'+1, hi)
		} else {
			writeRange(&b, lo, hi)
		}
	}
	if !negate && b.Len() == 1 {
		return "", 0, errors.New("character class matches only '/', which never matches within a segment")
	}
	b.WriteByte(']')
	return b.String(), i, nil
}

func writeRange(b *strings.Builder, lo, hi rune) {
	if hi < lo {
		return
	}
	b.WriteString(quoteClassRune(lo))
	if hi != lo {
		b.WriteByte('-')
		b.WriteString(quoteClassRune(hi))
	}
}

func classChar(s string) (rune, int, error) {
	n := 0
	if s[0] == '\\' {
		if len(s) < 2 {
			return 0, 0, errors.New("unclosed [")
		}
		n = 1
	}
	r, size := utf8.DecodeRuneInString(s[n:])
	if r == utf8.RuneError && size == 1 {
		return 0, 0, errors.New("not valid UTF-8")
	}
	return r, n + size, nil
}

func quoteClassRune(r rune) string {
	switch r {
	case '\\', ']', '[', '^', '-':
		return `\` + string(r)
	}
	return string(r)
}
