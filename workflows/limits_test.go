package workflows

import (
	"errors"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/bucketferry/bucketferry/migration"
)

// updateResult records the outcome of one update sent in a test.
type updateResult struct {
	rejected, err error
	limits        migration.Limits
	done          bool
}

func sendLimits(env *testsuite.TestWorkflowEnvironment, id string, u migration.LimitsUpdate) *updateResult {
	r := &updateResult{}
	env.UpdateWorkflow(migration.UpdateSetLimits, id, &testsuite.TestUpdateCallback{
		OnReject: func(err error) { r.rejected, r.done = err, true },
		OnAccept: func() {},
		OnComplete: func(v any, err error) {
			r.err, r.done = err, true
			if l, ok := v.(migration.Limits); ok {
				r.limits = l
			}
		},
	}, u)
	return r
}

func queryLimits(t *testing.T, env *testsuite.TestWorkflowEnvironment) migration.Limits {
	t.Helper()
	return queryAs[migration.Limits](t, env, migration.QueryLimits)
}

// TestJobLimitsUpdateAndQuery: the job starts with its spec's limits, the
// setLimits update changes only the fields it gives, refuses invalid ones
// (leaving the limits as they were), and the limits travel across
// continue-as-new.
func TestJobLimitsUpdateAndQuery(t *testing.T) {
	env, _ := jobEnv(t, keyPlan("m"))
	spec := testSpec()
	spec.Limits = migration.Limits{QPS: 50, BandwidthBytesPerSecond: 4 << 20}
	var initial, afterGood, afterBad migration.Limits
	var good, bad, empty *updateResult
	env.RegisterDelayedCallback(func() {
		initial = queryLimits(t, env)
		qps := 120.0
		good = sendLimits(env, "u1", migration.LimitsUpdate{QPS: &qps})
	}, time.Minute)
	env.RegisterDelayedCallback(func() {
		afterGood = queryLimits(t, env)
		neg := int64(-1)
		bad = sendLimits(env, "u2", migration.LimitsUpdate{BandwidthBytesPerSecond: &neg})
		empty = sendLimits(env, "u3", migration.LimitsUpdate{})
	}, 2*time.Minute)
	env.RegisterDelayedCallback(func() {
		afterBad = queryLimits(t, env)
		env.SetContinueAsNewSuggested(true)
		env.SignalWorkflow(migration.SignalShard, migration.ShardReport{Shard: 0, Delta: migration.Counts{Copied: 1}})
	}, 3*time.Minute)
	env.ExecuteWorkflow(migration.JobWorkflow, migration.JobInput{Spec: spec})

	if initial.QPS != 50 || initial.BandwidthBytesPerSecond != 4<<20 || len(initial.Windows) != 0 {
		t.Errorf("initial limits %+v, want the spec's", initial)
	}
	if good == nil || !good.done || good.rejected != nil || good.err != nil {
		t.Fatalf("valid update: %+v", good)
	}
	want := migration.Limits{QPS: 120, BandwidthBytesPerSecond: 4 << 20}
	if good.limits.QPS != want.QPS || good.limits.BandwidthBytesPerSecond != want.BandwidthBytesPerSecond {
		t.Errorf("update returned %+v, want %+v", good.limits, want)
	}
	if afterGood.QPS != 120 || afterGood.BandwidthBytesPerSecond != 4<<20 {
		t.Errorf("after the update the query says %+v, want %+v", afterGood, want)
	}
	if bad == nil || bad.rejected == nil || !strings.Contains(bad.rejected.Error(), "bandwidthBytesPerSecond") {
		t.Errorf("negative bandwidth not rejected by the validator: %+v", bad)
	}
	if empty == nil || empty.rejected == nil {
		t.Errorf("empty update not rejected: %+v", empty)
	}
	if afterBad.QPS != 120 || afterBad.BandwidthBytesPerSecond != 4<<20 {
		t.Errorf("a rejected update changed the limits: %+v", afterBad)
	}

	var can *workflow.ContinueAsNewError
	if err := env.GetWorkflowError(); !errors.As(err, &can) {
		t.Fatalf("job ended with %v, want continue-as-new", err)
	}
	var next migration.JobInput
	if err := converter.GetDefaultDataConverter().FromPayloads(can.Input, &next); err != nil {
		t.Fatal(err)
	}
	if next.State == nil || next.State.Limits == nil || next.State.Limits.QPS != 120 {
		t.Errorf("limits not carried across continue-as-new: %+v", next.State)
	}
}

// TestJobLimitsFromCarriedState: a continued run answers the carried
// limits, not the spec's.
func TestJobLimitsFromCarriedState(t *testing.T) {
	env, _ := jobEnv(t, nil)
	spec := testSpec().WithDefaults(testJobID)
	spec.Limits = migration.Limits{QPS: 10}
	carried := migration.Limits{QPS: 99, Windows: []migration.BandwidthWindow{{From: "08:00", To: "20:00", BytesPerSecond: 1 << 20}}}
	st := &migration.JobState{Plan: keyPlan("m"), NextShard: 2, Running: nil, Done: 2, Limits: &carried}
	env.ExecuteWorkflow(migration.JobWorkflow, migration.JobInput{Spec: spec, State: st})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	got := queryLimits(t, env)
	if got.QPS != 99 || len(got.Windows) != 1 || got.Windows[0].BytesPerSecond != 1<<20 {
		t.Errorf("continued run answers %+v, want the carried %+v", got, carried)
	}
}

// TestJobPacingSumsActivitiesInFlight: the pacing query answers the limits
// and the activities the running shards last reported in flight, one for a
// shard not heard from, none for a shard that ended.
func TestJobPacingSumsActivitiesInFlight(t *testing.T) {
	env, f := jobEnv(t, keyPlan("g", "p"))
	spec := testSpec()
	spec.Limits = migration.Limits{QPS: 30}
	var got []migration.Pacing
	env.RegisterDelayedCallback(func() {
		got = append(got, queryAs[migration.Pacing](t, env, migration.QueryPacing))
		env.SignalWorkflow(migration.SignalShard, migration.ShardReport{Shard: 0, Delta: migration.Counts{Copied: 1}, InFlight: 4})
	}, time.Minute)
	env.RegisterDelayedCallback(func() {
		got = append(got, queryAs[migration.Pacing](t, env, migration.QueryPacing))
		env.SignalWorkflow(migration.SignalShard, migration.ShardReport{Shard: 1, Delta: migration.Counts{Copied: 1}, InFlight: 0})
	}, 2*time.Minute)
	env.RegisterDelayedCallback(func() {
		got = append(got, queryAs[migration.Pacing](t, env, migration.QueryPacing))
		finish(t, env, f, migration.Counts{Copied: 2}) // shard 0
	}, 3*time.Minute)
	env.RegisterDelayedCallback(func() {
		got = append(got, queryAs[migration.Pacing](t, env, migration.QueryPacing))
	}, 4*time.Minute)
	env.ExecuteWorkflow(migration.JobWorkflow, migration.JobInput{Spec: spec})

	want := []int{3, 6, 5, 1}
	if len(got) != len(want) {
		t.Fatalf("%d answers, want %d", len(got), len(want))
	}
	for i, p := range got {
		if p.Activities != want[i] || p.Limits.QPS != 30 {
			t.Errorf("answer %d: %+v, want %d activities at the spec's 30 QPS", i, p, want[i])
		}
	}
}
