// Package integration runs whole migration jobs against a real Temporal
// server in-process (temporaltest) and the OSS and COS emulators, through the
// official SDKs and the same worker assembly the worker command uses.
package integration

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	temporalserver "go.temporal.io/server/temporal"
	"go.temporal.io/server/temporaltest"

	"github.com/bucketferry/bucketferry/config"
	"github.com/bucketferry/bucketferry/emulator"
	"github.com/bucketferry/bucketferry/jobclient"
	"github.com/bucketferry/bucketferry/migration"
	"github.com/bucketferry/bucketferry/runner"
	"github.com/bucketferry/bucketferry/storage"
)

const (
	srcBucket = "source"
	dstBucket = "destination-1250000000"
)

type harness struct {
	ts      *temporaltest.TestServer
	c       client.Client
	emu     *emulator.Server
	cfgPath string
	cfg     *config.Config
}

func newHarness(t *testing.T) *harness { return newHarnessFull(t, nil) }

// newHarnessWith is newHarness with options of the Temporal server.
func newHarnessWith(t *testing.T, serverOpts ...temporalserver.ServerOption) *harness {
	t.Helper()
	return newHarnessFull(t, nil, serverOpts...)
}

// newHarnessStores adds the stores extra returns (YAML lines under stores:,
// given the emulator, whose S3 front end runs too) to the configuration.
func newHarnessStores(t *testing.T, extra func(emu *emulator.Server) string) *harness {
	t.Helper()
	return newHarnessFull(t, extra)
}

func newHarnessFull(t *testing.T, extra func(emu *emulator.Server) string, serverOpts ...temporalserver.ServerOption) *harness {
	t.Helper()
	ts := temporaltest.NewServer(temporaltest.WithT(t), temporaltest.WithBaseServerOptions(serverOpts...))
	emuCfg := emulator.Config{
		OSSCredentials: map[string]string{"oss-ak": "oss-secret"},
		COSCredentials: map[string]string{"cos-id": "cos-key"},
		Buckets:        []string{srcBucket, dstBucket},
	}
	if extra != nil {
		emuCfg.S3Addr = "127.0.0.1:0"
	}
	emu, err := emulator.Start(emuCfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emu.Close() })
	h := &harness{ts: ts, c: ts.GetDefaultClient(), emu: emu}
	h.cfgPath = filepath.Join(t.TempDir(), "bucketferry.yaml")
	yaml := fmt.Sprintf(`temporal:
  address: %q
  namespace: %q
worker:
  maxConcurrentActivities: 16
transfer:
  multipartThreshold: 8MiB
  partSize: 2MiB
  partsInFlight: 4
log:
  level: warn
stores:
  src:
    type: oss
    endpoint: %q
    bucket: %s
    accessKeyId: oss-ak
    accessKeySecret: oss-secret
  dst:
    type: cos
    endpoint: %q
    bucket: %s
    region: ap-guangzhou
    secretId: cos-id
    secretKey: cos-key
  baddst:
    type: cos
    endpoint: %q
    bucket: %s
    region: ap-guangzhou
    secretId: cos-id
    secretKey: not-the-key
`, ts.GetFrontendHostPort(), ts.GetDefaultNamespace(), emu.OSSURL(), srcBucket, emu.COSURL(), dstBucket, emu.COSURL(), dstBucket)
	if extra != nil {
		yaml += extra(emu)
	}
	if err := os.WriteFile(h.cfgPath, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(h.cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	h.cfg = cfg
	// The workers' client as the worker command dials it: with the
	// heartbeats of slots that jobs size their work by.
	opts, err := cfg.ClientOptions(nil)
	if err != nil {
		t.Fatal(err)
	}
	if h.c, err = client.Dial(opts); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.c.Close)
	h.registerSearchAttributes(t)
	return h
}

func (h *harness) registerSearchAttributes(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := h.c.OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
		Namespace:        h.ts.GetDefaultNamespace(),
		SearchAttributes: jobclient.SearchAttributeTypes(),
	})
	if err != nil {
		t.Fatal(err)
	}
}

// startWorker runs a worker assembled exactly as the worker command does.
func (h *harness) startWorker(t *testing.T) worker.Worker {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	w, err := runner.NewWorker(h.c, h.cfg, logger)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			w.Stop()
		}
	})
	return w
}

func (h *harness) startJob(t *testing.T, id string, spec migration.JobSpec) client.WorkflowRun {
	t.Helper()
	run, err := h.c.ExecuteWorkflow(context.Background(), client.StartWorkflowOptions{
		ID: id, TaskQueue: migration.TaskQueue,
	}, migration.JobWorkflow, migration.JobInput{Spec: spec})
	if err != nil {
		t.Fatal(err)
	}
	return run
}

func (h *harness) wait(t *testing.T, run client.WorkflowRun, timeout time.Duration) (migration.JobResult, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var res migration.JobResult
	err := run.GetWithOptions(ctx, &res, client.WorkflowRunGetOptions{})
	if ctx.Err() != nil {
		t.Fatalf("job %s did not finish within %v", run.GetID(), timeout)
	}
	return res, err
}

// verifyAll checks every source object against the destination: size,
// CRC64, standard headers and user metadata.
func (h *harness) verifyAll(t *testing.T, skip map[string]bool) int {
	t.Helper()
	return h.verifyBuckets(t, srcBucket, dstBucket, skip)
}

// verifyBuckets is verifyAll between two buckets of the emulator.
func (h *harness) verifyBuckets(t *testing.T, srcBucket, dstBucket string, skip map[string]bool) int {
	t.Helper()
	n := 0
	for _, k := range h.emu.Backend.Keys(srcBucket) {
		if skip[k] {
			if _, err := h.emu.Backend.Object(dstBucket, k); err == nil {
				t.Errorf("%q should have failed but is at the destination", k)
			}
			continue
		}
		s, _ := h.emu.Backend.Object(srcBucket, k)
		d, err := h.emu.Backend.Object(dstBucket, k)
		if err != nil {
			t.Errorf("%q missing at the destination", k)
			continue
		}
		if p := emulator.CompareObjects(s, d); p != "" {
			t.Errorf("%q: %s", k, p)
			continue
		}
		n++
	}
	return n
}

// histories returns the number of events of every workflow run in the
// namespace, continued-as-new runs included.
func (h *harness) histories(t *testing.T) map[string]int {
	t.Helper()
	ctx := context.Background()
	out := map[string]int{}
	var token []byte
	for {
		resp, err := h.c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Namespace: h.ts.GetDefaultNamespace(), PageSize: 1000, NextPageToken: token,
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range resp.GetExecutions() {
			id, runID := e.GetExecution().GetWorkflowId(), e.GetExecution().GetRunId()
			it := h.c.GetWorkflowHistory(ctx, id, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
			n := 0
			for it.HasNext() {
				if _, err := it.Next(); err != nil {
					t.Fatal(err)
				}
				n++
			}
			out[id+"@"+runID] = n
		}
		token = resp.GetNextPageToken()
		if len(token) == 0 {
			return out
		}
	}
}

func (h *harness) assertHistoriesBounded(t *testing.T, limit int) {
	t.Helper()
	// Visibility is eventually consistent: give closed runs a moment.
	time.Sleep(time.Second)
	hs := h.histories(t)
	largest, which := 0, ""
	for run, n := range hs {
		if n > largest {
			largest, which = n, run
		}
	}
	t.Logf("%d workflow runs; largest history %d events (%s)", len(hs), largest, which)
	if largest > limit {
		t.Errorf("run %s has %d history events, over %d", which, largest, limit)
	}
}

// failureLog reads every failure the job wrote to its failure log.
func (h *harness) failureLog(t *testing.T, loc migration.Location) []migration.Failure {
	t.Helper()
	st, err := h.cfg.Store(loc.Store)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var out []migration.Failure
	opts := storage.ListOptions{Prefix: loc.Prefix + "failures/"}
	for {
		page, err := st.List(ctx, opts)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range page.Objects {
			rc, _, err := st.Get(ctx, o.Key, storage.Range{})
			if err != nil {
				t.Fatal(err)
			}
			sc := bufio.NewScanner(rc)
			sc.Buffer(make([]byte, 64<<10), 4<<20)
			for sc.Scan() {
				var f migration.Failure
				if err := json.Unmarshal(sc.Bytes(), &f); err != nil {
					t.Fatalf("failure log %s: %v", o.Key, err)
				}
				out = append(out, f)
			}
			rc.Close()
		}
		if page.Done {
			return out
		}
		opts.After = page.Next
	}
}

// appErrorType is the type of the application error in err's chain.
func appErrorType(err error) string {
	var ae *temporal.ApplicationError
	if errors.As(err, &ae) {
		return ae.Type()
	}
	return ""
}
