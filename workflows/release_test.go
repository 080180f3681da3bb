package workflows

import (
	"testing"

	"go.temporal.io/sdk/workflow"
)

// TestReleaseGatesAreNewest holds release level 1 to the newest version of
// every gate it takes: a gate raised since must not change level 1 (runs
// recorded at it replay with its values) but needs a new level.
func TestReleaseGatesAreNewest(t *testing.T) {
	newest := map[string]workflow.Version{
		specVersion:           1,
		fleetVersion:          1,
		planHeartbeatVersion:  1,
		stallVersion:          1,
		spreadVersion:         1,
		earlyVersion:          earlyNewest,
		windowedVersion:       windowedNewest,
		settledWindowsVersion: 1,
		quietStartVersion:     1,
	}
	for id, want := range newest {
		got, ok := gatesAt(releaseNewest, id)
		if !ok || got != want {
			t.Errorf("%s: newest version %d, release level %d holds %d (held: %v); leave the level as it is and add one with the new version", id, want, releaseNewest, got, ok)
		}
	}
	if _, ok := gatesAt(releaseNewest, "a-later-gate"); ok {
		t.Error("the newest release level holds a gate it does not know")
	}
	// Level 1 is frozen: runs recorded at it ask settled-windows.
	if _, ok := gatesAt(1, settledWindowsVersion); ok {
		t.Error("release level 1 took settled-windows, which came after it")
	}
	if _, ok := gatesAt(2, quietStartVersion); ok {
		t.Error("release level 2 took quiet-start, which came after it")
	}
	if v, ok := gatesAt(1, windowedVersion); !ok || v != 7 {
		t.Errorf("release level 1 holds windowed-shard %d (%v), recorded runs have 7", v, ok)
	}
	if _, ok := gatesAt(workflow.DefaultVersion, specVersion); ok {
		t.Error("a run recorded before release-gates takes a gate without asking it")
	}
}
