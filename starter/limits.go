package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/bucketferry/bucketferry/jobclient"
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
	n, err := jobclient.ParseBandwidth(s)
	if err != nil {
		return err
	}
	b.n = n
	return nil
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
	w, err := jobclient.ParseWindow(s)
	if err != nil {
		return err
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

func jobLimits(ctx context.Context, c jobclient.LimitsClient, id string, u migration.LimitsUpdate, w io.Writer) error {
	if u.QPS == nil && u.BandwidthBytesPerSecond == nil && u.Windows == nil {
		l, err := jobclient.Limits(ctx, c, id)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "limits of job %s:\n", id)
		formatLimits(w, l)
		return nil
	}
	l, err := jobclient.SetLimits(ctx, c, id, u)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "limits of job %s changed; its workers follow within seconds:\n", id)
	formatLimits(w, l)
	return nil
}
