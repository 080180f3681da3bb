package config

import (
	"strings"
	"testing"
)

func TestParseByteSize(t *testing.T) {
	good := map[string]ByteSize{
		"0":          0,
		"1048576":    MiB,
		"64MiB":      64 * MiB,
		"64mib":      64 * MiB,
		"64 MiB":     64 * MiB,
		"64Mi":       64 * MiB,
		"1.5GiB":     GiB + GiB/2,
		"2TiB":       2 * TiB,
		"512KiB":     512 * KiB,
		"10MB":       10_000_000,
		"10M":        10_000_000,
		"1kB":        1000,
		"1GB":        1_000_000_000,
		"100B":       100,
		" 8 MiB ":    8 * MiB,
		"1073741824": GiB,
	}
	for in, want := range good {
		got, err := ParseByteSize(in)
		if err != nil || got != want {
			t.Errorf("ParseByteSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	bad := map[string]string{
		"":           "empty",
		"MiB":        "not a number",
		"64XB":       "unknown unit",
		"-1":         "negative",
		"-1MiB":      "negative",
		"1.5":        "whole number",
		"0.3B":       "whole number",
		"1e9":        "unknown unit",
		"9000000TiB": "too large",
		"1..2MiB":    "not a number",
	}
	for in, want := range bad {
		_, err := ParseByteSize(in)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseByteSize(%q) error %v, want one saying %q", in, err, want)
		}
	}
}

func TestByteSizeRoundTrip(t *testing.T) {
	for _, b := range []ByteSize{0, 1, 1000, KiB, 64 * MiB, 3 * GiB, 5 * TiB, 16*MiB + 1} {
		s := b.String()
		back, err := ParseByteSize(s)
		if err != nil || back != b {
			t.Errorf("%d -> %q -> %d, %v", b, s, back, err)
		}
	}
	if s := (64 * MiB).String(); s != "64MiB" {
		t.Errorf("64MiB formats as %q", s)
	}
	var b ByteSize
	if err := b.UnmarshalText([]byte("2GiB")); err != nil || b != 2*GiB {
		t.Errorf("UnmarshalText: %v %v", b, err)
	}
}
