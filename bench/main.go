// Command bench measures bucketferry against rclone and against a raw HTTP
// ceiling on the same machine, in one run, on identical data: for each data
// set and each system it starts a fresh emulator process (`starter
// emulator`, OSS, COS and S3 front ends over one backend, seeded the same),
// copies the source bucket to the destination bucket, verifies the
// destination and records the time and the copier's peak RSS.
//
//	go run ./bench                          # the three sets, four systems; prints the table
//	go run ./bench -json bench.json         # and writes the results as JSON
//	go run ./bench -quick                   # a scaled-down run (a tenth of each set)
//	go run ./bench -scale 1000000           # the scale run: a million 4 KiB objects through the whole system
//
// The destination bucket keeps only the size, ETag and CRC64 of what it
// receives (`starter emulator -discard-destination`), so gigabytes and
// millions of objects cost the emulator no memory; verification compares
// listings (every key, size and single-part MD5 ETag) and a sample of CRC64s.
package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"
)

// dataSet is one generated source bucket: objects of one size.
type dataSet struct {
	Name    string `json:"name"`
	Objects int    `json:"objects"`
	Size    int64  `json:"size"`
}

func (d dataSet) bytes() int64 { return int64(d.Objects) * d.Size }

// result is one system's run on one data set.
type result struct {
	Set           string  `json:"set"`
	System        string  `json:"system"`
	Settings      string  `json:"settings"`
	Objects       int64   `json:"objects"`
	Bytes         int64   `json:"bytes"`
	Seconds       float64 `json:"seconds"`
	ObjectsPerSec float64 `json:"objectsPerSecond"`
	MBPerSec      float64 `json:"mbPerSecond"` // 10^6 bytes
	PeakRSS       int64   `json:"peakRssBytes"`
	// CPU seconds the copy took: the copier's own (worker, rclone or raw
	// loop), the Temporal server's, and the emulator's (serving both sides).
	CopierCPU     float64     `json:"copierCpuSeconds"`
	ServerCPU     float64     `json:"serverCpuSeconds,omitempty"`
	EmulatorCPU   float64     `json:"emulatorCpuSeconds"`
	SpeedVsRclone float64     `json:"speedVsRclone,omitempty"` // objects/s (and MB/s) divided by rclone's
	SpeedVsRaw    float64     `json:"speedVsRaw,omitempty"`
	RSSVsRclone   float64     `json:"rssVsRclone,omitempty"`
	RSSVsRaw      float64     `json:"rssVsRaw,omitempty"`
	Verified      checkResult `json:"verified"`
	Error         string      `json:"error,omitempty"`
	// RunsObjectsPerSec are the speeds of every run, with -runs over 1; the
	// figures above are the median run's.
	RunsObjectsPerSec []float64 `json:"runsObjectsPerSecond,omitempty"`
	// Scale-run extras.
	Scale *scaleInfo `json:"scale,omitempty"`
}

type scaleInfo struct {
	RSSSamples        []rssSample `json:"rssSamples"`
	WorkflowRuns      int         `json:"workflowRuns"`
	MaxHistoryLength  int64       `json:"maxHistoryLength"`
	HistoryEvents     int64       `json:"historyEvents"` // of every run of every workflow
	MaxHistoryRun     string      `json:"maxHistoryRun"`
	SQLiteBytes       int64       `json:"sqliteBytes"`
	ServerPeakRSS     int64       `json:"serverPeakRssBytes"`
	WorkerRSSAtStart  int64       `json:"workerRssAtStartBytes"`
	WorkerRSSAtEnd    int64       `json:"workerRssAtEndBytes"`
	SeedSeconds       float64     `json:"seedSeconds"`
	VerifySeconds     float64     `json:"verifySeconds"`
	JobStatus         string      `json:"jobStatus"`
	ObjectsCopied     int64       `json:"objectsCopied"`
	ObjectsFailed     int64       `json:"objectsFailed"`
	ContinuedAsNewMax int         `json:"-"`
}

type options struct {
	runs        int
	sets        []dataSet
	systems     []string
	seed        uint64
	jsonPath    string
	workDir     string
	keep        bool
	sampleEvery int64
	scale       int
	pprofDir    string
	tune        tuneFlags
}

// tuneFlags override the tuned variant's settings (for finding them).
type tuneFlags struct {
	activities, objects, shardWindow, pageSize int
	partSize, partsInFlight                    string
	gogc                                       string
	jobShards                                  int
}

var allSystems = []string{"bucketferry", "bucketferry-tuned", "rclone", "raw"}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:])
	stop()
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "bench:", err)
		}
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	var (
		sets       = fs.String("sets", "small,medium,large", "data sets to run: small (4 KiB objects), medium (1 MiB), large (512 MiB)")
		systems    = fs.String("systems", strings.Join(allSystems, ","), "systems to run")
		quick      = fs.Bool("quick", false, "scale every set down to a tenth (large: one object) for a quick run")
		small      = fs.Int("small-objects", 20000, "objects of the small set")
		smallSize  = fs.Int64("small-size", 4<<10, "bytes of each small object")
		medium     = fs.Int("medium-objects", 2000, "objects of the medium set")
		mediumSize = fs.Int64("medium-size", 1<<20, "bytes of each medium object")
		large      = fs.Int("large-objects", 8, "objects of the large set")
		largeSize  = fs.Int64("large-size", 512<<20, "bytes of each large object")
		scale      = fs.Int("scale", 0, "instead of the sets: the scale run, this many small objects through bucketferry-tuned (worker RSS sampled, history lengths, SQLite size)")
		o          options
		scaleout   = fs.String("scaleout", "", "instead of the sets: the scale-out run, with fleets of this many worker processes, e.g. 1,2,4,8 (the sets given by -sets, small and huge by default)")
		latency    = fs.Duration("latency", time.Second, "scale-out run: latency the emulator adds to every request")
		huge       = fs.Int("huge-objects", 4, "scale-out run: objects of the huge set")
		hugeSize   = fs.Int64("huge-size", 1<<30, "scale-out run: bytes of each huge object")
		slots      = fs.Int("worker-slots", 0, "scale-out run: each worker's worker.maxConcurrentActivities (0: the default, 16)")
		rawWorkers = fs.Int("raw-workers", 0, "(internal)")
		rawChildF  = fs.Bool("raw-child", false, "(internal) run the raw loop: -raw-child OSS_URL COS_URL")
	)
	fs.IntVar(&o.runs, "runs", 1, "run every system this many times, in turns, and report each one's median run")
	fs.Uint64Var(&o.seed, "seed", 1, "seed of the generated data (the same for every system)")
	fs.StringVar(&o.jsonPath, "json", "", "write the results as JSON to this `file`")
	fs.StringVar(&o.workDir, "dir", "", "work directory (binaries, state, logs); default: a new temporary directory")
	fs.BoolVar(&o.keep, "keep", false, "keep the work directory")
	fs.Int64Var(&o.sampleEvery, "crc-sample", 0, "HEAD every Nth object on both sides to compare CRC64s (default: about 1,000 per run; 1: every object)")
	fs.StringVar(&o.pprofDir, "pprof", "", "write CPU profiles of every bucketferry worker, Temporal server and emulator into this `dir` (with -runs, the last run's)")
	fs.IntVar(&o.tune.activities, "tuned-activities", 0, "tuned variant: worker.maxConcurrentActivities (0: the bench's choice)")
	fs.IntVar(&o.tune.objects, "tuned-objects", 0, "tuned variant: the job's concurrency.objects")
	fs.IntVar(&o.tune.shardWindow, "tuned-shards", 0, "tuned variant: the job's concurrency.shards")
	fs.IntVar(&o.tune.pageSize, "tuned-page-size", 0, "tuned variant: the job's pageSize")
	fs.StringVar(&o.tune.partSize, "tuned-part-size", "", "tuned variant: transfer.partSize")
	fs.StringVar(&o.tune.partsInFlight, "tuned-parts-in-flight", "", "tuned variant: transfer.partsInFlight")
	fs.IntVar(&o.tune.jobShards, "tuned-job-shards", 0, "tuned variant: the job's shards")
	fs.StringVar(&o.tune.gogc, "tuned-gogc", "", "tuned variant: the worker's GOGC, with GOMEMLIMIT=400MiB (empty or off: the worker's worker.gcPercent, 400 by default)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *rawChildF {
		if fs.NArg() != 2 {
			return errors.New("-raw-child OSS_URL COS_URL")
		}
		return rawChild(ctx, rawConfig{ossURL: fs.Arg(0), cosURL: fs.Arg(1), ossKey: ossKey, ossSecret: ossSecret,
			cosID: cosID, cosKey: cosKey, srcBucket: srcBucket, dstBucket: dstBucket, workers: *rawWorkers})
	}
	if o.runs < 1 {
		return fmt.Errorf("-runs %d: must be at least 1", o.runs)
	}
	if *quick {
		*small, *medium, *large = *small/10, *medium/10, 1
	}
	defs := map[string]dataSet{
		"small":  {Name: "small", Objects: *small, Size: *smallSize},
		"medium": {Name: "medium", Objects: *medium, Size: *mediumSize},
		"large":  {Name: "large", Objects: *large, Size: *largeSize},
	}
	if *scaleout != "" {
		fleets, err := parseFleets(*scaleout)
		if err != nil {
			return err
		}
		defs["huge"] = dataSet{Name: "huge", Objects: *huge, Size: *hugeSize}
		so := scaleOutOptions{fleets: fleets, latency: *latency, slots: *slots}
		names := "small,huge"
		fs.Visit(func(f *flag.Flag) {
			if f.Name == "sets" {
				names = *sets
			}
		})
		for _, name := range strings.Split(names, ",") {
			d, ok := defs[strings.TrimSpace(name)]
			if !ok {
				return fmt.Errorf("unknown data set %q", name)
			}
			so.sets = append(so.sets, d)
		}
		return scaleOut(ctx, o, so)
	}
	if *scale > 0 {
		o.scale = *scale
		o.sets = []dataSet{{Name: "scale", Objects: *scale, Size: *smallSize}}
		o.systems = []string{"bucketferry-tuned"}
	} else {
		for _, name := range strings.Split(*sets, ",") {
			d, ok := defs[strings.TrimSpace(name)]
			if !ok {
				return fmt.Errorf("unknown data set %q", name)
			}
			o.sets = append(o.sets, d)
		}
		for _, name := range strings.Split(*systems, ",") {
			name = strings.TrimSpace(name)
			if !slices.Contains(allSystems, name) {
				return fmt.Errorf("unknown system %q (one of %s)", name, strings.Join(allSystems, ", "))
			}
			o.systems = append(o.systems, name)
		}
	}
	return bench(ctx, o)
}

func bench(ctx context.Context, o options) error {
	if o.workDir == "" {
		dir, err := os.MkdirTemp("", "bucketferry-bench-")
		if err != nil {
			return err
		}
		o.workDir = dir
		if !o.keep {
			defer os.RemoveAll(dir)
		}
	}
	if o.pprofDir != "" {
		if err := os.MkdirAll(o.pprofDir, 0o755); err != nil {
			return err
		}
	}
	bins, err := buildBinaries(o.workDir)
	if err != nil {
		return err
	}
	fmt.Printf("bench: work directory %s; %s\n", o.workDir, machine())
	var results, all []result
	for _, set := range o.sets {
		// Runs go round the systems, so drift in the machine's speed
		// (other tenants of a shared VM) spreads over all of them.
		runs := make(map[string][]result)
		for run := 1; run <= o.runs; run++ {
			for _, sys := range o.systems {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				fmt.Printf("bench: %s set (%d x %s), %s%s ...\n", set.Name, set.Objects, humanBytes(set.Size), sys, runLabel(run, o.runs))
				r := runOne(ctx, o, bins, set, sys)
				if r.Error != "" && ctx.Err() == nil {
					// The embedded Temporal server sometimes fails to form its
					// cluster on a loaded machine; a fresh set of processes is
					// the same measurement.
					fmt.Printf("bench:   failed (%s); once more with fresh processes\n", firstLine(r.Error))
					r = runOne(ctx, o, bins, set, sys)
				}
				if r.Error != "" {
					fmt.Printf("bench:   FAILED: %s\n", r.Error)
				} else {
					fmt.Printf("bench:   %.1f s, %.0f objects/s, %.1f MB/s, peak RSS %s; verified %s\n",
						r.Seconds, r.ObjectsPerSec, r.MBPerSec, humanBytes(r.PeakRSS), r.Verified)
				}
				runs[sys] = append(runs[sys], r)
				all = append(all, r)
				if o.jsonPath != "" { // keep what was measured even if a later run breaks
					if err := writeJSON(o.jsonPath, all); err != nil {
						return err
					}
				}
			}
		}
		for _, sys := range o.systems {
			results = append(results, median(runs[sys]))
		}
	}
	ratios(results)
	printTable(os.Stdout, results)
	if o.jsonPath != "" {
		if err := writeJSON(o.jsonPath, results); err != nil {
			return err
		}
	}
	for _, r := range results {
		if r.Error != "" {
			return fmt.Errorf("%s on %s failed: %s", r.System, r.Set, r.Error)
		}
	}
	return nil
}

func runOne(ctx context.Context, o options, bins binaries, set dataSet, sys string) result {
	r := result{Set: set.Name, System: sys, Objects: int64(set.Objects), Bytes: set.bytes()}
	// A fresh directory for every run: a Temporal server must not find
	// the state of an earlier run of the same job.
	dir, err := os.MkdirTemp(o.workDir, set.Name+"-"+sys+"-")
	if err != nil {
		r.Error = err.Error()
		return r
	}
	emu, err := startEmulator(bins, set, o.seed, dir, o.profile(set, sys, "emulator"))
	if err != nil {
		r.Error = err.Error()
		return r
	}
	defer emu.Terminate(stopTimeout)
	var elapsed time.Duration
	emuCPU := procCPU(emu.PID())
	switch sys {
	case "bucketferry", "bucketferry-tuned":
		elapsed, err = runBucketferry(ctx, o, bins, emu, set, sys == "bucketferry-tuned", dir, &r)
	case "rclone":
		elapsed, err = runRclone(ctx, emu, set, dir, &r)
	case "raw":
		elapsed, err = runRawChild(ctx, bins, emu, set, &r)
	}
	if err != nil {
		r.Error = err.Error()
		return r
	}
	r.EmulatorCPU = procCPU(emu.PID()) - emuCPU
	r.Seconds = elapsed.Seconds()
	r.ObjectsPerSec = float64(r.Objects) / r.Seconds
	r.MBPerSec = float64(r.Bytes) / 1e6 / r.Seconds
	sample := o.sampleEvery
	if sample == 0 {
		sample = max(1, int64(set.Objects)/1000)
	}
	vstart := time.Now()
	src, dst, err := emu.stores()
	if err == nil {
		r.Verified, err = checkCopy(ctx, src, dst, int64(set.Objects), sample, "bucketferry-reports/")
	}
	if r.Scale != nil {
		r.Scale.VerifySeconds = time.Since(vstart).Seconds()
	}
	if err != nil {
		r.Error = "verify: " + err.Error()
	}
	return r
}

// ratios fills each result's ratios to rclone's and the raw loop's figures
// on the same set.
func ratios(results []result) {
	find := func(set, sys string) *result {
		for i := range results {
			if results[i].Set == set && results[i].System == sys && results[i].Error == "" {
				return &results[i]
			}
		}
		return nil
	}
	for i := range results {
		r := &results[i]
		if r.Error != "" {
			continue
		}
		if rc := find(r.Set, "rclone"); rc != nil {
			r.SpeedVsRclone = rc.Seconds / r.Seconds
			if rc.PeakRSS > 0 {
				r.RSSVsRclone = float64(r.PeakRSS) / float64(rc.PeakRSS)
			}
		}
		if raw := find(r.Set, "raw"); raw != nil {
			r.SpeedVsRaw = raw.Seconds / r.Seconds
			if raw.PeakRSS > 0 {
				r.RSSVsRaw = float64(r.PeakRSS) / float64(raw.PeakRSS)
			}
		}
	}
}

func printTable(w io.Writer, results []result) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "set\tsystem\tobjects\tMB\tseconds\tobjects/s\tMB/s\tpeak RSS MiB\tspeed x rclone\tspeed x raw\tRSS x rclone\tRSS x raw\tCPU s copier/server/emulator\tverified\t")
	ratio := func(v float64) string {
		if v == 0 {
			return "-"
		}
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
	for _, r := range results {
		if r.Error != "" {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%.0f\tFAILED\t\t\t\t\t\t\t\t\t%s\t\n", r.Set, r.System, r.Objects, float64(r.Bytes)/1e6, r.Error)
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%.0f\t%.1f\t%.0f\t%.1f\t%.0f\t%s\t%s\t%s\t%s\t%.1f/%.1f/%.1f\t%s\t\n", r.Set, r.System, r.Objects,
			float64(r.Bytes)/1e6, r.Seconds, r.ObjectsPerSec, r.MBPerSec, float64(r.PeakRSS)/(1<<20),
			ratio(r.SpeedVsRclone), ratio(r.SpeedVsRaw), ratio(r.RSSVsRclone), ratio(r.RSSVsRaw),
			r.CopierCPU, r.ServerCPU, r.EmulatorCPU, r.Verified)
	}
	tw.Flush()
	fmt.Fprintln(w)
	for _, r := range results {
		fmt.Fprintf(w, "%s / %s: %s\n", r.Set, r.System, r.Settings)
	}
	gap := false
	for _, r := range results {
		if len(r.RunsObjectsPerSec) > 0 {
			if !gap {
				fmt.Fprintln(w)
				gap = true
			}
			perObject := float64(r.Bytes) / float64(max(r.Objects, 1)) / 1e6
			speeds := make([]string, len(r.RunsObjectsPerSec))
			for j, v := range r.RunsObjectsPerSec {
				speeds[j] = fmt.Sprintf("%.0f objects/s (%.0f MB/s)", v, v*perObject)
				if v == 0 { // a failed run: its error is in the table
					speeds[j] = "failed"
				}
			}
			fmt.Fprintf(w, "%s / %s: each run %s; the table has the median run\n", r.Set, r.System, strings.Join(speeds, ", "))
		}
	}
	for _, r := range results {
		if s := r.Scale; s != nil {
			fmt.Fprintf(w, "\nscale run: %d objects, job %s (copied %d, failed %d) in %.0f s = %.0f objects/s\n",
				r.Objects, s.JobStatus, s.ObjectsCopied, s.ObjectsFailed, r.Seconds, r.ObjectsPerSec)
			fmt.Fprintf(w, "  worker peak RSS %s (RSS %s after 10%% of the run, %s at the end); server peak RSS %s\n",
				humanBytes(r.PeakRSS), humanBytes(s.WorkerRSSAtStart), humanBytes(s.WorkerRSSAtEnd), humanBytes(s.ServerPeakRSS))
			fmt.Fprintf(w, "  workflow runs %d, largest history %d events (%s); SQLite state %s\n",
				s.WorkflowRuns, s.MaxHistoryLength, s.MaxHistoryRun, humanBytes(s.SQLiteBytes))
			fmt.Fprintf(w, "  verified: %s in %.0f s\n", r.Verified, s.VerifySeconds)
			fmt.Fprintf(w, "  worker RSS over time (MiB):")
			step := max(1, len(s.RSSSamples)/20)
			for i := 0; i < len(s.RSSSamples); i += step {
				fmt.Fprintf(w, " %.0fs:%.0f", s.RSSSamples[i].Seconds, float64(s.RSSSamples[i].RSSBytes)/(1<<20))
			}
			fmt.Fprintln(w)
		}
	}
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

func writeJSON[R result | scaleOutResult](path string, results []R) error {
	b, err := json.MarshalIndent(struct {
		Machine string `json:"machine"`
		Results []R    `json:"results"`
	}{machine(), results}, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

func machine() string {
	cpu := "?"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	n := 0
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		n = strings.Count(string(b), "processor\t:")
	}
	return fmt.Sprintf("%d x %s, %s RAM", n, cpu, humanBytes(procMemTotal()))
}

func procMemTotal() int64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && k == "MemTotal" {
			f := strings.Fields(v)
			if len(f) > 0 {
				n, _ := strconv.ParseInt(f[0], 10, 64)
				return n * 1024
			}
		}
	}
	return 0
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// binaries are the commands built once for the whole run.
type binaries struct {
	starter, worker, self string
}

func buildBinaries(dir string) (binaries, error) {
	root, err := moduleRoot()
	if err != nil {
		return binaries{}, err
	}
	b := binaries{starter: filepath.Join(dir, "starter"), worker: filepath.Join(dir, "worker"), self: filepath.Join(dir, "bench")}
	for _, t := range [][2]string{{b.starter, "./starter"}, {b.worker, "./worker"}, {b.self, "./bench"}} {
		fmt.Printf("bench: go build %s\n", t[1])
		cmd := exec.Command("go", "build", "-o", t[0], t[1])
		cmd.Dir = root
		if os.Getenv("GOTOOLCHAIN") == "" {
			cmd.Env = append(os.Environ(), "GOTOOLCHAIN=local")
		}
		if out, err := cmd.CombinedOutput(); err != nil {
			return b, fmt.Errorf("go build %s: %w\n%s", t[1], err, out)
		}
	}
	return b, nil
}

func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("run the benchmark inside the bucketferry module (go run ./bench)")
	}
	return filepath.Dir(mod), nil
}

func runLabel(run, runs int) string {
	if runs == 1 {
		return ""
	}
	return fmt.Sprintf(" (run %d of %d)", run, runs)
}

// median is the run with the median time of a system's runs (of an even
// number, the slower of the middle two; a failed run counts as the
// slowest), with the speeds of all runs recorded.
func median(runs []result) result {
	sorted := slices.Clone(runs)
	slices.SortStableFunc(sorted, func(a, b result) int {
		return cmp.Compare(runKey(a), runKey(b))
	})
	m := sorted[len(sorted)/2]
	if len(runs) > 1 {
		for _, r := range runs {
			m.RunsObjectsPerSec = append(m.RunsObjectsPerSec, r.ObjectsPerSec)
		}
	}
	return m
}

func runKey(r result) float64 {
	if r.Error != "" {
		return math.Inf(1)
	}
	return r.Seconds
}
