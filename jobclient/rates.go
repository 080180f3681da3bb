package jobclient

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/bucketferry/bucketferry/config"
	"github.com/bucketferry/bucketferry/migration"
)

// ParseBandwidth reads a rate in bytes per second: a size in bytes
// ("50MiB", "1.5GB", "1048576", "/s" optional) or in bits, decimal as
// network rates are ("100Mbit", "1Gbps"); "0" and "unlimited" are 0.
func ParseBandwidth(s string) (int64, error) {
	t := strings.TrimSpace(s)
	if strings.EqualFold(t, "unlimited") {
		return 0, nil
	}
	t = strings.TrimSuffix(strings.TrimSuffix(t, "/s"), "ps")
	lower := strings.ToLower(t)
	if strings.HasSuffix(lower, "bit") || (strings.HasSuffix(t, "b") && !strings.HasSuffix(t, "B")) {
		num := strings.TrimSuffix(strings.TrimSuffix(lower, "bit"), "b")
		mult := 1.0
		if num != "" {
			switch num[len(num)-1] {
			case 'k':
				mult, num = 1e3, num[:len(num)-1]
			case 'm':
				mult, num = 1e6, num[:len(num)-1]
			case 'g':
				mult, num = 1e9, num[:len(num)-1]
			}
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
		if err != nil || v < 0 || math.IsInf(v, 0) || math.IsNaN(v) {
			return 0, fmt.Errorf("%q is not a rate such as 100Mbit, 50MiB or 0", s)
		}
		return int64(v * mult / 8), nil
	}
	n, err := config.ParseByteSize(t)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%q is not a rate such as 100Mbit, 50MiB or 0", s)
	}
	return int64(n), nil
}

// ParseWindow reads a bandwidth window FROM-TO=RATE[@OFFSET], such as
// 08:00-20:00=100Mbit@+08:00.
func ParseWindow(s string) (migration.BandwidthWindow, error) {
	bad := fmt.Errorf("%q is not a window such as 08:00-20:00=100Mbit@+08:00", s)
	span, rest, ok := strings.Cut(s, "=")
	if !ok {
		return migration.BandwidthWindow{}, bad
	}
	from, to, ok := strings.Cut(span, "-")
	if !ok {
		return migration.BandwidthWindow{}, bad
	}
	rateText, offset, _ := strings.Cut(rest, "@")
	n, err := ParseBandwidth(rateText)
	if err != nil {
		return migration.BandwidthWindow{}, fmt.Errorf("%w: %w", bad, err)
	}
	w := migration.BandwidthWindow{From: strings.TrimSpace(from), To: strings.TrimSpace(to), BytesPerSecond: n, UTCOffset: strings.TrimSpace(offset)}
	if err := (migration.Limits{Windows: []migration.BandwidthWindow{w}}).Validate(); err != nil {
		return migration.BandwidthWindow{}, fmt.Errorf("%w: %w", bad, err)
	}
	return w, nil
}
