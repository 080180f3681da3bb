package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"sort"
	"time"

	"github.com/bucketferry/bucketferry/config"
	"github.com/bucketferry/bucketferry/emulator"
	"github.com/bucketferry/bucketferry/migration"
)

// runDemo is the whole product on one machine with nothing installed: the
// OSS and COS emulators with a generated bucket that looks real and a few
// injected faults, the embedded Temporal server and Web UI, an in-process
// worker, a job started and watched through Temporal like any other, and a
// report that checks every destination object against its source.
func runDemo(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	setUsage(fs, "[flags]", "Copy a generated bucket from the OSS emulator to the COS emulator through a real job on an\nembedded Temporal server, with faults injected, and verify every object.")
	var f emulatorFlags
	f.register(fs)
	var sf serverFlags
	sf.register(fs)
	keepRunning := fs.Bool("keep-running", false, "keep the server, the Web UI and the emulators up after the report, until Ctrl-C")
	interval := fs.Duration("interval", 0, "progress refresh interval (default 1s on a terminal, 5s otherwise)")
	fs.Set("oss-addr", "127.0.0.1:0")
	fs.Set("cos-addr", "127.0.0.1:0")
	fs.Set("generate", "3000")
	fs.Set("max-size", "4194304")
	fs.Set("large", "3")
	fs.Set("large-size", "134217728")
	fs.Set("error-rate", "0.01")
	fs.Set("reset-rate", "0.005")
	fs.Set("address", "127.0.0.1:0") // never clash with a server already on 7233
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("demo: unexpected arguments %q", fs.Args())
	}

	cfg := config.Defaults()
	sf.apply(&cfg)
	if sf.stateDir == "" {
		dir, err := os.MkdirTemp("", "bucketferry-demo-")
		if err != nil {
			return fmt.Errorf("state directory: %w", err)
		}
		defer os.RemoveAll(dir)
		cfg.Server.StateDir = dir
	}
	if sf.uiAddress == "" && !canListen(cfg.Server.UIAddress) {
		cfg.Server.UIAddress = "127.0.0.1:0" // another UI has the usual port
	}

	srv, err := f.start(stdout)
	if err != nil {
		return err
	}
	defer srv.Close()
	cfg.Stores = map[string]config.StoreConfig{
		"oss": {Type: "oss", Endpoint: srv.OSSURL(), Bucket: f.srcBucket, AccessKeyID: f.ossKey, AccessKeySecret: config.Secret(f.ossSecret)},
		"cos": {Type: "cos", Endpoint: srv.COSURL(), Bucket: f.dstBucket, Region: "ap-guangzhou", SecretID: f.cosID, SecretKey: config.Secret(f.cosKey)},
	}
	// Small parts so that the large objects show multipart copies.
	cfg.Transfer.MultipartThreshold = 32 * config.MiB
	cfg.Transfer.PartSize = 8 * config.MiB
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("demo configuration: %w", err)
	}

	l, err := startLocal(ctx, &cfg, true)
	if err != nil {
		return err
	}
	defer l.Close()
	cn := l.conn(&cfg)
	fmt.Fprintf(stdout, "OSS emulator %s (bucket %s) -> COS emulator %s (bucket %s)\n", srv.OSSURL(), f.srcBucket, srv.COSURL(), f.dstBucket)
	fmt.Fprintf(stdout, "Temporal server %s (namespace %s), state in %s\n", cn.address, cn.namespace, cfg.Server.StateDir)
	if u := l.srv.UIURL(); u != "" {
		fmt.Fprintf(stdout, "Temporal Web UI %s\n", u)
	}
	rc, err := l.console(ctx, &cfg)
	if err != nil {
		return err
	}
	defer rc.stop()
	rc.print(stdout, "web console ")

	spec := migration.JobSpec{
		Source:      migration.Location{Store: "oss"},
		Destination: migration.Location{Store: "cos"},
	}
	id := "demo-" + time.Now().UTC().Format("20060102-150405")
	started := time.Now()
	jobErr := startJob(ctx, cn, id, spec, startFlags{searchAttributes: true, interval: *interval},
		hints{job: id}, stdout)
	if ctx.Err() != nil {
		return jobErr
	}
	elapsed := time.Since(started)

	var exit interface{ ExitCode() int }
	if jobErr != nil && !errors.As(jobErr, &exit) {
		return jobErr // the job could not be started or watched
	}
	verified, problems := compareBuckets(srv.Backend, f.srcBucket, f.dstBucket)
	srcKeys := len(srv.Backend.Keys(f.srcBucket))
	st, ct := srv.OSSFaults.Stats(), srv.COSFaults.Stats()
	fmt.Fprintf(stdout, "\nfaults injected: %d errors and %d cut bodies at OSS, %d errors and %d cut bodies at COS\n",
		st.InjectedErrors, st.Resets, ct.InjectedErrors, ct.Resets)
	fmt.Fprintf(stdout, "verified: %d of %d source objects are at the destination with the same size, CRC64 and metadata (%s end to end)\n",
		verified, srcKeys, formatDuration(elapsed))
	for i, p := range problems {
		if i == 20 {
			fmt.Fprintf(stdout, "  ... and %d more\n", len(problems)-i)
			break
		}
		fmt.Fprintln(stdout, "  MISMATCH:", p)
	}
	if run, err := cn.c.DescribeWorkflowExecution(ctx, id, ""); err == nil && l.srv.UIURL() != "" {
		fmt.Fprintf(stdout, "the job in Temporal Web: %s\n", l.srv.WorkflowURL(id, run.GetWorkflowExecutionInfo().GetExecution().GetRunId()))
	}
	if jobErr == nil && len(problems) > 0 {
		jobErr = fmt.Errorf("%d of %d objects are not verified", len(problems), srcKeys)
	}
	if *keepRunning {
		fmt.Fprintln(stdout, "keeping the server, the Web UI and the emulators up: Ctrl-C stops")
		<-ctx.Done()
	}
	return jobErr
}

// canListen reports whether addr can be bound now.
func canListen(addr string) bool {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return false
	}
	ln.Close()
	return true
}

// compareBuckets checks every source object against the destination in the
// emulator's backend: size, CRC64, standard headers and user metadata.
func compareBuckets(b *emulator.Backend, srcBucket, dstBucket string) (int, []string) {
	var problems []string
	ok := 0
	keys := b.Keys(srcBucket)
	sort.Strings(keys)
	for _, k := range keys {
		s, err := b.Object(srcBucket, k)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%q: source: %v", k, err))
			continue
		}
		d, err := b.Object(dstBucket, k)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%q: destination: %v", k, err))
			continue
		}
		if p := emulator.CompareObjects(s, d); p != "" {
			problems = append(problems, fmt.Sprintf("%q: %s", k, p))
			continue
		}
		ok++
	}
	return ok, problems
}
