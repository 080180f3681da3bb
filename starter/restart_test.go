package main

import (
	"testing"

	"github.com/bucketferry/bucketferry/migration"
)

// TestRestartSpec: a restart sends nothing already at the destination,
// whatever the stopped job's policy, and writes a failure log of its own.
func TestRestartSpec(t *testing.T) {
	for from, want := range map[migration.ConflictPolicy]migration.ConflictPolicy{
		"":                      migration.SkipIdentical,
		migration.Overwrite:     migration.SkipIdentical,
		migration.SkipIdentical: migration.SkipIdentical,
		migration.Skip:          migration.Skip,
		migration.Changed:       migration.Changed,
	} {
		spec := migration.JobSpec{Source: migration.Location{Store: "src"}, Destination: migration.Location{Store: "dst"}, Conflict: from}
		if got := restartSpec(spec, "j-r1").Conflict; got != want {
			t.Errorf("restart of a %q job: conflict %q, want %q", from, got, want)
		}
	}
	spec := migration.JobSpec{FailureLog: &migration.Location{Store: "r", Prefix: "logs/"}}
	got := restartSpec(spec, "j-r1")
	if got.FailureLog.Prefix != "logs/j-r1/" || spec.FailureLog.Prefix != "logs/" {
		t.Errorf("failure log %+v (original %+v), want logs/j-r1/ beside the original's", got.FailureLog, spec.FailureLog)
	}
}
