package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"go.temporal.io/api/serviceerror"

	"github.com/bucketferry/bucketferry/jobclient"
	"github.com/bucketferry/bucketferry/migration"
)

// liveFailureLines bounds the failure sample in a display that is redrawn,
// so that the frame stays short enough to redraw in place.
const liveFailureLines = 5

// resultFailureLines bounds the failure sample printed with a result; the
// failures command exports them all.
const resultFailureLines = 10

// jobView is what one refresh of the display knows about a running job.
type jobView struct {
	id       string
	progress *migration.Progress // nil while the query goes unanswered
	problem  string              // why progress is nil
	started  time.Time           // from Temporal, when progress is nil
	inFlight jobclient.InFlight  // done in pages and large objects under way
	now      time.Time
	hints    hints
}

func (v jobView) elapsed() time.Duration {
	start := v.started
	if v.progress != nil {
		if !v.progress.Started.IsZero() {
			start = v.progress.Started
		} else if d, err := time.ParseDuration(v.progress.Elapsed); err == nil {
			return d
		}
	}
	if start.IsZero() {
		return 0
	}
	return v.now.Sub(start)
}

// renderProgress draws a running job as a few aligned lines.
func renderProgress(v jobView) []string {
	p := v.progress
	if p == nil {
		head := fmt.Sprintf("job %s: running", v.id)
		if !v.started.IsZero() {
			head += fmt.Sprintf(" (started %s, elapsed %s)", v.started.UTC().Format(time.DateTime+" MST"), formatDuration(v.elapsed()))
		}
		return []string{head, "  progress unavailable: " + v.problem}
	}
	elapsed := v.elapsed()
	lines := []string{fmt.Sprintf("job %s: %s", v.id, p.Status)}
	if p.Shards.Total == 0 {
		lines = append(lines, "  shards    planning")
	} else {
		lines = append(lines, fmt.Sprintf("  shards    %s of %s done, %s running, %s pending",
			formatCount(int64(p.Shards.Done)), formatCount(int64(p.Shards.Total)),
			formatCount(int64(p.Shards.Running)), formatCount(int64(p.Shards.Pending))))
	}
	if w := workersLine(p); w != "" {
		lines = append(lines, "  workers   "+w)
	}
	lines = append(lines, countLines(p.Counts)...)
	if f := v.inFlight; f.Copies > 0 {
		lines = append(lines, fmt.Sprintf("  underway  %s objects, %s in %s pages and large objects not yet counted above",
			formatCount(f.Objects()), humanBytes(f.Counts.BytesCopied), formatCount(int64(f.Copies))))
	}
	lines = append(lines, fmt.Sprintf("  rate      %s, %s", formatByteRate(p.BytesPerSecond), formatObjectRate(p.ObjectsPerSecond)))
	timing := "  elapsed   " + formatDuration(elapsed)
	if eta, ok := jobclient.EstimateRemaining(p.Shards, elapsed); ok && p.Status == migration.StatusRunning {
		timing += ", ETA ~" + formatDuration(eta) + " (from shards done)"
	}
	lines = append(lines, timing)
	if p.Error != "" {
		lines = append(lines, "  error     "+p.Error)
	}
	lines = append(lines, stallLines(p.Stalls)...)
	lines = append(lines, failureLines(p.Counts.Failed, p.FailureSample, p.FailureLog, v.hints, liveFailureLines)...)
	return lines
}

// workersLine tells the fleet serving a job and the work it offers them.
func workersLine(p *migration.Progress) string {
	f := p.Fleet
	if f == nil || p.Window == 0 {
		return ""
	}
	return fmt.Sprintf("%d with %d activity slots (%d busy); window %d pages, %d activities in flight",
		f.Workers, f.Slots, f.Used, p.Window, p.Activities)
}

func countLines(c migration.Counts) []string {
	lines := []string{
		fmt.Sprintf("  copied    %s objects, %s", formatCount(c.Copied), humanBytes(c.BytesCopied)),
		fmt.Sprintf("  skipped   %s objects, %s", formatCount(c.Skipped), humanBytes(c.BytesSkipped)),
		fmt.Sprintf("  failed    %s objects, %s", formatCount(c.Failed), humanBytes(c.BytesFailed)),
	}
	if c.DestinationOnlyVerified > 0 {
		lines = append(lines, fmt.Sprintf("            %s of them verified at the destination only (their source reports no checksum)", formatCount(c.DestinationOnlyVerified)))
	}
	if extra := c.BytesSent - c.BytesCopied; extra > 0 {
		lines = append(lines, fmt.Sprintf("  sent      %s (%s more than copied: retries and failed objects)", humanBytes(c.BytesSent), humanBytes(extra)))
	}
	return lines
}

// failureLines says how many objects failed, where every one of them is
// listed and how to export them, with up to max of the sample.
func failureLines(failed int64, sample []migration.Failure, log migration.Location, h hints, max int) []string {
	if failed == 0 && len(sample) == 0 {
		return nil
	}
	lines := []string{fmt.Sprintf("  failures  %s objects; every one is listed under %s", formatCount(failed), formatLocation(jobclient.FailuresDir(log)))}
	lines = append(lines, "            export: "+h.cmd("failures", "-format", "csv", "-o", "failures.csv"))
	for i, f := range sample {
		if i == max {
			lines = append(lines, fmt.Sprintf("    ... %d more in the sample", len(sample)-max))
			break
		}
		lines = append(lines, "    "+formatFailure(f))
	}
	return lines
}

// progressLine is a running job on one line, for logs and pipes.
func progressLine(v jobView) string {
	p := v.progress
	if p == nil {
		return "running; progress unavailable: " + v.problem
	}
	var b strings.Builder
	b.WriteString(string(p.Status))
	if p.Shards.Total > 0 {
		fmt.Fprintf(&b, "  shards %d/%d done, %d running", p.Shards.Done, p.Shards.Total, p.Shards.Running)
	}
	if f := p.Fleet; f != nil && p.Window > 0 {
		fmt.Fprintf(&b, "  workers %d (%d slots)", f.Workers, f.Slots)
	}
	c := p.Counts
	fmt.Fprintf(&b, "  copied %s (%s)  skipped %s (%s)  failed %s",
		formatCount(c.Copied), humanBytes(c.BytesCopied), formatCount(c.Skipped), humanBytes(c.BytesSkipped), formatCount(c.Failed))
	if f := v.inFlight; f.Copies > 0 {
		fmt.Fprintf(&b, "  underway %s (%s)", formatCount(f.Objects()), humanBytes(f.Counts.BytesCopied))
	}
	fmt.Fprintf(&b, "  %s, %s", formatByteRate(p.BytesPerSecond), formatObjectRate(p.ObjectsPerSecond))
	elapsed := v.elapsed()
	fmt.Fprintf(&b, "  elapsed %s", formatDuration(elapsed))
	if eta, ok := jobclient.EstimateRemaining(p.Shards, elapsed); ok && p.Status == migration.StatusRunning {
		fmt.Fprintf(&b, "  ETA ~%s", formatDuration(eta))
	}
	if p.Error != "" {
		fmt.Fprintf(&b, "  error: %s", p.Error)
	}
	for _, s := range p.Stalls {
		fmt.Fprintf(&b, "  stalled: %s (%s) out since %s: %s", s.Store, s.What, s.Since.UTC().Format(time.DateTime+" MST"), s.Reason)
	}
	return b.String()
}

// stallLines says which stores the job waits for, since when and why.
func stallLines(stalls []migration.Stall) []string {
	var lines []string
	for _, s := range stalls {
		lines = append(lines, fmt.Sprintf("  stalled   %s (%s) out since %s; waiting for it, nothing fails meanwhile",
			s.Store, s.What, s.Since.UTC().Format(time.DateTime+" MST")),
			"            "+truncate(s.Reason, 200))
	}
	return lines
}

// renderResult draws a finished job.
func renderResult(id string, r migration.JobResult, h hints) []string {
	lines := []string{fmt.Sprintf("job %s: %s", id, r.Status)}
	if r.Shards > 0 {
		lines = append(lines, fmt.Sprintf("  shards    %s", formatCount(int64(r.Shards))))
	}
	lines = append(lines, countLines(r.Counts)...)
	if !r.Started.IsZero() && !r.Finished.IsZero() {
		took := r.Finished.Sub(r.Started)
		line := fmt.Sprintf("  took      %s (%s to %s)", formatDuration(took),
			r.Started.UTC().Format(time.DateTime), r.Finished.UTC().Format(time.DateTime+" MST"))
		if s := took.Seconds(); s > 0 {
			line += fmt.Sprintf(", average %s, %s", formatByteRate(float64(r.Counts.BytesCopied)/s),
				formatObjectRate(float64(r.Counts.Objects())/s))
		}
		lines = append(lines, line)
	}
	return append(lines, failureLines(r.Counts.Failed, r.FailureSample, r.FailureLog, h, resultFailureLines)...)
}

// display shows successive views of a job: redrawn in place on a
// terminal, as timestamped lines otherwise.
type display struct {
	w     io.Writer
	live  bool
	width int // live lines are cut to this many runes so that none wraps
	drawn int // lines of the last live frame
}

func newDisplay(w io.Writer, live bool) *display {
	width := 80
	if n, err := strconv.Atoi(os.Getenv("COLUMNS")); err == nil && n > 20 {
		width = n
	}
	return &display{w: w, live: live, width: width}
}

func (d *display) show(v jobView) {
	if !d.live {
		fmt.Fprintf(d.w, "%s %s\n", v.now.Format(time.RFC3339), progressLine(v))
		return
	}
	var b strings.Builder
	d.erase(&b)
	lines := renderProgress(v)
	for _, l := range lines {
		b.WriteString(truncate(l, d.width-1))
		b.WriteString("\x1b[K\n")
	}
	d.drawn = len(lines)
	io.WriteString(d.w, b.String())
}

// erase moves the cursor back to the first line of the last frame and
// clears to the end of the screen.
func (d *display) erase(b *strings.Builder) {
	if d.drawn > 0 {
		fmt.Fprintf(b, "\x1b[%dA\r\x1b[J", d.drawn)
	}
	d.drawn = 0
}

// clear removes the last live frame, so the final result replaces it.
func (d *display) clear() {
	var b strings.Builder
	d.erase(&b)
	io.WriteString(d.w, b.String())
}

// isTerminal reports whether w is a character device, without a terminal
// library: enough to choose between redrawing and appending lines.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok || os.Getenv("TERM") == "dumb" {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

type watchOptions struct {
	interval  time.Duration // 0: 1s live, 5s plain
	hints     hints
	namespace string // of the job, to find its running shards
}

// watchClient is what watching a job needs of client.Client.
type watchClient interface {
	jobclient.Client
	jobclient.ShardLister
}

// watchJob shows a job's progress until it ends, then its result; the
// error it returns carries the job's exit code.
func watchJob(ctx context.Context, c watchClient, id string, w io.Writer, opts watchOptions) error {
	d, err := jobclient.Describe(ctx, c, id)
	if err != nil {
		return err
	}
	started := d.GetWorkflowExecutionInfo().GetStartTime().AsTime()
	disp := newDisplay(w, isTerminal(w))
	interval := opts.interval
	if interval <= 0 {
		interval = 5 * time.Second
		if disp.live {
			interval = time.Second
		}
	}

	type ended struct {
		o   jobclient.Outcome
		err error
	}
	finish := func(e ended) error {
		// gRPC may report the deadline a moment before the context does.
		if ctx.Err() != nil || isContextError(e.err) {
			return stoppedWatching(w, disp, opts.hints)
		}
		disp.clear()
		if e.err != nil {
			return e.err
		}
		printOutcome(w, id, e.o, opts.hints)
		return outcomeError(id, e.o)
	}
	if !jobclient.IsRunning(d) {
		// Ended already: no query, which only a worker could answer.
		o, err := jobclient.Wait(ctx, c, id)
		return finish(ended{o, err})
	}

	// The end is seen through a long poll on the job's history, at once,
	// whatever the refresh interval.
	waitCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan ended, 1)
	go func() {
		o, err := jobclient.Wait(waitCtx, c, id)
		done <- ended{o, err}
	}()
	fmt.Fprintf(w, "watching job %s (Ctrl-C stops watching; the job keeps running)\n", id)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case e := <-done:
			return finish(e)
		default:
		}
		v := jobView{id: id, started: started, hints: opts.hints}
		if p, err := jobclient.Progress(ctx, c, id); err != nil {
			v.problem = err.Error()
		} else {
			v.progress = &p
			// The work under way moves the display while a page or a large
			// object is still copying.
			if f, err := jobclient.InFlightOf(ctx, c, opts.namespace, id); err == nil {
				v.inFlight = f
			}
		}
		if ctx.Err() != nil {
			return stoppedWatching(w, disp, opts.hints)
		}
		v.now = time.Now()
		disp.show(v)
		select {
		case e := <-done:
			return finish(e)
		case <-ctx.Done():
			return stoppedWatching(w, disp, opts.hints)
		case <-tick.C:
		}
	}
}

func stoppedWatching(w io.Writer, disp *display, h hints) error {
	if disp.live {
		fmt.Fprintln(w)
	}
	return fmt.Errorf("stopped watching job %s; it keeps running (%s stops it)", h.job, h.cmd("cancel"))
}

// isContextError reports whether err is the end of the caller's context,
// as the context or as the server's answer to it.
func isContextError(err error) bool {
	var (
		deadline *serviceerror.DeadlineExceeded
		canceled *serviceerror.Canceled
	)
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) ||
		errors.As(err, &deadline) || errors.As(err, &canceled)
}
