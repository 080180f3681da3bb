package migration

import (
	"strings"
	"testing"
)

func TestArchiveSpec(t *testing.T) {
	s := JobSpec{Source: Location{Store: "a"}, Destination: Location{Store: "b"}, Conflict: Changed, Archive: ArchiveRestore}
	if err := s.Validate(); err != nil {
		t.Fatalf("valid spec: %v", err)
	}
	o := s.RestoreSettings()
	if o.Days != DefaultRestoreDays || o.Tier != DefaultRestoreTier || o.PollSeconds != 300 || o.MaxWaitSeconds != 7*24*3600 {
		t.Errorf("defaults %+v", o)
	}
	s.Restore = &RestoreOptions{Days: 3, PollSeconds: 1}
	if o := s.RestoreSettings(); o.Days != 3 || o.PollSeconds != 1 || o.Tier != DefaultRestoreTier {
		t.Errorf("settings %+v", o)
	}
	s.Archive, s.Restore = "thaw", &RestoreOptions{Tier: "Fast", Days: -1}
	err := s.Validate()
	for _, want := range []string{`spec.archive: "thaw" is not one of`, `spec.restore.tier: "Fast"`, "spec.restore: days"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}
	var c Counts
	c.Add(Counts{Copied: 3, New: 1, Changed: 2})
	c.Add(Counts{Copied: 1, New: 1})
	if c.New != 2 || c.Changed != 2 || c.Copied != 4 {
		t.Errorf("Add: %+v", c)
	}
}
