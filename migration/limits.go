package migration

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Query and update names of a job's limits.
const (
	// QueryLimits returns the job's current Limits.
	QueryLimits = "limits"
	// QueryPacing returns the job's Pacing. Workers ask it every few
	// seconds while they run the job's activities.
	QueryPacing = "pacing"
	// UpdateSetLimits changes the job's limits while it runs: it takes a
	// LimitsUpdate and returns the new Limits; invalid values are refused
	// before anything is recorded.
	UpdateSetLimits = "setLimits"
)

// Limits bound a job's use of the stores, over all its workers together.
// Zero values mean unlimited.
type Limits struct {
	// QPS is the requests per second to the source and the destination
	// together (every list, head, get, put and part upload).
	QPS float64 `json:"qps,omitempty"`
	// BandwidthBytesPerSecond is the bytes per second read from the source
	// (which is what is written to the destination).
	BandwidthBytesPerSecond int64 `json:"bandwidthBytesPerSecond,omitempty"`
	// Windows replace BandwidthBytesPerSecond at times of day: the first
	// window holding the current time wins.
	Windows []BandwidthWindow `json:"windows,omitempty"`
}

// Pacing is what a worker needs to take its part of a job's limits: the
// limits, and the number of the job's activities in flight over all
// workers. A worker running k of them takes k/Activities of each limit, so
// every activity gets the same part wherever it runs, and a worker with
// none of the job's activities holds no part that others could use.
type Pacing struct {
	Limits Limits `json:"limits"`
	// Activities is the sum of what the running shards last reported in
	// flight (a shard that has not reported yet counts one); 0 while the
	// job plans.
	Activities int `json:"activities"`
}

// BandwidthWindow is a bandwidth limit for a time of day, e.g. 100 Mbit/s
// from 08:00 to 20:00 at UTC+8. A window whose To is not after From spans
// midnight ("22:00" to "06:00").
type BandwidthWindow struct {
	From string `json:"from"` // HH:MM, inclusive
	To   string `json:"to"`   // HH:MM, exclusive
	// BytesPerSecond inside the window; 0 is unlimited.
	BytesPerSecond int64 `json:"bytesPerSecond,omitempty"`
	// UTCOffset is the zone of From and To: "+08:00", "-05:30"; empty or
	// "Z" is UTC.
	UTCOffset string `json:"utcOffset,omitempty"`
}

// LimitsUpdate is the input of UpdateSetLimits: the fields given replace
// the job's current ones, the others are kept. A zero value sets a limit
// to unlimited.
type LimitsUpdate struct {
	QPS                     *float64           `json:"qps,omitempty"`
	BandwidthBytesPerSecond *int64             `json:"bandwidthBytesPerSecond,omitempty"`
	Windows                 *[]BandwidthWindow `json:"windows,omitempty"`
}

// Apply returns l with the update's fields.
func (u LimitsUpdate) Apply(l Limits) Limits {
	if u.QPS != nil {
		l.QPS = *u.QPS
	}
	if u.BandwidthBytesPerSecond != nil {
		l.BandwidthBytesPerSecond = *u.BandwidthBytesPerSecond
	}
	if u.Windows != nil {
		l.Windows = append([]BandwidthWindow(nil), (*u.Windows)...)
	}
	return l
}

// Validate reports every problem of the update, naming the field.
func (u LimitsUpdate) Validate() error {
	if u.QPS == nil && u.BandwidthBytesPerSecond == nil && u.Windows == nil {
		return errors.New("the update changes nothing: give qps, bandwidthBytesPerSecond or windows")
	}
	return u.Apply(Limits{}).Validate()
}

// Validate reports every problem of the limits, each naming its field
// (relative to the limits: "qps: ...").
func (l Limits) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
	}
	if l.QPS < 0 || math.IsNaN(l.QPS) || math.IsInf(l.QPS, 0) {
		bad("qps", "%v must be a rate of at least 0 (0 means unlimited)", l.QPS)
	}
	if l.BandwidthBytesPerSecond < 0 {
		bad("bandwidthBytesPerSecond", "%d must not be negative (0 means unlimited)", l.BandwidthBytesPerSecond)
	}
	for i, w := range l.Windows {
		field := fmt.Sprintf("windows[%d]", i)
		from, err := parseClock(w.From)
		if err != nil {
			bad(field+".from", "%v", err)
		}
		to, err2 := parseClock(w.To)
		if err2 != nil {
			bad(field+".to", "%v", err2)
		}
		if err == nil && err2 == nil && from == to {
			bad(field, "from and to are both %s: the window is empty", w.From)
		}
		if w.BytesPerSecond < 0 {
			bad(field+".bytesPerSecond", "%d must not be negative (0 means unlimited)", w.BytesPerSecond)
		}
		if _, err := ParseUTCOffset(w.UTCOffset); err != nil {
			bad(field+".utcOffset", "%v", err)
		}
	}
	return errors.Join(errs...)
}

// IsZero reports whether nothing is limited.
func (l Limits) IsZero() bool {
	return l.QPS == 0 && l.BandwidthBytesPerSecond == 0 && len(l.Windows) == 0
}

// BandwidthAt is the bandwidth limit in force at t (0: unlimited): that of
// the first window holding t, else BandwidthBytesPerSecond. Invalid
// windows are ignored.
func (l Limits) BandwidthAt(t time.Time) int64 {
	for _, w := range l.Windows {
		if w.holds(t) {
			return w.BytesPerSecond
		}
	}
	return l.BandwidthBytesPerSecond
}

func (w BandwidthWindow) holds(t time.Time) bool {
	from, err := parseClock(w.From)
	if err != nil {
		return false
	}
	to, err := parseClock(w.To)
	if err != nil {
		return false
	}
	off, err := ParseUTCOffset(w.UTCOffset)
	if err != nil {
		return false
	}
	local := t.In(time.FixedZone("", int(off.Seconds())))
	m := local.Hour()*60 + local.Minute()
	if from < to {
		return m >= from && m < to
	}
	return m >= from || m < to
}

// parseClock reads "HH:MM" as minutes after midnight.
func parseClock(s string) (int, error) {
	h, m, ok := strings.Cut(s, ":")
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if !ok || len(h) != 2 || len(m) != 2 || err1 != nil || err2 != nil || hh < 0 || hh > 23 || mm < 0 || mm > 59 {
		return 0, fmt.Errorf("%q is not a time of day such as 08:00 or 23:30", s)
	}
	return hh*60 + mm, nil
}

// ParseUTCOffset reads a zone offset: "+08:00", "-05:30", "+8"; "" and
// "Z" are UTC.
func ParseUTCOffset(s string) (time.Duration, error) {
	if s == "" || s == "Z" || s == "UTC" {
		return 0, nil
	}
	bad := fmt.Errorf("%q is not a UTC offset such as +08:00 or -05:30", s)
	sign := time.Duration(1)
	switch s[0] {
	case '+':
	case '-':
		sign = -1
	default:
		return 0, bad
	}
	h, m, hasMin := strings.Cut(s[1:], ":")
	hh, err := strconv.Atoi(h)
	if err != nil || len(h) == 0 || len(h) > 2 || hh > 14 {
		return 0, bad
	}
	mm := 0
	if hasMin {
		if mm, err = strconv.Atoi(m); err != nil || len(m) != 2 || mm > 59 {
			return 0, bad
		}
	}
	return sign * (time.Duration(hh)*time.Hour + time.Duration(mm)*time.Minute), nil
}
