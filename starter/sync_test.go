package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/bucketferry/bucketferry/config"
	"github.com/bucketferry/bucketferry/migration"
	"github.com/bucketferry/bucketferry/schedule"
)

// TestSyncCommand: sync runs a pass with the changed policy, and -every
// creates a schedule whose runs complete, until -delete-schedule.
func TestSyncCommand(t *testing.T) {
	e := newServerEnv(t)
	out, code, err := e.cmd(t, runSync, "-source", "src:done/", "-destination", "reports", "-job-id", "sync-once")
	if err != nil || code != 0 {
		t.Fatalf("sync: exit %d, %v\n%s", code, err, out)
	}
	for _, want := range []string{"started job sync-once", `"conflict":"changed"`, "job sync-once: succeeded", "second pass: 0 new, 0 changed, 0 unchanged, 0 failed"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if _, code, err := e.cmd(t, runSync, "-source", "src:done/", "-destination", "reports", "-conflict", "skip"); code != 1 || err == nil {
		t.Errorf("sync -conflict skip: exit %d, %v", code, err)
	}

	out, code, err = e.cmd(t, runSync, "-source", "src:done/", "-destination", "reports", "-every", "2s", "-schedule-id", "nightly")
	if err != nil || code != 0 || !strings.Contains(out, "created schedule nightly") || !strings.Contains(out, "starter sync -delete-schedule -schedule-id nightly") {
		t.Fatalf("sync -every: exit %d, %v\n%s", code, err, out)
	}
	if _, _, err := e.cmd(t, runSync, "-source", "src:done/", "-destination", "reports", "-every", "2s", "-schedule-id", "nightly"); err == nil ||
		!strings.Contains(err.Error(), "exists") {
		t.Errorf("second create: %v", err)
	}

	cfg, err := config.Load(e.cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	cn, err := dialConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer cn.Close()
	// Two runs, each under its own workflow id, complete with the changed
	// policy.
	done := map[string]bool{}
	for len(done) < 2 {
		if ctx.Err() != nil {
			t.Fatalf("the schedule completed %d runs in time, want 2", len(done))
		}
		ids, err := schedule.Runs(ctx, cn.c, "nightly")
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range ids {
			if done[id] {
				continue
			}
			if !strings.HasPrefix(id, "nightly-") {
				t.Fatalf("run id %q does not start with the schedule id", id)
			}
			var res migration.JobResult
			if err := cn.c.GetWorkflow(ctx, id, "").Get(ctx, &res); err != nil || res.Status != migration.StatusSucceeded {
				t.Fatalf("run %s: %+v, %v", id, res, err)
			}
			d, err := cn.c.DescribeWorkflowExecution(ctx, id, "")
			if err != nil {
				t.Fatal(err)
			}
			if got := d.GetWorkflowExecutionInfo().GetType().GetName(); got != migration.JobWorkflow {
				t.Errorf("run %s is a %s", id, got)
			}
			done[id] = true
		}
		time.Sleep(200 * time.Millisecond)
	}

	out, code, err = e.cmd(t, runSync, "-delete-schedule", "-schedule-id", "nightly")
	if err != nil || code != 0 || !strings.Contains(out, "deleted schedule nightly") {
		t.Fatalf("delete: exit %d, %v\n%s", code, err, out)
	}
	if _, err := schedule.Runs(ctx, cn.c, "nightly"); err == nil {
		t.Error("the schedule is still there after -delete-schedule")
	}
}
