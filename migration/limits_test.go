package migration

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestLimitsValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		l    Limits
		want []string // substrings of the error; none: valid
	}{
		{"zero", Limits{}, nil},
		{"set", Limits{QPS: 50, BandwidthBytesPerSecond: 4 << 20}, nil},
		{"window", Limits{Windows: []BandwidthWindow{{From: "22:00", To: "06:00", UTCOffset: "+08:00"}}}, nil},
		{"negative qps", Limits{QPS: -1}, []string{"qps: -1"}},
		{"negative bandwidth", Limits{BandwidthBytesPerSecond: -5}, []string{"bandwidthBytesPerSecond: -5"}},
		{"bad window", Limits{Windows: []BandwidthWindow{{From: "8:00", To: "24:00", BytesPerSecond: -1, UTCOffset: "CST"}}},
			[]string{"windows[0].from", "windows[0].to", "windows[0].bytesPerSecond", "windows[0].utcOffset"}},
		{"empty window", Limits{Windows: []BandwidthWindow{{From: "08:00", To: "08:00"}}}, []string{"window is empty"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.l.Validate()
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("valid limits refused: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("invalid limits accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestSpecValidateNamesLimits(t *testing.T) {
	s := JobSpec{Source: Location{Store: "a"}, Destination: Location{Store: "b"}, Limits: Limits{QPS: -3}}
	err := s.Validate()
	if err == nil || !strings.Contains(err.Error(), "spec.limits.qps: -3") {
		t.Fatalf("error %v does not name spec.limits.qps", err)
	}
}

func TestLimitsUpdate(t *testing.T) {
	cur := Limits{QPS: 10, BandwidthBytesPerSecond: 100}
	qps := 75.0
	got := LimitsUpdate{QPS: &qps}.Apply(cur)
	if got.QPS != 75 || got.BandwidthBytesPerSecond != 100 {
		t.Errorf("apply qps: %+v", got)
	}
	var zero int64
	got = LimitsUpdate{BandwidthBytesPerSecond: &zero}.Apply(cur)
	if got.QPS != 10 || got.BandwidthBytesPerSecond != 0 {
		t.Errorf("apply bandwidth: %+v", got)
	}
	if err := (LimitsUpdate{}).Validate(); err == nil {
		t.Error("empty update accepted")
	}
	neg := -1.0
	if err := (LimitsUpdate{QPS: &neg}).Validate(); err == nil {
		t.Error("negative qps accepted")
	}
}

func TestBandwidthAt(t *testing.T) {
	l := Limits{
		BandwidthBytesPerSecond: 1000,
		Windows: []BandwidthWindow{
			{From: "08:00", To: "20:00", BytesPerSecond: 100, UTCOffset: "+08:00"}, // day in China
			{From: "23:00", To: "01:00", BytesPerSecond: 0, UTCOffset: "+08:00"},   // full speed
		},
	}
	at := func(hhmm string) time.Time {
		tm, err := time.Parse("15:04 -07:00", hhmm+" +08:00")
		if err != nil {
			t.Fatal(err)
		}
		return time.Date(2026, 5, 1, tm.Hour(), tm.Minute(), 0, 0, tm.Location()).UTC()
	}
	for hhmm, want := range map[string]int64{"07:59": 1000, "08:00": 100, "19:59": 100, "20:00": 1000,
		"23:30": 0, "00:30": 0, "01:00": 1000} {
		if got := l.BandwidthAt(at(hhmm)); got != want {
			t.Errorf("at %s +08:00: %d, want %d", hhmm, got, want)
		}
	}
}

func TestParseUTCOffset(t *testing.T) {
	for s, want := range map[string]time.Duration{"": 0, "Z": 0, "+08:00": 8 * time.Hour, "-05:30": -(5*time.Hour + 30*time.Minute), "+8": 8 * time.Hour} {
		got, err := ParseUTCOffset(s)
		if err != nil || got != want {
			t.Errorf("%q: %v, %v; want %v", s, got, err, want)
		}
	}
	for _, s := range []string{"8", "+8:0", "+15:00", "GMT+8", "+08:60"} {
		if _, err := ParseUTCOffset(s); err == nil {
			t.Errorf("%q accepted", s)
		}
	}
}

func TestSpecWithoutLimitsEncodesAsBefore(t *testing.T) {
	js, err := json.Marshal(JobSpec{Source: Location{Store: "a"}})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(js), "limits") {
		t.Errorf("a spec without limits encodes them: %s", js)
	}
}
