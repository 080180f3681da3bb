package workflows

import (
	"fmt"

	"go.temporal.io/sdk/workflow"
)

// One marker a run for the gates of a release.
//
// Every GetVersion a run calls for the first time records a marker and,
// by the Go SDK's design, upserts the TemporalChangeVersion search
// attribute: a visibility write on the server (a billed action on Temporal
// Cloud). A shard run called three gates, a job run four or five: on a
// 20,000-object job, 70 markers and 70 visibility writes for nothing a
// replay needs, since a new run takes every gate at its newest.
//
// So a run first asks releaseVersion. A run that records level 1 takes
// every gate of gatesAt(1) at the version written there, without a marker
// of its own; a run recorded before the release has no release marker,
// replays at DefaultVersion and asks each gate as it always did. A gate
// added later is asked with GetVersion as usual. A gate whose newest
// version moves past its level-1 value must not change gatesAt(1) (the
// runs recorded at level 1 replay with it): raise releaseVersion's max to
// 2 and give level 2 its own table (TestReleaseGatesAreNewest says when).

// releaseVersion gates the gates: 0, each gate asked with its own marker;
// 1 and up, the gates of gatesAt(level) taken at their versions there (2
// adds settled-windows, 3 quiet-start).
const releaseVersion = "release-gates"

// releaseNewest is the level new runs record.
const releaseNewest = 3

// gates is how a run decides its versions.
type gates struct {
	level workflow.Version
}

// newGates asks releaseVersion; a run calls it first, before any command.
func newGates(ctx workflow.Context) gates {
	return gates{level: workflow.GetVersion(ctx, releaseVersion, workflow.DefaultVersion, releaseNewest)}
}

// version is changeID's version in this run: the release level's, or
// GetVersion's for a gate the level does not hold (and for a run
// recorded before release-gates).
func (g gates) version(ctx workflow.Context, changeID string, maxSupported workflow.Version) workflow.Version {
	if v, ok := gatesAt(g.level, changeID); ok {
		if g.level == releaseNewest && v != maxSupported {
			// A gate raised without a new level: new runs would never take
			// the new version. Every test of a new run fails here.
			panic(fmt.Sprintf("%s is raised to %d, but release level %d holds %d: add a release level", changeID, maxSupported, g.level, v))
		}
		return v
	}
	return workflow.GetVersion(ctx, changeID, workflow.DefaultVersion, maxSupported)
}

// gatesAt is the version a run at a release level takes for changeID,
// and whether the level holds it. The values are frozen: runs recorded at
// the level replay with them.
func gatesAt(level workflow.Version, changeID string) (workflow.Version, bool) {
	if level < 1 {
		return 0, false
	}
	switch changeID {
	case specVersion, fleetVersion, planHeartbeatVersion, stallVersion, spreadVersion:
		return 1, true
	case earlyVersion:
		return 2, true
	case windowedVersion:
		return 7, true
	}
	if level < 2 {
		return 0, false
	}
	switch changeID {
	case settledWindowsVersion:
		return 1, true
	}
	if level < 3 {
		return 0, false
	}
	switch changeID {
	case quietStartVersion:
		return 1, true
	}
	return 0, false
}
