package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/bucketferry/bucketferry/migration"
)

// formatCount writes n with thousands separators, since object counts of a
// migration run into the millions and bare digits are hard to read.
func formatCount(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// formatByteRate is a transfer rate in binary units per second.
func formatByteRate(bytesPerSecond float64) string {
	if bytesPerSecond <= 0 {
		return "0 B/s"
	}
	return humanBytes(int64(bytesPerSecond)) + "/s"
}

// formatObjectRate keeps one decimal for slow rates, where it matters.
func formatObjectRate(perSecond float64) string {
	switch {
	case perSecond <= 0:
		return "0 objects/s"
	case perSecond < 10:
		return fmt.Sprintf("%.1f objects/s", perSecond)
	}
	return formatCount(int64(perSecond+0.5)) + " objects/s"
}

// formatDuration is a compact duration at a precision that suits its size:
// seconds under an hour, minutes under a day, hours beyond.
func formatDuration(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Round(time.Second)/time.Second))
	case d < time.Hour:
		d = d.Round(time.Second)
		return fmt.Sprintf("%dm%02ds", int(d/time.Minute), int(d%time.Minute/time.Second))
	case d < 24*time.Hour:
		d = d.Round(time.Minute)
		return fmt.Sprintf("%dh%02dm", int(d/time.Hour), int(d%time.Hour/time.Minute))
	}
	d = d.Round(time.Hour)
	return fmt.Sprintf("%dd%02dh", int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour))
}

// formatLocation writes a location the way the -source and -destination
// flags take it: STORE or STORE:PREFIX.
func formatLocation(l migration.Location) string { return l.String() }

// parseLocation reads STORE[:PREFIX]. Store names never hold a colon, so
// the first one separates them and a prefix may hold more.
func parseLocation(s string) (migration.Location, error) {
	store, prefix, _ := strings.Cut(s, ":")
	if store == "" {
		return migration.Location{}, fmt.Errorf("%q: want STORE or STORE:PREFIX", s)
	}
	return migration.Location{Store: store, Prefix: prefix}, nil
}

// truncate shortens s to at most n runes, marking the cut.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	if n <= 1 {
		return "…"
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// shellQuote quotes s for a POSIX shell, so a printed command line can be
// pasted as it is whatever the keys and prefixes contain.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:=@,+%", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// formatFailure is one line of a failure sample.
func formatFailure(f migration.Failure) string {
	s := fmt.Sprintf("%q (%s): %s", f.Key, humanBytes(f.Size), f.Reason)
	if f.Attempts > 1 {
		s += fmt.Sprintf(" [%d attempts]", f.Attempts)
	}
	return s
}
