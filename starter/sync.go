package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/bucketferry/bucketferry/config"
	"github.com/bucketferry/bucketferry/jobclient"
	"github.com/bucketferry/bucketferry/migration"
	"github.com/bucketferry/bucketferry/schedule"
)

// syncFlags are the sync sub-command's settings: those of start, plus the
// schedule's.
type syncFlags struct {
	start          startFlags
	every          time.Duration
	scheduleID     string
	deleteSchedule bool
	now            bool
}

// runSync runs a second pass (conflict policy changed) once, as start
// does, or creates (-every) or deletes (-delete-schedule) a Temporal
// Schedule that runs it periodically.
func runSync(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("sync", flag.ContinueOnError)
	setUsage(fs, "[flags]", "Run a second pass of a job: copy only the objects new at the source or changed since the\n"+
		"destination copy (size or CRC64 differ, or the source is newer), and report how many were new,\n"+
		"changed and unchanged. Takes the flags of start (the conflict policy is always \"changed\").\n\n"+
		"-every INTERVAL instead creates a Temporal Schedule that runs the pass periodically until it is\n"+
		"deleted (-delete-schedule -schedule-id ID); a pass still running when the next is due is skipped.")
	var f syncFlags
	f.start.register(fs)
	fs.DurationVar(&f.every, "every", 0, "create a schedule running the pass every `INTERVAL` (e.g. 1h) instead of running it once")
	fs.StringVar(&f.scheduleID, "schedule-id", "", "schedule `ID` (default: -job-id, else sync-YYYYMMDD-HHMMSS-xxxx); runs are ID-<time>")
	fs.BoolVar(&f.deleteSchedule, "delete-schedule", false, "delete the schedule -schedule-id (runs under way go on)")
	fs.BoolVar(&f.now, "now", true, "with -every: run the first pass at once")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("sync: unexpected arguments %q", fs.Args())
	}
	if f.deleteSchedule {
		return deleteSyncSchedule(ctx, f, stdout)
	}
	if f.start.conflict != "" && migration.ConflictPolicy(f.start.conflict) != migration.Changed {
		return fmt.Errorf("sync: -conflict %q: a sync always uses %q", f.start.conflict, migration.Changed)
	}
	spec, err := f.start.buildSpec(fs, os.Stdin)
	if err != nil {
		return err
	}
	spec.Conflict = migration.Changed
	cfg, err := config.Load(f.start.conn.configPath)
	if err != nil {
		return err
	}
	if f.every > 0 {
		return createSyncSchedule(ctx, cfg, spec, f, stdout)
	}
	id := f.start.jobID
	if id == "" {
		id = "sync-" + strings.TrimPrefix(jobclient.NewJobID(time.Now()), "job-")
	}
	if cfg.Temporal.Address == "" {
		return startEmbedded(ctx, cfg, id, spec, f.start, stdout)
	}
	cn, err := dialConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer cn.Close()
	h := hints{job: id, configPath: f.start.conn.configPath}
	err = startJob(ctx, cn, id, spec, f.start, h, stdout)
	if f.start.detach || ctx.Err() != nil {
		return err
	}
	var res migration.JobResult
	if gerr := cn.c.GetWorkflow(ctx, id, "").Get(ctx, &res); gerr == nil {
		fmt.Fprintln(stdout, syncSummary(res.Counts))
	}
	return err
}

// syncSummary is the line that says what a second pass found.
func syncSummary(c migration.Counts) string {
	return fmt.Sprintf("second pass: %d new, %d changed, %d unchanged, %d failed", c.New, c.Changed, c.Skipped, c.Failed)
}

func createSyncSchedule(ctx context.Context, cfg *config.Config, spec migration.JobSpec, f syncFlags, w io.Writer) error {
	if cfg.Temporal.Address == "" {
		return errors.New("-every needs a Temporal server that outlives this command: run `starter server` and set temporal.address (or BUCKETFERRY_TEMPORAL_ADDRESS) to its address")
	}
	id := f.scheduleID
	if id == "" {
		id = f.start.jobID
	}
	if id == "" {
		id = "sync-" + strings.TrimPrefix(jobclient.NewJobID(time.Now()), "job-")
	}
	cn, err := dialConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer cn.Close()
	spec.SearchAttributes = false
	if f.start.searchAttributes {
		if err := jobclient.RegisterSearchAttributes(ctx, cn.c, cn.namespace); err != nil {
			fmt.Fprintf(w, "warning: search attributes not available, the runs go without them: %v\n", err)
		} else {
			spec.SearchAttributes = true
		}
	}
	_, err = schedule.Create(ctx, cn.c, schedule.Options{ID: id, Spec: spec, Every: f.every, Now: f.now})
	if errors.Is(err, temporal.ErrScheduleAlreadyRunning) {
		return fmt.Errorf("schedule %s exists: delete it first with: starter sync -delete-schedule -schedule-id %s", id, shellQuote(id))
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "created schedule %s: a second pass of %s every %v (overlapping passes skipped)\n", id, jobclient.Summary(spec), f.every)
	fmt.Fprintf(w, "  runs:    workflow ids %s-<time>; temporal schedule describe --address %s --namespace %s --schedule-id %s\n",
		id, shellQuote(cn.address), shellQuote(cn.namespace), shellQuote(id))
	fmt.Fprintf(w, "  delete:  starter sync -delete-schedule -schedule-id %s%s\n", shellQuote(id), configHint(f.start.conn.configPath))
	return nil
}

func deleteSyncSchedule(ctx context.Context, f syncFlags, w io.Writer) error {
	if f.scheduleID == "" {
		return errors.New("-delete-schedule needs -schedule-id")
	}
	cn, err := f.start.conn.dial(ctx)
	if err != nil {
		return err
	}
	defer cn.Close()
	if err := schedule.Delete(ctx, cn.c, f.scheduleID); err != nil {
		return err
	}
	fmt.Fprintf(w, "deleted schedule %s; passes under way go on to their end\n", f.scheduleID)
	return nil
}

func configHint(path string) string {
	if path == "" || path == os.Getenv("BUCKETFERRY_CONFIG") {
		return ""
	}
	return " -config " + shellQuote(path)
}
