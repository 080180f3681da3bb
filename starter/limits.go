package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/bucketferry/bucketferry/config"
	"github.com/bucketferry/bucketferry/migration"
)

// limitFlags are the flags that set a job's limits, in `limits` and in
// `start`.
type limitFlags struct {
	qps       float64
	bandwidth bandwidthFlag
	windows   windowList
	noWindows bool
}

func (f *limitFlags) register(fs *flag.FlagSet, withWindowReset bool) {
	fs.Float64Var(&f.qps, "qps", 0, "job-wide `REQUESTS` per second to source and destination together, over all workers (0: unlimited)")
	fs.Var(&f.bandwidth, "bandwidth", "job-wide bytes per second read from the source, over all workers: `RATE` such as 100Mbit, 50MiB, 0 (unlimited)")
	fs.Var(&f.windows, "window", "bandwidth by time of day: `FROM-TO=RATE[@OFFSET]`, e.g. 08:00-20:00=100Mbit@+08:00 (repeatable; replaces the job's windows)")
	if withWindowReset {
		fs.BoolVar(&f.noWindows, "no-windows", false, "remove the job's time windows")
	}
}

// apply sets the limits given on the command line over spec's.
func (f *limitFlags) apply(name string, l *migration.Limits) {
	switch name {
	case "qps":
		l.QPS = f.qps
	case "bandwidth":
		l.BandwidthBytesPerSecond = f.bandwidth.n
	case "window":
		l.Windows = append([]migration.BandwidthWindow(nil), f.windows...)
	}
}

// update is the setLimits update the flags set on the command line ask for.
func (f *limitFlags) update(fs *flag.FlagSet) migration.LimitsUpdate {
	var u migration.LimitsUpdate
	fs.Visit(func(fl *flag.Flag) {
		switch fl.Name {
		case "qps":
			u.QPS = &f.qps
		case "bandwidth":
			u.BandwidthBytesPerSecond = &f.bandwidth.n
		case "window":
			w := append([]migration.BandwidthWindow(nil), f.windows...)
			u.Windows = &w
		case "no-windows":
			if f.noWindows && u.Windows == nil {
				u.Windows = &[]migration.BandwidthWindow{}
			}
		}
	})
	return u
}

// bandwidthFlag is a rate in bytes per second, given in bytes (50MiB) or
// bits (100Mbit).
type bandwidthFlag struct{ n int64 }

func (b *bandwidthFlag) String() string { return strconv.FormatInt(b.n, 10) }

func (b *bandwidthFlag) Set(s string) error {
	n, err := parseBandwidth(s)
	if err != nil {
		return err
	}
	b.n = n
	return nil
}

// parseBandwidth reads a rate in bytes per second: a size in bytes
// ("50MiB", "1.5GB", "1048576", "/s" optional) or in bits, decimal as
// network rates are ("100Mbit", "1Gbps"); "0" and "unlimited" are 0.
func parseBandwidth(s string) (int64, error) {
	t := strings.TrimSpace(s)
	if strings.EqualFold(t, "unlimited") {
		return 0, nil
	}
	t = strings.TrimSuffix(strings.TrimSuffix(t, "/s"), "ps")
	lower := strings.ToLower(t)
	if strings.HasSuffix(lower, "bit") || (strings.HasSuffix(t, "b") && !strings.HasSuffix(t, "B")) {
		num := strings.TrimSuffix(strings.TrimSuffix(lower, "bit"), "b")
		mult := 1.0
		if num != "" {
			switch num[len(num)-1] {
			case 'k':
				mult, num = 1e3, num[:len(num)-1]
			case 'm':
				mult, num = 1e6, num[:len(num)-1]
			case 'g':
				mult, num = 1e9, num[:len(num)-1]
			}
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
		if err != nil || v < 0 || math.IsInf(v, 0) || math.IsNaN(v) {
			return 0, fmt.Errorf("%q is not a rate such as 100Mbit, 50MiB or 0", s)
		}
		return int64(v * mult / 8), nil
	}
	n, err := config.ParseByteSize(t)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%q is not a rate such as 100Mbit, 50MiB or 0", s)
	}
	return int64(n), nil
}

// windowList is the repeatable -window flag.
type windowList []migration.BandwidthWindow

func (l *windowList) String() string {
	parts := make([]string, len(*l))
	for i, w := range *l {
		parts[i] = formatWindow(w)
	}
	return strings.Join(parts, ",")
}

// Set reads FROM-TO=RATE[@OFFSET].
func (l *windowList) Set(s string) error {
	bad := fmt.Errorf("%q is not a window such as 08:00-20:00=100Mbit@+08:00", s)
	span, rest, ok := strings.Cut(s, "=")
	if !ok {
		return bad
	}
	from, to, ok := strings.Cut(span, "-")
	if !ok {
		return bad
	}
	rateText, offset, _ := strings.Cut(rest, "@")
	n, err := parseBandwidth(rateText)
	if err != nil {
		return fmt.Errorf("%w: %w", bad, err)
	}
	w := migration.BandwidthWindow{From: strings.TrimSpace(from), To: strings.TrimSpace(to), BytesPerSecond: n, UTCOffset: strings.TrimSpace(offset)}
	if err := (migration.Limits{Windows: []migration.BandwidthWindow{w}}).Validate(); err != nil {
		return fmt.Errorf("%w: %w", bad, err)
	}
	*l = append(*l, w)
	return nil
}

// formatRate writes a bandwidth in bytes and bits per second.
func formatRate(n int64) string {
	if n == 0 {
		return "unlimited"
	}
	return fmt.Sprintf("%s/s (%s)", humanBytes(n), formatBits(n*8))
}

func formatBits(bits int64) string {
	switch {
	case bits >= 1e9:
		return fmt.Sprintf("%.3g Gbit/s", float64(bits)/1e9)
	case bits >= 1e6:
		return fmt.Sprintf("%.3g Mbit/s", float64(bits)/1e6)
	case bits >= 1e3:
		return fmt.Sprintf("%.3g kbit/s", float64(bits)/1e3)
	}
	return fmt.Sprintf("%d bit/s", bits)
}

func formatWindow(w migration.BandwidthWindow) string {
	s := fmt.Sprintf("%s-%s %s", w.From, w.To, formatRate(w.BytesPerSecond))
	if w.UTCOffset != "" {
		s = fmt.Sprintf("%s-%s UTC%s %s", w.From, w.To, w.UTCOffset, formatRate(w.BytesPerSecond))
	}
	return s
}

// formatLimits writes a job's limits, one a line.
func formatLimits(w io.Writer, l migration.Limits) {
	qps := "unlimited"
	if l.QPS > 0 {
		qps = strconv.FormatFloat(l.QPS, 'f', -1, 64) + " requests/s"
	}
	fmt.Fprintf(w, "  qps:       %s\n", qps)
	fmt.Fprintf(w, "  bandwidth: %s\n", formatRate(l.BandwidthBytesPerSecond))
	for _, win := range l.Windows {
		fmt.Fprintf(w, "  window:    %s\n", formatWindow(win))
	}
	if len(l.Windows) > 0 {
		fmt.Fprintf(w, "  in force now: %s\n", formatRate(l.BandwidthAt(time.Now())))
	}
}

// limitsClient is the part of client.Client the limits sub-command uses.
type limitsClient interface {
	QueryWorkflow(ctx context.Context, workflowID, runID, queryType string, args ...any) (converter.EncodedValue, error)
	UpdateWorkflow(ctx context.Context, options client.UpdateWorkflowOptions) (client.WorkflowUpdateHandle, error)
}

// runLimits shows or changes the limits of a running job.
func runLimits(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("limits", flag.ContinueOnError)
	setUsage(fs, "[flags] JOB", "Show a job's QPS and bandwidth limits, or change them while it runs (a Temporal update the job\nvalidates: an invalid value is refused and nothing changes). The limits hold over all the job's\nworkers together; each worker takes its share and follows a change within seconds. Flags not\ngiven keep their value; 0 lifts a limit.")
	var cf connFlags
	cf.register(fs)
	var lf limitFlags
	lf.register(fs, true)
	id, err := jobArg(fs, args)
	if err != nil {
		return err
	}
	u := lf.update(fs)
	cn, err := cf.dial(ctx)
	if err != nil {
		return err
	}
	defer cn.Close()
	return jobLimits(ctx, cn.c, id, u, stdout)
}

func jobLimits(ctx context.Context, c limitsClient, id string, u migration.LimitsUpdate, w io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, queryTimeout)
	defer cancel()
	if u.QPS == nil && u.BandwidthBytesPerSecond == nil && u.Windows == nil {
		v, err := c.QueryWorkflow(ctx, id, "", migration.QueryLimits)
		var l migration.Limits
		if err == nil {
			err = v.Get(&l)
		}
		if err != nil {
			return limitsError(ctx, id, "query", err)
		}
		fmt.Fprintf(w, "limits of job %s:\n", id)
		formatLimits(w, l)
		return nil
	}
	if err := u.Validate(); err != nil {
		return fmt.Errorf("invalid limits: %w", err)
	}
	h, err := c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID:   id,
		UpdateName:   migration.UpdateSetLimits,
		Args:         []any{u},
		WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	var l migration.Limits
	if err == nil {
		err = h.Get(ctx, &l)
	}
	if err != nil {
		return limitsError(ctx, id, "update", err)
	}
	fmt.Fprintf(w, "limits of job %s changed; its workers follow within seconds:\n", id)
	formatLimits(w, l)
	return nil
}

func limitsError(ctx context.Context, id, what string, err error) error {
	var nf *serviceerror.NotFound
	switch {
	case errors.As(err, &nf):
		return fmt.Errorf("job %q not found, or not running", id)
	case ctx.Err() != nil:
		return fmt.Errorf("no answer to the limits %s within %s: is the job running and a worker polling task queue %q?", what, queryTimeout, migration.TaskQueue)
	}
	return fmt.Errorf("limits %s of job %s: %w", what, id, err)
}
