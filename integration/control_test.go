package integration

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/bucketferry/bucketferry/emulator"
	"github.com/bucketferry/bucketferry/internal/histories"
	"github.com/bucketferry/bucketferry/migration"
)

// buildStarter builds the starter command into dir, so that the tests run
// the very commands an operator types against the test server.
func buildStarter(dir string) (string, error) {
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Dir(filepath.Dir(file))
	bin := filepath.Join(dir, "starter")
	cmd := exec.Command("go", "build", "-o", bin, "./starter")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOTOOLCHAIN=local")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build starter: %w\n%s", err, out)
	}
	return bin, nil
}

// runStarter runs a starter sub-command and returns its output and exit
// code.
func (h *harness) runStarter(t *testing.T, bin string, timeout time.Duration, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append(args, "-config", h.cfgPath)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		t.Fatalf("starter %q did not end within %v:\n%s", args, timeout, out.String())
	case errors.As(err, &ee):
		return out.String(), ee.ExitCode()
	case err != nil:
		t.Fatalf("starter %q: %v", args, err)
	}
	return out.String(), 0
}

func (h *harness) dstPuts() int64 { return h.emu.COSFaults.Stats().ByMethod[http.MethodPut] }

// dstKeysUnder counts destination objects under a prefix.
func (h *harness) dstKeysUnder(prefix string) int {
	n := 0
	for _, k := range h.emu.Backend.Keys(dstBucket) {
		if strings.HasPrefix(k, prefix) {
			n++
		}
	}
	return n
}

// TestFailuresExportAndRetry: a job ends with 20,000 unreadable objects;
// `starter failures` exports all 20,000 with size, reason and attempts;
// once the source serves 1,000 of them again, `starter retry` copies
// exactly those (counted in PUTs at the destination) and reports the rest
// as still failing; a second retry starts from the first retry's failures.
func TestFailuresExportAndRetry(t *testing.T) {
	h := newHarness(t)
	const total, failing = 20400, 20000
	if _, err := emulator.Generate(h.emu.Backend, srcBucket, emulator.DataSet{Objects: total, MaxSize: 256, Seed: 21}); err != nil {
		t.Fatal(err)
	}
	keys := h.emu.Backend.Keys(srcBucket)
	if len(keys) != total {
		t.Fatalf("seeded %d keys, want %d", len(keys), total)
	}
	var bad []string
	for i, k := range keys {
		if i%51 != 0 {
			bad = append(bad, k)
		}
	}
	if len(bad) != failing {
		t.Fatalf("%d failing keys, want %d", len(bad), failing)
	}
	kf := emulator.NewKeyFaults(http.MethodGet)
	kf.Fail(srcBucket, &emulator.APIError{Status: 403, Code: "AccessDenied", Message: "object ACL denies access"}, bad...)
	h.emu.OSSFaults.Set(emulator.FaultConfig{Fail: kf.OSS})
	// Built while the job runs.
	type built struct {
		bin string
		err error
	}
	bin, dir := make(chan built, 1), t.TempDir()
	go func() {
		b, err := buildStarter(dir)
		bin <- built{b, err}
	}()

	h.startWorker(t)
	spec := baseSpec()
	spec.Shards = 8
	spec.MaxAttempts = 2
	start := time.Now()
	res, err := h.wait(t, h.startJob(t, "job-20k", spec), 3*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("job with %d failures took %v", failing, time.Since(start).Round(time.Millisecond))
	if res.Status != migration.StatusCompletedWithFailures || res.Counts.Failed != failing || res.Counts.Copied != total-failing {
		t.Fatalf("status %q, %d copied, %d failed; want %q, %d, %d", res.Status, res.Counts.Copied, res.Counts.Failed,
			migration.StatusCompletedWithFailures, total-failing, failing)
	}
	b := <-bin
	if b.err != nil {
		t.Fatal(b.err)
	}
	starter := b.bin

	// Export: every failure, once, with its size, reason and attempts.
	out := filepath.Join(t.TempDir(), "failed.jsonl")
	msg, code := h.runStarter(t, starter, time.Minute, "failures", "job-20k", "-format", "jsonl", "-o", out)
	if code != 0 {
		t.Fatalf("failures exited %d:\n%s", code, msg)
	}
	exported := readFailures(t, out)
	if len(exported) != failing {
		t.Fatalf("export holds %d failures, want %d (%s)", len(exported), failing, msg)
	}
	seen := map[string]bool{}
	for _, f := range exported {
		if seen[f.Key] {
			t.Fatalf("%q exported twice", f.Key)
		}
		seen[f.Key] = true
		obj, err := h.emu.Backend.Object(srcBucket, f.Key)
		if err != nil {
			t.Fatalf("exported key %q is not a source object", f.Key)
		}
		if f.Size != obj.Size || f.Reason == "" || f.Kind == "" || f.Attempts < 1 {
			t.Fatalf("export of %q lacks size, reason or attempts: %+v (size %d)", f.Key, f, obj.Size)
		}
	}
	for _, k := range bad {
		if !seen[k] {
			t.Fatalf("failing key %q missing from the export", k)
		}
	}

	// Heal every 20th failing key: those and only those get copied.
	var healed []string
	for i, k := range bad {
		if i%20 == 0 {
			healed = append(healed, k)
		}
	}
	kf.Heal(srcBucket, healed...)
	before := h.dstPuts()
	msg, code = h.runStarter(t, starter, 3*time.Minute, "retry", "job-20k")
	t.Logf("retry output:\n%s", msg)
	if code != 3 {
		t.Fatalf("retry exited %d, want 3 (still failures)", code)
	}
	if !strings.Contains(msg, "1,000 of 20,000 failed objects of job-20k now copied, 19,000 still fail") {
		t.Errorf("retry does not report what it achieved")
	}
	chunks := h.dstKeysUnder("bucketferry-reports/job-20k-retry-1/failures/")
	puts := h.dstPuts() - before
	t.Logf("retry: %d PUTs at the destination for %d healed objects and %d failure-log chunks", puts, len(healed), chunks)
	if puts != int64(len(healed)+chunks) {
		t.Errorf("retry sent %d PUTs, want exactly %d objects + %d failure-log chunks", puts, len(healed), chunks)
	}
	healedSet := map[string]bool{}
	for _, k := range healed {
		healedSet[k] = true
	}
	stillBad := map[string]bool{}
	for _, k := range bad {
		if !healedSet[k] {
			stillBad[k] = true
		}
	}
	if n := h.verifyAll(t, stillBad); n != total-len(stillBad) {
		t.Errorf("verified %d objects, want %d", n, total-len(stillBad))
	}
	var r1 migration.JobResult
	if err := h.c.GetWorkflow(context.Background(), "job-20k-retry-1", "").Get(context.Background(), &r1); err != nil {
		t.Fatal(err)
	}
	if r1.Counts.Copied != int64(len(healed)) || r1.Counts.Failed != int64(len(stillBad)) {
		t.Errorf("retry result %+v, want %d copied and %d failed", r1.Counts, len(healed), len(stillBad))
	}

	// A second retry takes the first retry's failures.
	kf.Heal(srcBucket, bad[1:400]...)
	var healed2 int
	for _, k := range bad[1:400] {
		if stillBad[k] {
			healed2++
		}
	}
	before = h.dstPuts()
	msg, code = h.runStarter(t, starter, 3*time.Minute, "retry", "job-20k")
	t.Logf("second retry output:\n%s", msg)
	if code != 3 || !strings.Contains(msg, "newest retry, job-20k-retry-1") || !strings.Contains(msg, "job-20k-retry-2") {
		t.Fatalf("second retry exited %d and does not say it retries job-20k-retry-1 as job-20k-retry-2", code)
	}
	chunks = h.dstKeysUnder("bucketferry-reports/job-20k-retry-2/failures/")
	if puts := h.dstPuts() - before; puts != int64(healed2+chunks) {
		t.Errorf("second retry sent %d PUTs, want %d objects + %d chunks", puts, healed2, chunks)
	}
	var r2 migration.JobResult
	if err := h.c.GetWorkflow(context.Background(), "job-20k-retry-2", "").Get(context.Background(), &r2); err != nil {
		t.Fatal(err)
	}
	if r2.Counts.Objects() != int64(len(stillBad)) || r2.Counts.Copied != int64(healed2) {
		t.Errorf("second retry %+v: want %d objects in scope, %d copied", r2.Counts, len(stillBad), healed2)
	}
	// A retry job: a manifest of an earlier job's failure log.
	h.recordHistories(t, "job-20k-retry-1", "job-20k-retry-1/shard-00000")
}

func readFailures(t *testing.T, path string) []migration.Failure {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []migration.Failure
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var fl migration.Failure
		if err := json.Unmarshal(sc.Bytes(), &fl); err != nil {
			t.Fatalf("export line %q: %v", sc.Text(), err)
		}
		out = append(out, fl)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// control runs a pause or resume update as `starter pause` does.
func (h *harness) control(t *testing.T, id, update string) migration.ControlResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	u, err := h.c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID: id, UpdateName: update, WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	if err != nil {
		t.Fatalf("%s: %v", update, err)
	}
	var res migration.ControlResult
	if err := u.Get(ctx, &res); err != nil {
		t.Fatalf("%s: %v", update, err)
	}
	return res
}

func (h *harness) progress(t *testing.T, id string) migration.Progress {
	t.Helper()
	v, err := h.c.QueryWorkflow(context.Background(), id, "", migration.QueryProgress)
	if err != nil {
		t.Fatal(err)
	}
	var p migration.Progress
	if err := v.Get(&p); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestPauseResume: a paused job stops writing to the destination within
// seconds (the pages in flight end), shows "paused", and once resumed runs
// to a verified end.
func TestPauseResume(t *testing.T) {
	h := newHarness(t)
	st, err := emulator.Generate(h.emu.Backend, srcBucket, emulator.DataSet{Objects: 3000, MaxSize: 4 << 10, Seed: 31})
	if err != nil {
		t.Fatal(err)
	}
	h.emu.COSFaults.Set(emulator.FaultConfig{Latency: 5 * time.Millisecond})
	h.startWorker(t)
	spec := baseSpec()
	spec.Shards = 8
	spec.PageSize = 50
	spec.Concurrency = migration.Concurrency{Shards: 4, Objects: 8, LargeObjects: 2}
	run := h.startJob(t, "job-pause", spec)
	deadline := time.Now().Add(time.Minute)
	for len(h.emu.Backend.Keys(dstBucket)) < 300 {
		if time.Now().After(deadline) {
			t.Fatal("job made no progress")
		}
		time.Sleep(20 * time.Millisecond)
	}

	paused := time.Now()
	res := h.control(t, "job-pause", migration.UpdatePause)
	if !res.Paused || !res.Changed || res.ShardsNotified == 0 {
		t.Fatalf("pause answered %+v", res)
	}
	// The pages in flight end; then nothing more arrives.
	last, stable := len(h.emu.Backend.Keys(dstBucket)), time.Now()
	for time.Since(stable) < 2*time.Second {
		if time.Since(paused) > 10*time.Second {
			t.Fatalf("destination still growing %v after the pause", time.Since(paused).Round(time.Millisecond))
		}
		time.Sleep(100 * time.Millisecond)
		if n := len(h.emu.Backend.Keys(dstBucket)); n != last {
			last, stable = n, time.Now()
		}
	}
	t.Logf("copies stopped %v after the pause, %d of %d objects at the destination",
		stable.Sub(paused).Round(time.Millisecond), last, st.Objects)
	time.Sleep(2 * time.Second)
	if n := len(h.emu.Backend.Keys(dstBucket)); n != last || n >= st.Objects {
		t.Fatalf("paused job went on copying: %d objects, %d before (of %d)", n, last, st.Objects)
	}
	if p := h.progress(t, "job-pause"); p.Status != migration.StatusPaused {
		t.Errorf("progress of a paused job says %q", p.Status)
	}
	if again := h.control(t, "job-pause", migration.UpdatePause); again.Changed {
		t.Errorf("pausing a paused job changed something: %+v", again)
	}

	if res := h.control(t, "job-pause", migration.UpdateResume); res.Paused || !res.Changed {
		t.Fatalf("resume answered %+v", res)
	}
	out, err := h.wait(t, run, 2*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if out.Status != migration.StatusSucceeded || out.Counts.Copied != int64(st.Objects) {
		t.Fatalf("resumed job ended %q with %+v", out.Status, out.Counts)
	}
	if n := h.verifyAll(t, nil); n != st.Objects {
		t.Errorf("verified %d of %d", n, st.Objects)
	}
	if os.Getenv("BUCKETFERRY_RECORD_HISTORIES") == "1" {
		dir := filepath.Join("..", "workflows", "testdata")
		if err := histories.Record(context.Background(), h.c, dir, "job-pause", "job-pause/shard-00000"); err != nil {
			t.Fatal(err)
		}
	}
}

// TestCancelAbortsUploads: cancelling a job while large objects are being
// uploaded part by part leaves no multipart upload open at the
// destination, and none of those objects half-written.
func TestCancelAbortsUploads(t *testing.T) {
	h := newHarness(t)
	if _, err := emulator.Generate(h.emu.Backend, srcBucket, emulator.DataSet{Objects: 20, MaxSize: 1024, Large: 4, LargeSize: 24 * mib, Seed: 41}); err != nil {
		t.Fatal(err)
	}
	// Slow uploads: each large object takes far longer than a
	// cancellation takes to reach its activity.
	h.emu.COSFaults.Set(emulator.FaultConfig{Bandwidth: 1 << 20})
	h.startWorker(t)
	spec := baseSpec()
	spec.Shards = 2
	run := h.startJob(t, "job-cancel-large", spec)
	deadline := time.Now().Add(time.Minute)
	for h.emu.Backend.UploadCount(dstBucket) < 2 {
		if time.Now().After(deadline) {
			t.Fatal("no multipart upload started")
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(time.Second) // some parts in
	open := h.emu.Backend.OpenUploads(dstBucket)
	t.Logf("cancelling with uploads open for %q", open)
	if err := h.c.CancelWorkflow(context.Background(), "job-cancel-large", ""); err != nil {
		t.Fatal(err)
	}
	cancelled := time.Now()
	if _, err := h.wait(t, run, time.Minute); err == nil {
		t.Fatal("cancelled job succeeded")
	}
	for h.emu.Backend.UploadCount(dstBucket) > 0 {
		if time.Since(cancelled) > 45*time.Second {
			t.Fatalf("uploads still open %v after the cancel: %q", time.Since(cancelled).Round(time.Second), h.emu.Backend.OpenUploads(dstBucket))
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("every upload aborted %v after the cancel", time.Since(cancelled).Round(time.Millisecond))
	for _, k := range open {
		if _, err := h.emu.Backend.Object(dstBucket, k); err == nil {
			t.Errorf("%q was completed instead of aborted: the test did not exercise the abort", k)
		}
	}
}
