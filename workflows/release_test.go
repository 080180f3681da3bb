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
		specVersion:          1,
		fleetVersion:         1,
		planHeartbeatVersion: 1,
		stallVersion:         1,
		spreadVersion:        1,
		earlyVersion:         earlyNewest,
		windowedVersion:      windowedNewest,
	}
	for id, want := range newest {
		got, ok := gatesAt(1, id)
		if !ok || got != want {
			t.Errorf("%s: newest version %d, release level 1 holds %d (held: %v); leave level 1 as it is and add a level with the new version", id, want, got, ok)
		}
	}
	if _, ok := gatesAt(1, "a-later-gate"); ok {
		t.Error("release level 1 holds a gate it does not know")
	}
	if _, ok := gatesAt(workflow.DefaultVersion, specVersion); ok {
		t.Error("a run recorded before release-gates takes a gate without asking it")
	}
}
