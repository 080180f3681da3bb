package workflows

import (
	"errors"
	"testing"
	"time"

	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/workflow"

	"github.com/bucketferry/bucketferry/migration"
)

// TestJobStallsShowAndClear: stall signals from workers make the job
// "stalled" with the open stalls, earliest first, and "running" again once
// every store answers; the copies are not touched by them.
func TestJobStallsShowAndClear(t *testing.T) {
	env, f := jobEnv(t, keyPlan("m"))
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	src := migration.Stall{Store: `source store "oss"`, What: "objects", Since: t0.Add(time.Minute), Reason: "get: transient"}
	list := migration.Stall{Store: `destination store "cos"`, What: "listing", Since: t0.Add(2 * time.Minute), Reason: "list: throttled"}
	signal := func(s migration.Stall, stalled bool) func() {
		return func() { env.SignalWorkflow(migration.SignalStall, migration.StallSignal{Stall: s, Stalled: stalled}) }
	}
	var seen []migration.Progress
	look := func() { seen = append(seen, query(t, env)) }
	earlier := src
	earlier.Since = t0 // another worker saw it first
	for i, step := range []func(){
		signal(list, true), signal(src, true), look, // 0: two stalls, earliest first
		signal(earlier, true), look, // 1: the earlier since wins
		signal(src, false), look, // 2: one left
		signal(list, false), look, // 3: none
		func() { finish(t, env, f, migration.Counts{Copied: 1}) },
		func() { finish(t, env, f, migration.Counts{Copied: 1}) },
	} {
		env.RegisterDelayedCallback(step, time.Duration(i+1)*10*time.Second)
	}
	env.ExecuteWorkflow(migration.JobWorkflow, migration.JobInput{Spec: testSpec()})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatalf("job failed: %v", err)
	}
	if len(seen) != 4 {
		t.Fatalf("%d progress answers, want 4", len(seen))
	}
	if p := seen[0]; p.Status != migration.StatusStalled || len(p.Stalls) != 2 || p.Stalls[0] != src || p.Stalls[1] != list {
		t.Errorf("with two stalls: %q %+v", p.Status, p.Stalls)
	}
	if p := seen[1]; len(p.Stalls) != 2 || !p.Stalls[0].Since.Equal(t0) {
		t.Errorf("after an earlier report: %+v", p.Stalls)
	}
	if p := seen[2]; p.Status != migration.StatusStalled || len(p.Stalls) != 1 || p.Stalls[0] != list {
		t.Errorf("with one stall left: %q %+v", p.Status, p.Stalls)
	}
	if p := seen[3]; p.Status != migration.StatusRunning || len(p.Stalls) != 0 {
		t.Errorf("after every store answered: %q %+v", p.Status, p.Stalls)
	}
}

// TestJobStallsCarriedAcrossContinueAsNew: an open stall, and one signalled
// in the very task that hands over, reach the next run.
func TestJobStallsCarriedAcrossContinueAsNew(t *testing.T) {
	env, f := jobEnv(t, keyPlan("c", "e"))
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	open := migration.Stall{Store: `source store "oss"`, What: "objects", Since: t0, Reason: "get: transient"}
	late := migration.Stall{Store: `destination store "cos"`, What: "objects", Since: t0.Add(time.Minute), Reason: "put: throttled"}
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(migration.SignalStall, migration.StallSignal{Stall: open, Stalled: true})
		finish(t, env, f, migration.Counts{Copied: 1})
	}, time.Minute)
	env.RegisterDelayedCallback(func() {
		env.SetContinueAsNewSuggested(true)
		env.SignalWorkflowSkippingWorkflowTask(migration.SignalStall, migration.StallSignal{Stall: late, Stalled: true})
		env.SignalWorkflow(migration.SignalShard, migration.ShardReport{Shard: f.running()[0], Delta: migration.Counts{Copied: 1}})
	}, time.Minute+time.Second)
	env.ExecuteWorkflow(migration.JobWorkflow, migration.JobInput{Spec: testSpec()})

	var can *workflow.ContinueAsNewError
	if err := env.GetWorkflowError(); !errors.As(err, &can) {
		t.Fatalf("job ended with %v, want continue-as-new", err)
	}
	var next migration.JobInput
	if err := converter.GetDefaultDataConverter().FromPayloads(can.Input, &next); err != nil {
		t.Fatal(err)
	}
	if st := next.State; st == nil || len(st.Stalls) != 2 || st.Stalls[0] != open || st.Stalls[1] != late {
		t.Fatalf("state carried %+v, want both stalls", next.State)
	}
}
