package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"

	"github.com/bucketferry/bucketferry/fleet"
	"github.com/bucketferry/bucketferry/internal/childproc"
	"github.com/bucketferry/bucketferry/migration"
)

// The scale-out run: the same data copied by fleets of 1, 2, 4, 8 worker
// processes, each with the default settings, against an emulator whose
// every request takes -latency (a far-away store); the workers are up
// before the job starts, and the job's figures are divided by the fleet's
// size and by one worker's to give the efficiency.

type scaleOutOptions struct {
	fleets  []int
	sets    []dataSet
	latency time.Duration
	// slots is each worker's worker.maxConcurrentActivities (0: the
	// default): fewer slots keep a large fleet latency-bound on a small
	// machine.
	slots int
}

// scaleOutResult is one fleet's run on one data set.
type scaleOutResult struct {
	Set           string  `json:"set"`
	Workers       int     `json:"workers"`
	Slots         int     `json:"slots"`
	Objects       int64   `json:"objects"`
	Bytes         int64   `json:"bytes"`
	LatencyMS     int64   `json:"latencyMs"`
	Seconds       float64 `json:"seconds"`
	ObjectsPerSec float64 `json:"objectsPerSecond"`
	MBPerSec      float64 `json:"mbPerSecond"`
	// Efficiency is ObjectsPerSec / (Workers x the one-worker run's).
	Efficiency float64 `json:"efficiency"`
	// PeakRSS is the highest peak resident set of any worker of the fleet.
	PeakRSS  int64       `json:"peakRssBytes"`
	Verified checkResult `json:"verified"`
	Error    string      `json:"error,omitempty"`
}

func parseFleets(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("-scaleout %q: a list of worker counts such as 1,2,4,8", s)
		}
		out = append(out, n)
	}
	return out, nil
}

func scaleOut(ctx context.Context, o options, so scaleOutOptions) error {
	if o.workDir == "" {
		dir, err := os.MkdirTemp("", "bucketferry-scaleout-")
		if err != nil {
			return err
		}
		o.workDir = dir
		if !o.keep {
			defer os.RemoveAll(dir)
		}
	}
	bins, err := buildBinaries(o.workDir)
	if err != nil {
		return err
	}
	fmt.Printf("bench: scale-out, work directory %s; %s; %s per request\n", o.workDir, machine(), so.latency)
	var all []scaleOutResult
	for _, set := range so.sets {
		var one float64
		for _, n := range so.fleets {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			fmt.Printf("bench: %s set (%d x %s), %d workers ...\n", set.Name, set.Objects, humanBytes(set.Size), n)
			r := runScaleOut(ctx, o, bins, set, n, so)
			if r.Error != "" && ctx.Err() == nil {
				fmt.Printf("bench:   failed (%s); once more with fresh processes\n", firstLine(r.Error))
				r = runScaleOut(ctx, o, bins, set, n, so)
			}
			if r.Error != "" {
				fmt.Printf("bench:   FAILED: %s\n", r.Error)
			} else {
				if n == 1 {
					one = r.ObjectsPerSec
				}
				if one > 0 {
					r.Efficiency = r.ObjectsPerSec / (float64(n) * one)
				}
				fmt.Printf("bench:   %.1f s, %.0f objects/s, %.1f MB/s, efficiency %.2f, %d slots, worker peak RSS %s; verified %s\n",
					r.Seconds, r.ObjectsPerSec, r.MBPerSec, r.Efficiency, r.Slots, humanBytes(r.PeakRSS), r.Verified)
			}
			all = append(all, r)
			if o.jsonPath != "" {
				if err := writeJSON(o.jsonPath, all); err != nil {
					return err
				}
			}
		}
	}
	fmt.Println()
	printScaleOut(os.Stdout, all)
	return nil
}

func printScaleOut(w io.Writer, results []scaleOutResult) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "| set\t| workers\t| slots\t| seconds\t| objects/s\t| MB/s\t| efficiency\t| worker peak RSS MiB\t|")
	fmt.Fprintln(tw, "|---\t|---\t|---\t|---\t|---\t|---\t|---\t|---\t|")
	for _, r := range results {
		if r.Error != "" {
			fmt.Fprintf(tw, "| %s\t| %d\t| failed\t|\t|\t|\t|\t|\t|\n", r.Set, r.Workers)
			continue
		}
		fmt.Fprintf(tw, "| %s\t| %d\t| %d\t| %.1f\t| %.0f\t| %.1f\t| %.2f\t| %d\t|\n", r.Set, r.Workers, r.Slots, r.Seconds,
			r.ObjectsPerSec, r.MBPerSec, r.Efficiency, r.PeakRSS>>20)
	}
	tw.Flush()
}

func runScaleOut(ctx context.Context, o options, bins binaries, set dataSet, workers int, so scaleOutOptions) scaleOutResult {
	latency := so.latency
	r := scaleOutResult{Set: set.Name, Workers: workers, Objects: int64(set.Objects), Bytes: set.bytes(), LatencyMS: latency.Milliseconds()}
	dir, err := os.MkdirTemp(o.workDir, fmt.Sprintf("%s-%d-", set.Name, workers))
	if err != nil {
		r.Error = err.Error()
		return r
	}
	emu, err := startEmulator(bins, set, o.seed, dir, "", "-latency", latency.String())
	if err != nil {
		r.Error = err.Error()
		return r
	}
	defer emu.Terminate(stopTimeout)
	elapsed, err := scaleOutJob(ctx, bins, emu, set, workers, so.slots, dir, &r)
	if err != nil {
		r.Error = err.Error()
		return r
	}
	r.Seconds = elapsed.Seconds()
	r.ObjectsPerSec = float64(r.Objects) / r.Seconds
	r.MBPerSec = float64(r.Bytes) / 1e6 / r.Seconds
	src, dst, err := emu.stores()
	if err == nil {
		// The emulator's latency slows the check as much as the copy: a
		// sample of the objects' CRC64s, and every object's size.
		r.Verified, err = checkCopy(ctx, src, dst, int64(set.Objects), max(1, int64(set.Objects)/10), "bucketferry-reports/")
	}
	if err != nil {
		r.Error = "verify: " + err.Error()
	}
	return r
}

// scaleOutJob runs the server and the fleet, waits until every worker is
// seen, and times the job.
func scaleOutJob(ctx context.Context, bins binaries, emu *emulatorProc, set dataSet, workers, slots int, dir string, r *scaleOutResult) (time.Duration, error) {
	var worker string
	if slots > 0 {
		worker = fmt.Sprintf("\n  maxConcurrentActivities: %d", slots)
	}
	server, cfgPath, temporalAddr, err := startServer(bins, emu, dir, worker, "")
	if err != nil {
		return 0, err
	}
	defer server.Terminate(stopTimeout)
	if err := server.Await("Temporal server ready", 3*time.Minute); err != nil {
		return 0, err
	}
	procs := make([]*childproc.Proc, 0, workers)
	defer func() {
		for _, p := range procs {
			p.Terminate(stopTimeout)
		}
	}()
	for i := range workers {
		p, err := childproc.Run(fmt.Sprintf("worker-%d", i+1), nil, bins.worker, "-config", cfgPath)
		if err != nil {
			return 0, err
		}
		procs = append(procs, p)
	}
	c, err := client.DialContext(ctx, client.Options{HostPort: temporalAddr, Logger: sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler))})
	if err != nil {
		return 0, err
	}
	defer c.Close()
	// The fleet is up before the job, as the seed advises: the job's plan
	// and window see every worker from the start.
	if r.Slots, err = awaitFleet(ctx, c, workers); err != nil {
		return 0, err
	}
	spec := migration.JobSpec{Source: migration.Location{Store: "src"}, Destination: migration.Location{Store: "dst"}}
	start := time.Now()
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "scaleout-" + set.Name, TaskQueue: migration.TaskQueue},
		migration.JobWorkflow, migration.JobInput{Spec: spec})
	if err != nil {
		return 0, err
	}
	jctx, cancel := context.WithTimeout(ctx, 10*time.Minute+time.Duration(set.Objects)*20*time.Millisecond)
	defer cancel()
	stopWatch := watchJob(jctx, c, run.GetID(), start)
	var res migration.JobResult
	err = run.Get(jctx, &res)
	stopWatch()
	elapsed := time.Since(start)
	for _, p := range procs {
		r.PeakRSS = max(r.PeakRSS, procStatus(p.PID(), "VmHWM"))
	}
	if err == nil {
		if tl, terr := loadTimeline(ctx, c, start); terr == nil {
			tl.print(os.Stdout, 2*time.Second, r.Slots)
		} else {
			fmt.Printf("bench:   no timeline: %v\n", terr)
		}
	}
	if err != nil {
		return 0, fmt.Errorf("job: %w\nworker 1:\n%s", err, tail(procs[0].Output(), 4000))
	}
	if res.Status != migration.StatusSucceeded || res.Counts.Copied != int64(set.Objects) {
		return 0, fmt.Errorf("job %s: copied %d of %d, failed %d", res.Status, res.Counts.Copied, set.Objects, res.Counts.Failed)
	}
	return elapsed, nil
}

// watchJob prints the job's progress every 5 s: how the window follows
// the fleet.
func watchJob(ctx context.Context, c client.Client, id string, start time.Time) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(5 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			v, err := c.QueryWorkflow(ctx, id, "", migration.QueryProgress)
			var p migration.Progress
			if err != nil || v.Get(&p) != nil {
				continue
			}
			var slots, workers int
			if p.Fleet != nil {
				slots, workers = p.Fleet.Slots, p.Fleet.Workers
			}
			fmt.Printf("bench:     %3.0f s: %s, shards %d/%d (%d running), %d workers %d slots, window %d, %d activities, copied %d, %.0f objects/s\n",
				time.Since(start).Seconds(), p.Status, p.Shards.Done, p.Shards.Total, p.Shards.Running, workers, slots,
				p.Window, p.Activities, p.Counts.Copied, p.ObjectsPerSecond)
		}
	}()
	return func() { cancel(); <-done }
}

// awaitFleet waits until the server has heard the heartbeats of workers
// workers (every fleet.HeartbeatInterval; a worker's first comes that long
// after its start), as it has in a deployment whose workers run before the
// job, and returns their slots.
func awaitFleet(ctx context.Context, c client.Client, workers int) (int, error) {
	w := fleet.NewWatcher(c.WorkflowService(), "", migration.TaskQueue)
	deadline := time.Now().Add(time.Minute)
	for {
		f := w.Fleet(ctx)
		if f != nil && f.Workers >= workers {
			return f.Slots, nil
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("only %v of %d workers seen after a minute", f, workers)
		}
		time.Sleep(500 * time.Millisecond)
	}
}
