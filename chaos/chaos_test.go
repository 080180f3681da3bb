// Package chaos proves "nothing lost, whatever happens" the way users
// deploy bucketferry: the Temporal server (`starter server`, SQLite state),
// the OSS and COS emulators (`starter emulator`, with transient errors and
// connections cut mid-body) and three `worker` processes, each its own
// process. While a job runs, the test SIGKILLs a random worker every few
// seconds and starts a new one, and SIGKILLs the server once and starts it
// again. At the end every source object must be at the destination with its
// size, CRC64 and metadata, and the job must report "succeeded".
//
// CI runs a small data set; the full run is
//
//	BUCKETFERRY_CHAOS_OBJECTS=20000 go test ./chaos -run Chaos -v -timeout 60m
//
// The package also stops the Temporal server mid-job (serverdown_test.go)
// and upgrades the workers mid-job from the previous release
// (upgrade_test.go), on the deployment of cluster_test.go.
package chaos

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"

	"github.com/bucketferry/bucketferry/config"
	"github.com/bucketferry/bucketferry/internal/childproc"
	"github.com/bucketferry/bucketferry/migration"
	"github.com/bucketferry/bucketferry/storage"
	"github.com/bucketferry/bucketferry/verify"
)

// build compiles the commands into dir once for the test.
func build(t *testing.T, dir string) (worker, starter string) {
	t.Helper()
	worker, starter = filepath.Join(dir, "worker"), filepath.Join(dir, "starter")
	for _, b := range [][2]string{{worker, "../worker"}, {starter, "../starter"}} {
		cmd := exec.Command("go", "build", "-o", b[0], b[1])
		cmd.Env = append(os.Environ(), "GOTOOLCHAIN=local")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", b[1], err, out)
		}
	}
	return worker, starter
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

func TestChaos(t *testing.T) {
	objects := envInt("BUCKETFERRY_CHAOS_OBJECTS", 3000)
	large := max(4, objects/2500)
	dir := t.TempDir()
	workerBin, starterBin := build(t, dir)

	ossAddr, cosAddr, temporalAddr := freeAddr(t), freeAddr(t), freeAddr(t)
	emu := childproc.Start(t, "emulator", nil, starterBin, "emulator", "-oss-addr", ossAddr, "-cos-addr", cosAddr,
		"-generate", strconv.Itoa(objects), "-max-size", "262144", "-large", strconv.Itoa(large), "-large-size", strconv.Itoa(24<<20),
		"-error-rate", "0.05", "-reset-rate", "0.02", "-seed", "7")
	emu.WaitFor(t, "ready", 2*time.Minute)

	cfgPath := filepath.Join(dir, "bucketferry.yaml")
	stateDir := filepath.Join(dir, "state")
	cfg := fmt.Sprintf(`temporal:
  address: %q
server:
  stateDir: %q
  address: %q
  uiAddress: "-"
worker:
  maxConcurrentActivities: 8
  shutdownTimeout: 1s
transfer:
  multipartThreshold: 8MiB
  partSize: 2MiB
log:
  level: warn
stores:
  src:
    type: oss
    endpoint: http://%s
    bucket: source
    accessKeyId: emulator-oss-ak
    accessKeySecret: emulator-oss-secret
  dst:
    type: cos
    endpoint: http://%s
    bucket: destination-1250000000
    region: ap-guangzhou
    secretId: emulator-cos-id
    secretKey: emulator-cos-key
`, temporalAddr, stateDir, temporalAddr, ossAddr, cosAddr)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	serverArgs := []string{starterBin, "server", "-config", cfgPath}
	server := childproc.Start(t, "server", nil, serverArgs...)
	server.WaitFor(t, "Temporal server ready", 2*time.Minute)

	var workers []*childproc.Proc
	spawned := 0
	spawn := func() {
		spawned++
		workers = append(workers, childproc.Start(t, fmt.Sprintf("worker-%d", spawned),
			[]string{fmt.Sprintf("BUCKETFERRY_WORKER_IDENTITY=chaos-worker-%d", spawned)}, workerBin, "-config", cfgPath))
	}
	for range 3 {
		spawn()
	}

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Minute)
	defer cancel()
	c, err := client.DialContext(ctx, client.Options{HostPort: temporalAddr, Logger: sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler))})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	const id = "chaos-job"
	spec := migration.JobSpec{
		Source: migration.Location{Store: "src"}, Destination: migration.Location{Store: "dst"},
		Shards: 16, LargeObjectBytes: 8 << 20, MaxAttempts: 10,
		// Pages of 100 rather than the default 1,000: the job's progress
		// (which the server's kill follows) moves page by page, and a
		// shard here holds about 190 objects.
		PageSize: 100,
	}
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: migration.TaskQueue}, migration.JobWorkflow, migration.JobInput{Spec: spec})
	if err != nil {
		t.Fatal(err)
	}

	done := make(chan error, 1)
	var res migration.JobResult
	go func() {
		// Waiting for the result rides a long poll that the server's kill
		// can end with a transport error: only the job's own outcome (or
		// the test's deadline) ends the wait.
		for {
			err := c.GetWorkflow(ctx, id, run.GetRunID()).Get(ctx, &res)
			var wfErr *temporal.WorkflowExecutionError
			if err == nil || errors.As(err, &wfErr) || ctx.Err() != nil {
				done <- err
				return
			}
			t.Logf("waiting for the job's result: %v; asking again", err)
			time.Sleep(time.Second)
		}
	}()
	rng := rand.New(rand.NewPCG(1, 2))
	killedWorkers, serverKilled := 0, false
	// The server's kill follows the job's progress, looked at often: a
	// fixed schedule missed it once the job got fast enough to end between
	// two looks.
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	started := time.Now()
	lastWorkerKill := started
loop:
	for {
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("job: %v\nserver:\n%s", err, server.Output())
			}
			break loop
		case <-ctx.Done():
			t.Fatal("the job did not end in time")
		case <-tick.C:
		}
		if time.Since(lastWorkerKill) >= 3*time.Second {
			// A random worker dies hard and a new one takes its place.
			i := rng.IntN(len(workers))
			workers[i].Kill()
			killedWorkers++
			lastWorkerKill = time.Now()
			workers = append(workers[:i], workers[i+1:]...)
			spawn()
		}
		if !serverKilled && copiedAtLeast(ctx, c, id, int64(objects)*3/10) {
			server.Kill()
			serverKilled = true
			t.Logf("server SIGKILLed after %v; starting it again", time.Since(started).Round(time.Second))
			server = childproc.Start(t, "server", nil, serverArgs...)
			server.WaitFor(t, "Temporal server ready", 2*time.Minute)
		}
	}
	elapsed := time.Since(started)
	if !serverKilled || killedWorkers == 0 {
		t.Errorf("the job ended after %d worker kills and server killed %v: make it bigger", killedWorkers, serverKilled)
	}
	if res.Status != migration.StatusSucceeded {
		t.Fatalf("job status %q: %+v", res.Status, res.Counts)
	}
	for _, w := range workers {
		w.Stop(t)
	}
	server.Stop(t)

	// Every source object, checked through the stores while the emulator
	// still runs: listings merged, sizes and CRC64s compared, then each
	// object's metadata.
	wcfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	src, err := wcfg.Store("src")
	if err != nil {
		t.Fatal(err)
	}
	dst, err := wcfg.Store("dst")
	if err != nil {
		t.Fatal(err)
	}
	rep, err := verify.Run(ctx, verify.Options{Source: src, Destination: dst, Deep: true,
		IgnoreDest: []string{"bucketferry-reports/"}}, func(d verify.Diff) error {
		t.Errorf("verify: %s %s: %s", d.Kind, d.Key, d.Reason)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	total := int64(objects + large)
	if rep.Equal != total || rep.Differences() != 0 {
		t.Fatalf("verified %d of %d equal: %s", rep.Equal, total, rep)
	}
	checkMetadata(ctx, t, src, dst)

	emu.Stop(t)
	cosIn := statValue(t, emu.Output(), "COS", "bytesIn")
	resent := float64(cosIn-res.Counts.BytesCopied) / float64(res.Counts.BytesCopied)
	t.Logf("chaos: %d objects, %d bytes copied in %v; %d worker SIGKILLs, 1 server SIGKILL; "+
		"COS received %d bytes: %.1f%% re-sent (retries after faults and kills)",
		res.Counts.Copied, res.Counts.BytesCopied, elapsed.Round(time.Second), killedWorkers, cosIn, 100*resent)
}

// copiedAtLeast reports whether the job has copied at least n objects
// (false while the job cannot answer).
func copiedAtLeast(ctx context.Context, c client.Client, id string, n int64) bool {
	qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	v, err := c.QueryWorkflow(qctx, id, "", migration.QueryProgress)
	if err != nil {
		return false
	}
	var p migration.Progress
	if err := v.Get(&p); err != nil {
		return false
	}
	return p.Counts.Copied >= n
}

// checkMetadata compares every object's metadata at both ends.
func checkMetadata(ctx context.Context, t *testing.T, src, dst storage.Store) {
	t.Helper()
	opts := storage.ListOptions{}
	n := 0
	for {
		var page storage.Page
		retry(t, func() (err error) { page, err = src.List(ctx, opts); return err })
		for _, o := range page.Objects {
			var s, d storage.ObjectInfo
			retry(t, func() (err error) { s, err = src.Head(ctx, o.Key); return err })
			retry(t, func() (err error) { d, err = dst.Head(ctx, o.Key); return err })
			if s.Meta.ContentType != d.Meta.ContentType || s.Meta.CacheControl != d.Meta.CacheControl ||
				s.Meta.ContentDisposition != d.Meta.ContentDisposition || !maps.Equal(s.Meta.User, d.Meta.User) {
				t.Errorf("%q: metadata %+v at the source, %+v at the destination", o.Key, s.Meta, d.Meta)
			}
			n++
		}
		if page.Done {
			break
		}
		opts.After = page.Next
	}
	if n == 0 {
		t.Fatal("no object to compare")
	}
}

// retry calls f until it succeeds or fails with other than the emulator's
// injected transient errors.
func retry(t *testing.T, f func() error) {
	t.Helper()
	var err error
	for range 10 {
		if err = f(); err == nil || !storage.IsRetryable(err) {
			break
		}
	}
	if err != nil {
		t.Fatal(err)
	}
}

// statValue reads one figure of the emulator's closing stats line.
func statValue(t *testing.T, out, frontEnd, name string) int64 {
	t.Helper()
	re := regexp.MustCompile(`stats ` + frontEnd + `: .*\b` + name + `=(\d+)`)
	sc := bufio.NewScanner(bytes.NewReader([]byte(out)))
	for sc.Scan() {
		if m := re.FindStringSubmatch(sc.Text()); m != nil {
			v, _ := strconv.ParseInt(m[1], 10, 64)
			return v
		}
	}
	t.Fatalf("no %s %s in the emulator's output:\n%s", frontEnd, name, out)
	return 0
}
