package workflows

import (
	"testing"
	"time"

	"github.com/bucketferry/bucketferry/migration"
)

// runShards runs a job of two shards from in and returns the specs its
// shards were started with.
func runShards(t *testing.T, in migration.JobInput) []migration.JobSpec {
	t.Helper()
	env, f := jobEnv(t, keyPlan("m"))
	for i := 1; i <= 2; i++ {
		env.RegisterDelayedCallback(func() { finish(t, env, f, migration.Counts{Copied: 1}) }, time.Duration(i)*time.Minute)
	}
	env.ExecuteWorkflow(migration.JobWorkflow, in)
	var res migration.JobResult
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatalf("job failed: %v", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var specs []migration.JobSpec
	for _, s := range f.inputs {
		specs = append(specs, s.Spec)
	}
	if len(specs) != 2 {
		t.Fatalf("%d shards started, want 2", len(specs))
	}
	return specs
}

// TestJobDecidesItsSpecAtItsStart: a job's first run fills in the
// defaults and hands its shards the spec marked defaulted, the spread
// threshold included.
func TestJobDecidesItsSpecAtItsStart(t *testing.T) {
	spec := testSpec() // Concurrency.Objects and others left to their defaults
	for _, got := range runShards(t, migration.JobInput{Spec: spec}) {
		if !got.Defaulted || got.Concurrency.Objects != migration.DefaultObjectWorkers ||
			got.SpreadObjectBytes != migration.DefaultSpreadObjectBytes || got.FailureLog == nil || got.Shards != migration.DefaultShards {
			t.Errorf("shard spec %+v: want the defaults filled in and marked", got)
		}
		if got.PageSize != spec.PageSize || got.Concurrency.LargeObjects != spec.Concurrency.LargeObjects {
			t.Errorf("shard spec %+v lost what the spec set", got)
		}
	}
}

// TestContinuedJobTakesItsSpecAsItIs: a continued run of a job takes the
// spec its first run decided, even where it differs from what the
// defaults are now; a run continued from a release before spec-recorded
// (no mark) gets the missing defaults.
func TestContinuedJobTakesItsSpecAsItIs(t *testing.T) {
	state := func() *migration.JobState {
		return &migration.JobState{Plan: []migration.Shard{{Index: 0, Before: "m"}, {Index: 1, After: "m"}}, Runs: 1}
	}
	decided := testSpec().WithDefaults(testJobID)
	decided.Concurrency.Objects = 7
	decided.SpreadObjectBytes = 0 // as a default of this release would not leave it
	for _, got := range runShards(t, migration.JobInput{Spec: decided, State: state()}) {
		if got.Concurrency.Objects != 7 || got.SpreadObjectBytes != 0 {
			t.Errorf("shard spec %+v: want the job's decided spec as it is", got)
		}
	}

	old := testSpec() // filled in by v0.1.0: no mark, no spread threshold
	old.Concurrency.Objects = 7
	for _, got := range runShards(t, migration.JobInput{Spec: old, State: state()}) {
		if !got.Defaulted || got.Concurrency.Objects != 7 || got.SpreadObjectBytes != migration.DefaultSpreadObjectBytes {
			t.Errorf("shard spec %+v: want the missing defaults filled in and marked", got)
		}
	}
}
