package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	taskqueuepb "go.temporal.io/api/taskqueue/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/server/temporaltest"

	"github.com/bucketferry/bucketferry/migration"
)

// TestRunServesJobs runs the worker command against an in-process Temporal
// server: it connects with the configured address and namespace, polls
// under the configured identity, runs a job between two local stores of
// its configuration, and returns nil once its context ends.
func TestRunServesJobs(t *testing.T) {
	ts := temporaltest.NewServer(temporaltest.WithT(t))
	c := ts.GetDefaultClient()
	src, dst := t.TempDir(), t.TempDir()
	objects := map[string]string{"a.txt": "alpha", "dir/b.txt": "bravo", "dir/sub/c.bin": strings.Repeat("c", 10_000)}
	for k, v := range objects {
		p := filepath.Join(src, filepath.FromSlash(k))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(v), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfgPath := writeConfig(t, fmt.Sprintf(`temporal:
  address: %q
  namespace: %q
worker:
  identity: worker-under-test
  shutdownTimeout: 5s
log:
  level: warn
stores:
  src:
    type: local
    path: %q
  dst:
    type: local
    path: %q
`, ts.GetFrontendHostPort(), ts.GetDefaultNamespace(), src, dst))

	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	var stderr bytes.Buffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"-config", cfgPath}, &bytes.Buffer{}, &stderr) }()

	jobCtx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	run, err := c.ExecuteWorkflow(jobCtx, client.StartWorkflowOptions{ID: "worker-job", TaskQueue: migration.TaskQueue},
		migration.JobWorkflow, migration.JobInput{Spec: migration.JobSpec{
			Source:      migration.Location{Store: "src"},
			Destination: migration.Location{Store: "dst", Prefix: "copied/"},
			Shards:      2,
		}})
	if err != nil {
		t.Fatal(err)
	}
	var res migration.JobResult
	if err := run.Get(jobCtx, &res); err != nil {
		t.Fatalf("job: %v\nworker log:\n%s", err, stderr.String())
	}
	if res.Status != migration.StatusSucceeded || res.Counts.Copied != int64(len(objects)) {
		t.Fatalf("result %+v", res)
	}
	for k, v := range objects {
		got, err := os.ReadFile(filepath.Join(dst, "copied", filepath.FromSlash(k)))
		if err != nil || string(got) != v {
			t.Errorf("%s at the destination: %q, %v", k, got, err)
		}
	}

	desc, err := c.DescribeTaskQueue(jobCtx, migration.TaskQueue, enumspb.TASK_QUEUE_TYPE_ACTIVITY)
	if err != nil {
		t.Fatal(err)
	}
	if !hasPoller(desc.GetPollers(), "worker-under-test") {
		t.Errorf("no activity poller named worker-under-test among %v", desc.GetPollers())
	}

	stop()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run after cancellation: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the worker did not stop")
	}
}

func hasPoller(pollers []*taskqueuepb.PollerInfo, identity string) bool {
	for _, p := range pollers {
		if p.GetIdentity() == identity {
			return true
		}
	}
	return false
}
