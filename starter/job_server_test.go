package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	"go.temporal.io/server/temporaltest"

	"github.com/bucketferry/bucketferry/migration"
	"github.com/bucketferry/bucketferry/storage"
	"github.com/bucketferry/bucketferry/storage/local"
)

// stubJob stands in for the job workflow under its registered name, so
// that the sub-commands are tested against a real server on their own. Its
// source prefix picks how it ends: "ok/" and "partial/" report progress for
// a moment and succeed or complete with failures, "fatal/" fails as a job
// with bad credentials does, "hold/" runs until canceled.
func stubJob(ctx workflow.Context, in migration.JobInput) (migration.JobResult, error) {
	id := workflow.GetInfo(ctx).WorkflowExecution.ID
	spec := in.Spec.WithDefaults(id)
	start := workflow.Now(ctx)
	p := migration.Progress{
		Status: migration.StatusRunning, Shards: migration.ShardCounts{Total: 4, Pending: 4},
		Started: start, FailureLog: *spec.FailureLog,
	}
	if err := workflow.SetQueryHandler(ctx, migration.QueryProgress, func() (migration.Progress, error) { return p, nil }); err != nil {
		return migration.JobResult{}, err
	}
	if spec.SearchAttributes {
		// As the job workflow does: this fails the workflow task unless the
		// starter registered the attributes with their types.
		err := workflow.UpsertTypedSearchAttributes(ctx,
			temporal.NewSearchAttributeKeyKeyword(migration.SAStatus).ValueSet(string(migration.StatusRunning)),
			temporal.NewSearchAttributeKeyKeyword(migration.SASource).ValueSet(spec.Source.Store),
			temporal.NewSearchAttributeKeyInt64(migration.SAObjectsCopied).ValueSet(0))
		if err != nil {
			return migration.JobResult{}, err
		}
	}
	res := migration.JobResult{Shards: 4, FailureLog: *spec.FailureLog, Started: start}
	switch spec.Source.Prefix {
	case "hold/":
		p.Shards = migration.ShardCounts{Total: 4, Done: 1, Running: 2, Pending: 1}
		p.Counts = migration.Counts{Copied: 5, BytesCopied: 5 << 20, Failed: 1}
		p.FailureSample = []migration.Failure{{Key: "hold/x", Size: 3, Reason: "forbidden (AccessDenied)", Kind: "forbidden", Attempts: 1}}
		err := workflow.Await(ctx, func() bool { return false })
		return res, err
	case "fatal/":
		return res, temporal.NewNonRetryableApplicationError(
			`store "baddst": access denied (SignatureDoesNotMatch): check its credentials in the workers' configuration`, migration.ErrFatal, nil)
	}
	// Timers fire at about one a second on the test server: only "ok/",
	// which is watched, takes its time.
	steps := 0
	if spec.Source.Prefix == "ok/" {
		steps = 2
	}
	for range steps {
		if err := workflow.Sleep(ctx, 100*time.Millisecond); err != nil {
			return res, err
		}
		p.Shards.Done++
		p.Shards.Pending--
		p.Counts.Copied += 10
		p.Counts.BytesCopied += 10 << 20
		p.BytesPerSecond = 10 << 20
		p.ObjectsPerSecond = 10
	}
	p.Shards = migration.ShardCounts{Total: 4, Done: 4}
	res.Counts = p.Counts
	res.Status = migration.StatusSucceeded
	if spec.Source.Prefix == "partial/" {
		res.Status = migration.StatusCompletedWithFailures
		res.Counts.Failed = 2
		res.FailureSample = []migration.Failure{
			{Key: "partial/a", Size: 1, Reason: "not found", Kind: "not found", Attempts: 1},
			{Key: "partial/b", Size: 2, Reason: "archived", Kind: "archived", Attempts: 1},
		}
	}
	res.Finished = workflow.Now(ctx)
	return res, nil
}

type serverEnv struct {
	cfgPath string
	reports storage.Store
}

func newServerEnv(t *testing.T) serverEnv {
	t.Helper()
	ts := temporaltest.NewServer(temporaltest.WithT(t))
	ts.NewWorker(migration.TaskQueue, func(r worker.Registry) {
		r.RegisterWorkflowWithOptions(stubJob, workflow.RegisterOptions{Name: migration.JobWorkflow})
	})
	dir := t.TempDir()
	reportsDir := filepath.Join(dir, "reports")
	if err := os.Mkdir(reportsDir, 0o755); err != nil {
		t.Fatal(err)
	}
	st, err := local.New(reportsDir)
	if err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "bucketferry.yaml")
	cfg := fmt.Sprintf("temporal:\n  address: %q\n  namespace: %q\nstores:\n  reports:\n    type: local\n    path: %q\n",
		ts.GetFrontendHostPort(), ts.GetDefaultNamespace(), reportsDir)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return serverEnv{cfgPath: cfgPath, reports: st}
}

// cmd runs one sub-command, bounded in time, and returns its output and
// the exit code main would use.
func (e serverEnv) cmd(t *testing.T, fn func(context.Context, []string, io.Writer) error, args ...string) (string, int, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out bytes.Buffer
	err := fn(ctx, append([]string{"-config", e.cfgPath}, args...), &out)
	if ctx.Err() != nil {
		t.Fatalf("%v did not return in time:\n%s", args, out.String())
	}
	return out.String(), exitCode(err), err
}

// TestJobCommands drives start, status, wait, cancel and failures against a
// real Temporal server running the stub job.
func TestJobCommands(t *testing.T) {
	e := newServerEnv(t)
	start, status, wait, cancel, failures := runStart, runStatus, runWait, runCancel, runFailures

	t.Run("start and watch to success", func(t *testing.T) {
		out, code, err := e.cmd(t, start, "-source", "src:ok/", "-destination", "reports", "-job-id", "job-ok", "-interval", "200ms")
		if err != nil || code != 0 {
			t.Fatalf("start: exit %d, %v\n%s", code, err, out)
		}
		for _, want := range []string{
			"started job job-ok (run ", "  src:ok/ -> reports", "watch:   starter status -watch -config ", "job-ok\n",
			"temporal workflow start", "--workflow-id job-ok", "--id-reuse-policy RejectDuplicate",
			`--input '{"spec":{"source":{"store":"src","prefix":"ok/"},"destination":{"store":"reports"}`, `"searchAttributes":true`,
			"watching job job-ok", "job job-ok: succeeded", "copied    20 objects, 20.0 MiB",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
		if strings.Contains(out, "warning") {
			t.Errorf("search attributes were not registered:\n%s", out)
		}
		if !regexp.MustCompile(`(?m)^\d{4}-\d\d-\d\dT\S+ running  shards [0-2]/4 done, 0 running  copied \d+ \(\d+\.0 MiB\)`).MatchString(out) {
			t.Errorf("no timestamped progress line:\n%s", out)
		}
		// The JSON input printed for the Temporal CLI is the job's input.
		m := regexp.MustCompile(`--input '(.*)'`).FindStringSubmatch(out)
		var in migration.JobInput
		if m == nil || json.Unmarshal([]byte(m[1]), &in) != nil || in.Spec.Source.Prefix != "ok/" || !in.Spec.SearchAttributes {
			t.Errorf("CLI input %q does not decode to the job input", m)
		}

		// The job id has run: starting it again is refused, not re-run.
		out, code, err = e.cmd(t, start, "-source", "src:ok/", "-destination", "reports", "-job-id", "job-ok")
		if code != 1 || err == nil || !strings.Contains(err.Error(), "job job-ok already ran (it ended completed)") ||
			!strings.Contains(err.Error(), "starter status") {
			t.Errorf("second start: exit %d, %v\n%s", code, err, out)
		}

		// status of a finished job prints its result, watched or not.
		for _, args := range [][]string{{"job-ok"}, {"-watch", "job-ok"}} {
			out, code, err = e.cmd(t, status, args...)
			if code != 0 || !strings.Contains(out, "job job-ok: succeeded") || strings.Contains(out, "watching") {
				t.Errorf("status %q: exit %d, %v\n%s", args, code, err, out)
			}
		}
	})

	t.Run("wait exit codes", func(t *testing.T) {
		for _, c := range []struct {
			prefix, id string
			code       int
			want       string
		}{
			{"done/", "job-w-ok", 0, "job job-w-ok: succeeded"},
			{"partial/", "job-w-partial", 3, `"partial/b" (2 B): archived`},
			{"fatal/", "job-w-fatal", 1, `job job-w-fatal failed: store "baddst": access denied`},
		} {
			out, code, err := e.cmd(t, start, "-source", "src:"+c.prefix, "-destination", "reports", "-job-id", c.id, "-detach")
			if code != 0 || strings.Contains(out, "watching") {
				t.Fatalf("start -detach: exit %d, %v\n%s", code, err, out)
			}
			out, code, err = e.cmd(t, wait, c.id)
			if code != c.code || !strings.Contains(out, c.want) {
				t.Errorf("wait %s: exit %d (want %d), %v\n%s", c.id, code, c.code, err, out)
			}
		}
		// Through run, as main calls it.
		var out, errOut bytes.Buffer
		err := run([]string{"wait", "-config", e.cfgPath, "job-w-partial"}, &out, &errOut)
		if exitCode(err) != 3 || !strings.Contains(err.Error(), "job job-w-partial completed with 2 failed objects") {
			t.Errorf("run wait: exit %d, %v", exitCode(err), err)
		}
		if _, code, err := e.cmd(t, wait, "no-such-job"); code != 1 || !strings.Contains(err.Error(), `job "no-such-job" not found`) {
			t.Errorf("wait for a missing job: exit %d, %v", code, err)
		}
	})

	t.Run("failures of a finished job", func(t *testing.T) {
		want := writeFailureLog(t, e.reports, "bucketferry-reports/job-w-partial/", 3, 2)
		out, code, err := e.cmd(t, failures, "job-w-partial")
		if code != 0 {
			t.Fatalf("failures: exit %d, %v\n%s", code, err, out)
		}
		rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
		if err != nil || len(rows) != len(want)+1 {
			t.Fatalf("%d rows (%v), want %d:\n%s", len(rows), err, len(want)+1, out)
		}
		if rows[1][0] != want[0].Key {
			t.Errorf("first row %q, want key %q", rows[1], want[0].Key)
		}
	})

	t.Run("attach, status, failures, cancel of a running job", func(t *testing.T) {
		out, code, err := e.cmd(t, start, "-source", "src:hold/", "-destination", "reports", "-job-id", "job-hold", "-detach")
		if code != 0 || !strings.Contains(out, "started job job-hold") {
			t.Fatalf("start: exit %d, %v\n%s", code, err, out)
		}
		run1 := regexp.MustCompile(`\(run (\S+)\)`).FindStringSubmatch(out)
		out, code, err = e.cmd(t, start, "-source", "src:hold/", "-destination", "reports", "-job-id", "job-hold", "-detach")
		run2 := regexp.MustCompile(`\(run (\S+)\)`).FindStringSubmatch(out)
		if code != 0 || !strings.Contains(out, "job job-hold is already running") || run1 == nil || run2 == nil || run1[1] != run2[1] {
			t.Errorf("second start did not attach: exit %d, %v\n%s", code, err, out)
		}
		if strings.Contains(out, "temporal workflow start") {
			t.Errorf("attaching prints a command line for a spec that does not run:\n%s", out)
		}

		// Interrupted, watching stops and says the job runs on.
		ctx, stop := context.WithTimeout(context.Background(), 1500*time.Millisecond)
		defer stop()
		var buf bytes.Buffer
		err = runStatus(ctx, []string{"-config", e.cfgPath, "job-hold", "-watch", "-interval", "200ms"}, &buf)
		if err == nil || !strings.Contains(err.Error(), "stopped watching job job-hold; it keeps running") ||
			!strings.Contains(buf.String(), "running  shards 1/4 done, 2 running  copied 5 (5.0 MiB)  skipped 0 (0 B)  failed 1") {
			t.Errorf("interrupted watch: %v\n%s", err, buf.String())
		}

		out, code, err = e.cmd(t, status, "job-hold")
		for _, want := range []string{"job job-hold: running", "shards    1 of 4 done, 2 running, 1 pending", "failed    1 objects",
			"every one is listed under reports:bucketferry-reports/job-hold/failures/", `"hold/x" (3 B): forbidden (AccessDenied)`} {
			if code != 0 || !strings.Contains(out, want) {
				t.Errorf("status lacks %q: exit %d, %v\n%s", want, code, err, out)
			}
		}

		// The failure log of a running job is found from its input.
		writeFailureLog(t, e.reports, "bucketferry-reports/job-hold/", 2, 1)
		out, code, err = e.cmd(t, failures, "-format", "jsonl", "job-hold")
		if code != 0 || strings.Count(out, "\n") != 2 {
			t.Errorf("failures of a running job: exit %d, %v\n%s", code, err, out)
		}

		out, code, err = e.cmd(t, cancel, "job-hold")
		if code != 0 || !strings.Contains(out, "cancellation of job job-hold requested") {
			t.Errorf("cancel: exit %d, %v\n%s", code, err, out)
		}
		out, code, err = e.cmd(t, wait, "job-hold")
		if code != 1 || !strings.Contains(out, "job job-hold was canceled") {
			t.Errorf("wait after cancel: exit %d, %v\n%s", code, err, out)
		}
		if _, code, err := e.cmd(t, cancel, "job-hold"); code != 1 || !strings.Contains(err.Error(), "not running (canceled)") {
			t.Errorf("second cancel: exit %d, %v", code, err)
		}
	})
}
