package workflows

import (
	"fmt"

	"go.temporal.io/sdk/workflow"
)

// One marker a run for the gates of a release.
//
// Every GetVersion a run calls for the first time records a marker and,
// by the Go SDK's design, upserts the TemporalChangeVersion search
// attribute: a visibility write on the server (a REPLACE of the run's row
// in SQLite). A shard run called three gates, a job run four or five: on a
// 20,000-object job, 71 markers and 70 visibility writes for nothing a
// replay needs, since a new run takes every gate at its newest.
//
// So a run first asks releaseVersion and records the level it was made
// by. At a level it takes every gate the level holds at the version
// written for it, without a marker; a run recorded before release-gates
// (level 0) asks each gate as it always did, as does a run for a gate its
// level does not hold. The versions are frozen, since runs recorded at a
// level replay with them: a new gate, or a new version of a gate, comes
// with a new level (raise releaseNewest, and give the gate that level in
// gateLevel).

// releaseVersion gates the gates: 0, each gate asked with its own marker;
// 1 and up, the gates of that level or lower taken at their versions (see
// gateLevel).
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
			// the new version. Any test that takes a new run through the
			// gate fails here (TestRaisedGatePanics).
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
	since, v := gateLevel(changeID)
	return v, since > 0 && level >= since
}

// gateLevel is the release level that took changeID (0: none) and the
// version runs at that level or later take it at.
func gateLevel(changeID string) (since, v workflow.Version) {
	switch changeID {
	case specVersion, fleetVersion, planHeartbeatVersion, stallVersion, spreadVersion:
		return 1, 1
	case earlyVersion:
		return 1, 2
	case windowedVersion:
		return 1, 7
	case settledWindowsVersion:
		return 2, 1
	case quietStartVersion:
		return 3, 1
	}
	return 0, 0
}
