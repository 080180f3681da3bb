package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/server/temporaltest"

	"github.com/bucketferry/bucketferry/config"
	"github.com/bucketferry/bucketferry/jobclient"
	"github.com/bucketferry/bucketferry/migration"
	"github.com/bucketferry/bucketferry/runner"
)

func TestParseBandwidth(t *testing.T) {
	for s, want := range map[string]int64{
		"100Mbit": 12_500_000, "1Gbps": 125_000_000, "800kbit": 100_000, "50MiB": 50 << 20, "50MiB/s": 50 << 20,
		"1.5MB": 1_500_000, "1048576": 1 << 20, "0": 0, "unlimited": 0,
	} {
		got, err := jobclient.ParseBandwidth(s)
		if err != nil || got != want {
			t.Errorf("%q: %d, %v; want %d", s, got, err, want)
		}
	}
	for _, s := range []string{"", "fast", "-5MiB", "-1Mbit", "10 parsecs"} {
		if _, err := jobclient.ParseBandwidth(s); err == nil {
			t.Errorf("%q accepted", s)
		}
	}
}

func TestLimitFlags(t *testing.T) {
	fs := flag.NewFlagSet("limits", flag.ContinueOnError)
	var lf limitFlags
	lf.register(fs, true)
	if err := fs.Parse([]string{"-bandwidth", "100Mbit", "-window", "08:00-20:00=50Mbit@+08:00", "-window", "22:00-06:00=0"}); err != nil {
		t.Fatal(err)
	}
	u := lf.update(fs)
	if u.QPS != nil || u.BandwidthBytesPerSecond == nil || *u.BandwidthBytesPerSecond != 12_500_000 || u.Windows == nil || len(*u.Windows) != 2 {
		t.Fatalf("update %+v", u)
	}
	if w := (*u.Windows)[0]; w != (migration.BandwidthWindow{From: "08:00", To: "20:00", BytesPerSecond: 6_250_000, UTCOffset: "+08:00"}) {
		t.Errorf("window %+v", w)
	}
	for _, bad := range []string{"08:00=1MiB", "8-20=1MiB", "08:00-20:00=fast", "08:00-20:00=1MiB@CST"} {
		fs := flag.NewFlagSet("limits", flag.ContinueOnError)
		fs.SetOutput(new(strings.Builder))
		var lf limitFlags
		lf.register(fs, true)
		if err := fs.Parse([]string{"-window", bad}); err == nil {
			t.Errorf("window %q accepted", bad)
		}
	}

	// start takes them into the spec.
	fs = flag.NewFlagSet("start", flag.ContinueOnError)
	var sf startFlags
	sf.register(fs)
	if err := fs.Parse([]string{"-source", "a", "-destination", "b", "-qps", "50", "-bandwidth", "4MiB"}); err != nil {
		t.Fatal(err)
	}
	spec, err := sf.buildSpec(fs, strings.NewReader(""))
	if err != nil {
		t.Fatal(err)
	}
	if spec.Limits.QPS != 50 || spec.Limits.BandwidthBytesPerSecond != 4<<20 {
		t.Errorf("spec limits %+v", spec.Limits)
	}
	fs = flag.NewFlagSet("start", flag.ContinueOnError)
	fs.SetOutput(new(strings.Builder))
	sf = startFlags{}
	sf.register(fs)
	if err := fs.Parse([]string{"-source", "a", "-destination", "b", "-qps", "-2"}); err != nil {
		t.Fatal(err)
	}
	if _, err := sf.buildSpec(fs, strings.NewReader("")); err == nil || !strings.Contains(err.Error(), "spec.limits.qps") {
		t.Errorf("negative -qps: %v", err)
	}
}

// TestLimitsCommand shows and changes the limits of a real job run by a
// real worker, slowed to a crawl by its QPS limit.
func TestLimitsCommand(t *testing.T) {
	ts := temporaltest.NewServer(temporaltest.WithT(t))
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "src"), filepath.Join(dir, "dst")
	for _, d := range []string{src, dst} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 40 {
		if err := os.WriteFile(filepath.Join(src, fmt.Sprintf("k%02d", i)), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfgPath := filepath.Join(dir, "bucketferry.yaml")
	yaml := fmt.Sprintf("temporal:\n  address: %q\n  namespace: %q\nstores:\n  src: {type: local, path: %q}\n  dst: {type: local, path: %q}\n",
		ts.GetFrontendHostPort(), ts.GetDefaultNamespace(), src, dst)
	if err := os.WriteFile(cfgPath, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	c := ts.GetDefaultClient()
	w, err := runner.NewWorker(c, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	spec := migration.JobSpec{Source: migration.Location{Store: "src"}, Destination: migration.Location{Store: "dst"},
		Shards: 1, Limits: migration.Limits{QPS: 2}}
	run, err := c.ExecuteWorkflow(context.Background(), client.StartWorkflowOptions{ID: "job-limits", TaskQueue: migration.TaskQueue},
		migration.JobWorkflow, migration.JobInput{Spec: spec})
	if err != nil {
		t.Fatal(err)
	}
	e := serverEnv{cfgPath: cfgPath}

	out, code, err := e.cmd(t, runLimits, "job-limits")
	if code != 0 || !strings.Contains(out, "qps:       2 requests/s") || !strings.Contains(out, "bandwidth: unlimited") {
		t.Fatalf("show: exit %d, %v\n%s", code, err, out)
	}
	out, code, err = e.cmd(t, runLimits, "job-limits", "-bandwidth", "100Mbit", "-window", "08:00-20:00=10MiB@+08:00")
	if code != 0 || !strings.Contains(out, "changed") || !strings.Contains(out, "qps:       2 requests/s") ||
		!strings.Contains(out, "bandwidth: 11.9 MiB/s (100 Mbit/s)") || !strings.Contains(out, "window:    08:00-20:00 UTC+08:00 10.0 MiB/s") {
		t.Fatalf("change bandwidth: exit %d, %v\n%s", code, err, out)
	}
	out, code, err = e.cmd(t, runLimits, "job-limits", "-qps", "-1")
	if code != 1 || err == nil || !strings.Contains(err.Error(), "qps") {
		t.Errorf("negative qps: exit %d, %v\n%s", code, err, out)
	}
	// Lift the QPS limit: the job, which could not have finished in the
	// time at 2 requests a second, finishes.
	out, code, err = e.cmd(t, runLimits, "job-limits", "-qps", "0", "-no-windows")
	if code != 0 || !strings.Contains(out, "qps:       unlimited") || strings.Contains(out, "window:") {
		t.Fatalf("lift: exit %d, %v\n%s", code, err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var res migration.JobResult
	if err := run.Get(ctx, &res); err != nil || res.Counts.Copied != 40 {
		t.Fatalf("job: %+v, %v", res.Counts, err)
	}
	if _, code, err := e.cmd(t, runLimits, "no-such-job"); code != 1 || err == nil {
		t.Errorf("limits of a missing job: exit %d, %v", code, err)
	}
}
