package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"

	"github.com/bucketferry/bucketferry/config"
	"github.com/bucketferry/bucketferry/internal/childproc"
	"github.com/bucketferry/bucketferry/migration"
	"github.com/bucketferry/bucketferry/storage"
)

// The emulator's default credentials and the buckets of every run.
const (
	ossKey    = "emulator-oss-ak"
	ossSecret = "emulator-oss-secret"
	cosID     = "emulator-cos-id"
	cosKey    = "emulator-cos-key"
	s3Key     = "emulator-s3-ak"
	s3Secret  = "emulator-s3-secret"
	srcBucket = "source"
	dstBucket = "destination-1250000000"
)

// emulatorProc is a running `starter emulator` with its three front ends.
type emulatorProc struct {
	*childproc.Proc
	ossAddr, cosAddr, s3Addr string
	cfg                      *config.Config
}

func startEmulator(bins binaries, set dataSet, seed uint64, dir, cpuProfile string, extra ...string) (*emulatorProc, error) {
	var e emulatorProc
	var err error
	for _, a := range []*string{&e.ossAddr, &e.cosAddr, &e.s3Addr} {
		if *a, err = freeAddr(); err != nil {
			return nil, err
		}
	}
	args := []string{bins.starter, "emulator", "-oss-addr", e.ossAddr, "-cos-addr", e.cosAddr, "-s3-addr", e.s3Addr,
		"-seed", strconv.FormatUint(seed, 10), "-discard-destination"}
	if cpuProfile != "" {
		args = append(args, "-cpuprofile", cpuProfile)
	}
	args = append(args, extra...)
	if set.Size >= 64<<20 {
		args = append(args, "-large", strconv.Itoa(set.Objects), "-large-size", strconv.FormatInt(set.Size, 10))
	} else {
		args = append(args, "-generate", strconv.Itoa(set.Objects), "-min-size", strconv.FormatInt(set.Size, 10),
			"-max-size", strconv.FormatInt(set.Size, 10))
	}
	if e.Proc, err = childproc.Run("emulator", nil, args...); err != nil {
		return nil, err
	}
	if err := e.Await("ready", 30*time.Minute); err != nil {
		e.Terminate(stopTimeout)
		return nil, err
	}
	cfgText := storesYAML(e.ossAddr, e.cosAddr)
	path := filepath.Join(dir, "stores.yaml")
	if err := os.WriteFile(path, []byte(cfgText), 0o600); err != nil {
		e.Terminate(stopTimeout)
		return nil, err
	}
	if e.cfg, err = config.Load(path); err != nil {
		e.Terminate(stopTimeout)
		return nil, err
	}
	return &e, nil
}

func storesYAML(ossAddr, cosAddr string) string {
	return fmt.Sprintf(`stores:
  src:
    type: oss
    endpoint: http://%s
    bucket: %s
    accessKeyId: %s
    accessKeySecret: %s
  dst:
    type: cos
    endpoint: http://%s
    bucket: %s
    region: ap-guangzhou
    secretId: %s
    secretKey: %s
`, ossAddr, srcBucket, ossKey, ossSecret, cosAddr, dstBucket, cosID, cosKey)
}

func (e *emulatorProc) stores() (storage.Store, storage.Store, error) {
	src, err := e.cfg.Store("src")
	if err != nil {
		return nil, nil, err
	}
	dst, err := e.cfg.Store("dst")
	return src, dst, err
}

// tuning is a bucketferry configuration: the worker's config keys and the
// job spec's knobs.
type tuning struct {
	worker   string // YAML lines under worker:
	transfer string // YAML lines under transfer:
	spec     migration.JobSpec
	env      []string // of the worker process
}

func (t tuning) describe() string {
	c := t.spec.Concurrency
	return strings.TrimSpace(strings.ReplaceAll(t.worker+t.transfer, "\n  ", "; ")) + " " + strings.Join(t.env, " ") +
		fmt.Sprintf("; job shards=%d concurrency shards=%d objects=%d largeObjects=%d pageSize=%d (0: default)", t.spec.Shards, c.Shards, c.Objects, c.LargeObjects, t.spec.PageSize)
}

// tunings: the defaults, and what measured best on a 2-core machine.
func tuningFor(tuned bool, set dataSet, f tuneFlags) tuning {
	t := tuning{spec: migration.JobSpec{Source: migration.Location{Store: "src"}, Destination: migration.Location{Store: "dst"}}}
	if !tuned {
		return t
	}
	// Fewer requests in flight than the defaults (16 activities x 32
	// objects): on two cores that the emulator shares, more only costs
	// memory; large objects all at once with two parts each instead of
	// four at a time with four parts, so no object waits for a slot.
	activities, partSize, partsInFlight := 12, "16MiB", "2"
	t.spec.Concurrency = migration.Concurrency{Shards: 16, Objects: 16, LargeObjects: 8}
	if f.activities > 0 {
		activities = f.activities
	}
	if f.objects > 0 {
		t.spec.Concurrency.Objects = f.objects
	}
	if f.shardWindow > 0 {
		t.spec.Concurrency.Shards = f.shardWindow
	}
	if f.jobShards > 0 {
		t.spec.Shards = f.jobShards
	}
	if f.pageSize > 0 {
		t.spec.PageSize = f.pageSize
	}
	if f.partSize != "" {
		partSize = f.partSize
	}
	if f.partsInFlight != "" {
		partsInFlight = f.partsInFlight
	}
	if f.gogc != "" && f.gogc != "off" {
		t.env = []string{"GOGC=" + f.gogc, "GOMEMLIMIT=400MiB"}
	}
	t.worker = fmt.Sprintf("\n  maxConcurrentActivities: %d", activities)
	t.transfer = fmt.Sprintf("\n  partSize: %s\n  partsInFlight: %s", partSize, partsInFlight)
	return t
}

func runBucketferry(ctx context.Context, o options, bins binaries, emu *emulatorProc, set dataSet, tuned bool, dir string, r *result) (time.Duration, error) {
	t := tuningFor(tuned, set, o.tune)
	r.Settings = "worker " + t.describe()
	var sargs []string
	if p := o.profile(set, r.System, "server"); p != "" {
		sargs = append(sargs, "-cpuprofile", p)
	}
	server, cfgPath, temporalAddr, err := startServer(bins, emu, dir, t.worker, t.transfer, sargs...)
	if err != nil {
		return 0, err
	}
	defer server.Terminate(stopTimeout)
	stateDir := filepath.Join(dir, "state")
	wargs := []string{bins.worker, "-config", cfgPath}
	if p := o.profile(set, r.System, "worker"); p != "" {
		wargs = append(wargs, "-cpuprofile", p)
	}
	worker, err := childproc.Run("worker", append(os.Environ(), t.env...), wargs...)
	if err != nil {
		return 0, err
	}
	defer worker.Terminate(stopTimeout)

	c, err := client.DialContext(ctx, client.Options{HostPort: temporalAddr, Logger: sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler))})
	if err != nil {
		return 0, err
	}
	defer c.Close()
	var sampler *rssSampler
	if o.scale > 0 {
		sampler = sampleRSS(worker.PID(), 2*time.Second)
	}
	// Let the worker connect, poll and be heard by the server (its slots,
	// which size the job's window) before the clock starts, as a
	// long-running worker would have: its first heartbeat comes 5 s
	// after its start, well after its pollers.
	if _, err := awaitFleet(ctx, c, 1); err != nil {
		return 0, err
	}
	id := "bench-" + set.Name
	workerCPU, serverCPU := procCPU(worker.PID()), procCPU(server.PID())
	start := time.Now()
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: migration.TaskQueue}, migration.JobWorkflow, migration.JobInput{Spec: t.spec})
	if err != nil {
		return 0, err
	}
	// A job that makes no progress (a server that lost its cluster) ends
	// the attempt instead of the benchmark.
	jctx, cancel := context.WithTimeout(ctx, 2*time.Minute+time.Duration(set.Objects)*time.Millisecond*5+time.Duration(set.bytes()/(20<<20))*time.Second)
	defer cancel()
	var res migration.JobResult
	err = run.Get(jctx, &res)
	elapsed := time.Since(start)
	r.PeakRSS = procStatus(worker.PID(), "VmHWM")
	r.CopierCPU, r.ServerCPU = procCPU(worker.PID())-workerCPU, procCPU(server.PID())-serverCPU
	if err != nil {
		return 0, fmt.Errorf("job: %w\nworker:\n%s", err, tail(worker.Output(), 4000))
	}
	if res.Status != migration.StatusSucceeded || res.Counts.Copied != int64(set.Objects) {
		return 0, fmt.Errorf("job %s: copied %d of %d, failed %d", res.Status, res.Counts.Copied, set.Objects, res.Counts.Failed)
	}
	if sampler != nil {
		s := &scaleInfo{RSSSamples: sampler.finish(), JobStatus: string(res.Status), ObjectsCopied: res.Counts.Copied, ObjectsFailed: res.Counts.Failed}
		if n := len(s.RSSSamples); n > 0 {
			s.WorkerRSSAtStart = s.RSSSamples[n/10].RSSBytes
			s.WorkerRSSAtEnd = s.RSSSamples[n-1].RSSBytes
		}
		s.ServerPeakRSS = procStatus(server.PID(), "VmHWM")
		if err := histories(ctx, c, s); err != nil {
			return 0, err
		}
		s.SQLiteBytes = dirBytes(stateDir)
		r.Scale = s
	}
	return elapsed, nil
}

// startServer writes the configuration of a run (the server's state under
// dir, the emulator's stores, extra YAML lines under worker: and
// transfer:) and starts `starter server` with it, ready.
func startServer(bins binaries, emu *emulatorProc, dir, worker, transfer string, args ...string) (server *childproc.Proc, cfgPath, temporalAddr string, err error) {
	if temporalAddr, err = freeAddr(); err != nil {
		return nil, "", "", err
	}
	cfgPath = filepath.Join(dir, "bucketferry.yaml")
	cfg := fmt.Sprintf(`temporal:
  address: %q
server:
  stateDir: %q
  address: %q
  uiAddress: "-"
worker:
  shutdownTimeout: 5s%s
transfer:
  partAttempts: 4%s
log:
  level: warn
`, temporalAddr, filepath.Join(dir, "state"), temporalAddr, worker, transfer) + storesYAML(emu.ossAddr, emu.cosAddr)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		return nil, "", "", err
	}
	server, err = childproc.Run("server", nil, append([]string{bins.starter, "server", "-config", cfgPath}, args...)...)
	if err != nil {
		return nil, "", "", err
	}
	if err := server.Await("Temporal server ready", 3*time.Minute); err != nil {
		server.Terminate(stopTimeout)
		return nil, "", "", err
	}
	return server, cfgPath, temporalAddr, nil
}

// histories finds the longest history of every workflow run of the job.
func histories(ctx context.Context, c client.Client, s *scaleInfo) error {
	return eachRun(ctx, c, func(ex *workflowpb.WorkflowExecutionInfo) error {
		d, err := c.DescribeWorkflowExecution(ctx, ex.Execution.WorkflowId, ex.Execution.RunId)
		if err != nil {
			return fmt.Errorf("describe %s: %w", ex.Execution.WorkflowId, err)
		}
		s.WorkflowRuns++
		s.HistoryEvents += d.WorkflowExecutionInfo.HistoryLength
		if n := d.WorkflowExecutionInfo.HistoryLength; n > s.MaxHistoryLength {
			s.MaxHistoryLength = n
			s.MaxHistoryRun = ex.Execution.WorkflowId + "/" + ex.Execution.RunId
		}
		return nil
	})
}

func dirBytes(dir string) int64 {
	var n int64
	_ = filepath.Walk(dir, func(_ string, info os.FileInfo, err error) error {
		if err == nil && info.Mode().IsRegular() && strings.Contains(info.Name(), ".db") {
			n += info.Size()
		}
		return nil
	})
	return n
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// rcloneFlags are rclone's best flags for a set, as measured here: many
// transfers for small objects (each is a GET and a PUT, latency-bound), and
// for large ones a few transfers each uploading several big chunks at once.
// --disable Copy forbids server-side copies (both buckets are on one
// endpoint) so that rclone streams the bytes like the others;
// --no-check-dest skips listing and HEADing the empty destination;
// --s3-no-head trusts the upload's answer instead of a HEAD after every PUT
// (bucketferry too checks the answer's CRC64 and sends no HEAD), which made
// rclone 1.6x faster on small objects here; checksums (MD5 ETags) stay
// verified. --fast-list and other --transfers measured no better.
func rcloneFlags(set dataSet) []string {
	common := []string{"--disable", "Copy", "--no-check-dest", "--s3-no-check-bucket", "--s3-no-head", "--stats", "0", "--retries", "1"}
	switch {
	case set.Size >= 64<<20:
		return append(common, "--transfers", "8", "--checkers", "8", "--s3-upload-concurrency", "4", "--s3-chunk-size", "16M")
	case set.Size >= 256<<10:
		return append(common, "--transfers", "32", "--checkers", "16")
	default:
		return append(common, "--transfers", "64", "--checkers", "32")
	}
}

func runRclone(ctx context.Context, emu *emulatorProc, set dataSet, dir string, r *result) (time.Duration, error) {
	flags := rcloneFlags(set)
	r.Settings = "rclone copy " + strings.Join(flags, " ")
	env := []string{
		"RCLONE_CONFIG=" + filepath.Join(dir, "rclone.conf"),
		"RCLONE_CONFIG_EMU_TYPE=s3", "RCLONE_CONFIG_EMU_PROVIDER=Other",
		"RCLONE_CONFIG_EMU_ACCESS_KEY_ID=" + s3Key, "RCLONE_CONFIG_EMU_SECRET_ACCESS_KEY=" + s3Secret,
		"RCLONE_CONFIG_EMU_ENDPOINT=http://" + emu.s3Addr, "RCLONE_CONFIG_EMU_FORCE_PATH_STYLE=true",
		"RCLONE_CONFIG_EMU_REGION=us-east-1",
	}
	args := append([]string{"rclone", "copy", "emu:" + srcBucket, "emu:" + dstBucket}, flags...)
	_, elapsed, err := timedCopier("rclone", cleanEnv(env), r, args...)
	return elapsed, err
}

// timedCopier runs a copier process to its end, timing it and recording its
// peak RSS and CPU in r.
func timedCopier(name string, env []string, r *result, argv ...string) (*childproc.Proc, time.Duration, error) {
	start := time.Now()
	p, err := childproc.Run(name, env, argv...)
	if err != nil {
		return nil, 0, err
	}
	err = p.Exit()
	elapsed := time.Since(start)
	r.PeakRSS, r.CopierCPU = p.MaxRSS(), p.CPUSeconds()
	if err != nil {
		return nil, 0, fmt.Errorf("%s: %w\n%s", name, err, tail(p.Output(), 4000))
	}
	return p, elapsed, nil
}

// cleanEnv is this process's environment without AWS_CA_BUNDLE and any
// RCLONE_* variable (rclone refuses to start with AWS_CA_BUNDLE set here),
// with env added.
func cleanEnv(env []string) []string {
	var clean []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_CA_BUNDLE=") && !strings.HasPrefix(kv, "RCLONE_") {
			clean = append(clean, kv)
		}
	}
	return append(clean, env...)
}

var rawLine = regexp.MustCompile(`raw: objects=(\d+) bytes=(\d+)`)

func runRawChild(ctx context.Context, bins binaries, emu *emulatorProc, set dataSet, r *result) (time.Duration, error) {
	workers := 64
	if set.Size >= 256<<10 {
		workers = 16
	}
	if set.Size >= 64<<20 {
		workers = set.Objects
	}
	r.Settings = fmt.Sprintf("%d goroutines, net/http GET -> PUT, CRC64 headers compared", workers)
	p, elapsed, err := timedCopier("raw loop", nil, r, bins.self, "-raw-child", "-raw-workers", strconv.Itoa(workers),
		"http://"+emu.ossAddr, "http://"+emu.cosAddr)
	if err != nil {
		return 0, err
	}
	m := rawLine.FindStringSubmatch(p.Output())
	if m == nil || m[1] != strconv.Itoa(set.Objects) {
		return 0, fmt.Errorf("raw loop copied %v of %d objects:\n%s", m, set.Objects, p.Output())
	}
	return elapsed, nil
}

// profile is where a process of a run writes its CPU profile, or "" when
// the run is not profiled.
func (o options) profile(set dataSet, system, process string) string {
	if o.pprofDir == "" {
		return ""
	}
	return filepath.Join(o.pprofDir, fmt.Sprintf("%s-%s.%s.cpu.pprof", set.Name, system, process))
}
