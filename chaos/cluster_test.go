package chaos

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"

	"github.com/bucketferry/bucketferry/emulator"
	"github.com/bucketferry/bucketferry/internal/childproc"
	"github.com/bucketferry/bucketferry/migration"
)

const (
	srcBucket = "source"
	dstBucket = "destination-1250000000"
)

// cluster is bucketferry deployed as its users run it: `starter server`
// (SQLite state on disk) and worker processes, each its own process, with
// the OSS and COS emulators in the test's process, so that the test counts
// what reached them.
type cluster struct {
	dir        string
	cfgPath    string
	addr       string // the Temporal server's frontend
	serverArgs []string
	server     *childproc.Proc
	emu        *emulator.Server
	c          client.Client
}

// newCluster starts the emulators and the server.
func newCluster(t *testing.T, dir, starterBin string) *cluster {
	t.Helper()
	emu, err := emulator.Start(emulator.Config{
		OSSAddr: "127.0.0.1:0", COSAddr: "127.0.0.1:0",
		OSSCredentials: map[string]string{"oss-ak": "oss-secret"},
		COSCredentials: map[string]string{"cos-id": "cos-key"},
		Buckets:        []string{srcBucket, dstBucket},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emu.Close() })
	k := &cluster{dir: dir, cfgPath: filepath.Join(dir, "bucketferry.yaml"), addr: freeAddr(t), emu: emu}
	cfg := fmt.Sprintf(`temporal:
  address: %q
server:
  stateDir: %q
  address: %q
  uiAddress: "-"
worker:
  maxConcurrentActivities: 8
  shutdownTimeout: 1s
log:
  level: warn
stores:
  src:
    type: oss
    endpoint: %s
    bucket: %s
    accessKeyId: oss-ak
    accessKeySecret: oss-secret
  dst:
    type: cos
    endpoint: %s
    bucket: %s
    region: ap-guangzhou
    secretId: cos-id
    secretKey: cos-key
`, k.addr, filepath.Join(dir, "state"), k.addr, emu.OSSURL(), srcBucket, emu.COSURL(), dstBucket)
	if err := os.WriteFile(k.cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	k.serverArgs = []string{starterBin, "server", "-config", k.cfgPath}
	k.startServer(t)
	c, err := client.Dial(client.Options{HostPort: k.addr, Logger: sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	k.c = c
	return k
}

// startServer starts the Temporal server on the cluster's port and state.
func (k *cluster) startServer(t *testing.T) {
	t.Helper()
	k.server = childproc.Start(t, "server", nil, k.serverArgs...)
	k.server.WaitFor(t, "Temporal server ready", 2*time.Minute)
}

// startWorker runs a worker binary (of this tree or of a release).
func (k *cluster) startWorker(t *testing.T, bin, name string) *childproc.Proc {
	t.Helper()
	return childproc.Start(t, name, []string{"BUCKETFERRY_WORKER_IDENTITY=" + name}, bin, "-config", k.cfgPath)
}

// startJob starts a job; its outcome comes on the channel returned, once
// the job ends, however often the server goes away meanwhile.
func (k *cluster) startJob(ctx context.Context, t *testing.T, id string, spec migration.JobSpec) <-chan jobOutcome {
	t.Helper()
	run, err := k.c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: migration.TaskQueue},
		migration.JobWorkflow, migration.JobInput{Spec: spec})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan jobOutcome, 1)
	go func() {
		// The wait rides a long poll that a server going away ends with a
		// transport error: only the job's own outcome (or the test's
		// deadline) ends it.
		for {
			var res migration.JobResult
			err := k.c.GetWorkflow(ctx, id, run.GetRunID()).Get(ctx, &res)
			var wfErr *temporal.WorkflowExecutionError
			if err == nil || errors.As(err, &wfErr) || ctx.Err() != nil {
				done <- jobOutcome{res, err}
				return
			}
			time.Sleep(time.Second)
		}
	}()
	return done
}

type jobOutcome struct {
	res migration.JobResult
	err error
}

// progress queries a job (false while it cannot answer).
func (k *cluster) progress(ctx context.Context, id string) (migration.Progress, bool) {
	qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var p migration.Progress
	v, err := k.c.QueryWorkflow(qctx, id, "", migration.QueryProgress)
	if err != nil || v.Get(&p) != nil {
		return p, false
	}
	return p, true
}

// awaitCopied polls the job until it has copied at least n objects.
func (k *cluster) awaitCopied(ctx context.Context, t *testing.T, id string, n int64, within time.Duration) migration.Progress {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		if p, ok := k.progress(ctx, id); ok && p.Counts.Copied >= n {
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s did not copy %d objects within %v", id, n, within)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// awaitOutcome waits for the job's end and fails the test unless it
// succeeded with nothing failed.
func (k *cluster) awaitOutcome(t *testing.T, done <-chan jobOutcome, within time.Duration) migration.JobResult {
	t.Helper()
	select {
	case o := <-done:
		if o.err != nil {
			t.Fatalf("job: %v\nserver:\n%s", o.err, k.server.Output())
		}
		if o.res.Status != migration.StatusSucceeded || o.res.Counts.Failed != 0 {
			t.Fatalf("job ended %q with %d failed (sample %+v)", o.res.Status, o.res.Counts.Failed, o.res.FailureSample)
		}
		return o.res
	case <-time.After(within):
		t.Fatalf("the job did not end within %v", within)
	}
	return migration.JobResult{}
}

// verifyAll checks every source object against the destination (size,
// CRC64, standard headers, user metadata) and returns how many match.
func (k *cluster) verifyAll(t *testing.T) int {
	t.Helper()
	n := 0
	for _, key := range k.emu.Backend.Keys(srcBucket) {
		s, _ := k.emu.Backend.Object(srcBucket, key)
		d, err := k.emu.Backend.Object(dstBucket, key)
		if err != nil {
			t.Errorf("%q missing at the destination", key)
			continue
		}
		if p := emulator.CompareObjects(s, d); p != "" {
			t.Errorf("%q: %s", key, p)
			continue
		}
		n++
	}
	return n
}

// puts counts the PUT requests the destination received (single PUTs and
// parts of multipart uploads).
func (k *cluster) puts() int64 { return k.emu.COSFaults.Stats().ByMethod[http.MethodPut] }
