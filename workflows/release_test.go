package workflows

import (
	"strings"
	"testing"

	"go.temporal.io/sdk/workflow"
)

// TestReleaseLevelsAreFrozen: what a level holds never changes with the
// levels after it, since runs recorded at a level replay with it. Runs
// recorded at levels 1 and 2 (the corpus's job-*-gates and
// job-*-settled) ask the gates that came after them.
func TestReleaseLevelsAreFrozen(t *testing.T) {
	for _, c := range []struct {
		level    workflow.Version
		changeID string
		want     workflow.Version // -1: not held, asked with GetVersion
	}{
		{workflow.DefaultVersion, specVersion, -1},
		{1, specVersion, 1},
		{1, earlyVersion, 2},
		{1, windowedVersion, 7},
		{1, settledWindowsVersion, -1},
		{1, quietStartVersion, -1},
		{2, windowedVersion, 7},
		{2, settledWindowsVersion, 1},
		{2, quietStartVersion, -1},
		{3, quietStartVersion, 1},
		{releaseNewest, "a-later-gate", -1},
	} {
		v, ok := gatesAt(c.level, c.changeID)
		if got := map[bool]workflow.Version{true: v, false: -1}[ok]; got != c.want {
			t.Errorf("level %d, %s: %d, want %d", c.level, c.changeID, got, c.want)
		}
	}
}

// TestRaisedGatePanics: a call site asking a newer version than the newest
// level holds stops the run, so that a gate raised without a new level
// fails every test that takes a new run through it. The level's own
// version passes (the held gates never touch the context).
func TestRaisedGatePanics(t *testing.T) {
	g := gates{level: releaseNewest}
	if v := g.version(nil, windowedVersion, windowedNewest); v != windowedNewest {
		t.Errorf("windowed-shard at the newest level: %d, want %d", v, windowedNewest)
	}
	defer func() {
		r := recover()
		if s, _ := r.(string); !strings.Contains(s, "add a release level") {
			t.Errorf("recovered %v, want the release-level panic", r)
		}
	}()
	g.version(nil, windowedVersion, windowedNewest+1)
	t.Error("a raised gate did not panic")
}
