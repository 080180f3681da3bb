package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/bucketferry/bucketferry/emulator"
	"github.com/bucketferry/bucketferry/internal/profiling"
)

// emulatorFlags are the settings of a stand-alone emulator, shared by the
// emulator and demo sub-commands.
type emulatorFlags struct {
	ossAddr, cosAddr  string
	s3Addr            string
	dir               string
	ossKey, ossSecret string
	cosID, cosKey     string
	s3Key, s3Secret   string
	srcBucket         string
	dstBucket         string
	seedDir           string
	ds                emulator.DataSet
	errorRate         float64
	resetRate         float64
	latency           time.Duration
	bandwidth         int64
	discardDest       bool
}

func (f *emulatorFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.ossAddr, "oss-addr", "127.0.0.1:9000", "listen address of the OSS front end")
	fs.StringVar(&f.cosAddr, "cos-addr", "127.0.0.1:9001", "listen address of the COS front end")
	fs.StringVar(&f.s3Addr, "s3-addr", "", "listen address of the S3 front end (default: off), e.g. 127.0.0.1:9002")
	fs.StringVar(&f.dir, "dir", "", "keep objects under this directory (default: in memory)")
	fs.StringVar(&f.ossKey, "oss-access-key-id", "emulator-oss-ak", "OSS AccessKeyId the emulator accepts")
	fs.StringVar(&f.ossSecret, "oss-access-key-secret", "emulator-oss-secret", "OSS AccessKeySecret the emulator accepts")
	fs.StringVar(&f.cosID, "cos-secret-id", "emulator-cos-id", "COS SecretId the emulator accepts")
	fs.StringVar(&f.cosKey, "cos-secret-key", "emulator-cos-key", "COS SecretKey the emulator accepts")
	fs.StringVar(&f.s3Key, "s3-access-key-id", emulator.DefaultS3AccessKeyID, "S3 access key id the emulator accepts")
	fs.StringVar(&f.s3Secret, "s3-secret-access-key", emulator.DefaultS3SecretAccessKey, "S3 secret access key the emulator accepts")
	fs.StringVar(&f.srcBucket, "oss-bucket", "source", "OSS bucket to create (and seed)")
	fs.StringVar(&f.dstBucket, "cos-bucket", "destination-1250000000", "COS bucket to create (name-APPID)")
	fs.StringVar(&f.seedDir, "seed-dir", "", "seed the OSS bucket with the files under this directory")
	fs.IntVar(&f.ds.Objects, "generate", 0, "seed the OSS bucket with this many generated objects")
	fs.Int64Var(&f.ds.MinSize, "min-size", 0, "smallest generated object, bytes")
	fs.Int64Var(&f.ds.MaxSize, "max-size", 1<<20, "largest generated object, bytes (sizes spread log-uniformly)")
	fs.IntVar(&f.ds.Large, "large", 0, "extra generated objects of -large-size bytes")
	fs.Int64Var(&f.ds.LargeSize, "large-size", 256<<20, "size of each -large object, bytes")
	fs.Uint64Var(&f.ds.Seed, "seed", 1, "seed of the generated data set")
	fs.Float64Var(&f.errorRate, "error-rate", 0, "fraction of requests answered 500/503")
	fs.Float64Var(&f.resetRate, "reset-rate", 0, "fraction of requests cut in the middle of a body")
	fs.DurationVar(&f.latency, "latency", 0, "latency added to every request")
	fs.BoolVar(&f.discardDest, "discard-destination", false, "keep only the size, ETag and CRC64 of what is written to the COS bucket, not the bodies (benchmarks, scale runs)")
	fs.Int64Var(&f.bandwidth, "bandwidth", 0, "bytes per second through each front end (0: unlimited)")
}

func (f *emulatorFlags) start(w io.Writer) (*emulator.Server, error) {
	faults := emulator.FaultConfig{ErrorRate: f.errorRate, ResetRate: f.resetRate, Latency: f.latency, Bandwidth: f.bandwidth}
	cfg := emulator.Config{
		Dir: f.dir, OSSAddr: f.ossAddr, COSAddr: f.cosAddr,
		OSSCredentials: map[string]string{f.ossKey: f.ossSecret},
		COSCredentials: map[string]string{f.cosID: f.cosKey},
		OSSFaults:      faults, COSFaults: faults,
		S3Addr:        f.s3Addr,
		S3Credentials: map[string]string{f.s3Key: f.s3Secret},
		S3Faults:      faults,
		Buckets:       []string{f.srcBucket, f.dstBucket},
	}
	if f.discardDest {
		cfg.DiscardBuckets = []string{f.dstBucket}
	}
	srv, err := emulator.Start(cfg)
	if err != nil {
		return nil, err
	}
	if f.seedDir != "" {
		st, err := emulator.SeedFromDir(srv.Backend, f.srcBucket, f.seedDir)
		if err != nil {
			srv.Close()
			return nil, err
		}
		fmt.Fprintf(w, "seeded %s with %d objects (%s) from %s\n", f.srcBucket, st.Objects, humanBytes(st.Bytes), f.seedDir)
	}
	if f.ds.Objects > 0 || f.ds.Large > 0 {
		st, err := emulator.Generate(srv.Backend, f.srcBucket, f.ds)
		if err != nil {
			srv.Close()
			return nil, err
		}
		fmt.Fprintf(w, "seeded %s with %d generated objects (%s)\n", f.srcBucket, st.Objects, humanBytes(st.Bytes))
	}
	return srv, nil
}

func runEmulator(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("emulator", flag.ContinueOnError)
	var f emulatorFlags
	f.register(fs)
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile, from the end of seeding until stopped, to this `file`")
	if err := fs.Parse(args); err != nil {
		return err
	}
	srv, err := f.start(stdout)
	if err != nil {
		return err
	}
	defer srv.Close()
	stopProfiling, err := profiling.Start("", *cpuProfile, slog.Default())
	if err != nil {
		return err
	}
	defer stopProfiling()
	fmt.Fprintf(stdout, "OSS emulator: %s  bucket %s  AccessKeyId %s\n", srv.OSSURL(), f.srcBucket, f.ossKey)
	fmt.Fprintf(stdout, "COS emulator: %s  bucket %s  SecretId %s\n", srv.COSURL(), f.dstBucket, f.cosID)
	if srv.S3URL() != "" {
		fmt.Fprintf(stdout, "S3 emulator:  %s  (path-style, or bucket.localhost)  access key %s\n", srv.S3URL(), f.s3Key)
	}
	fmt.Fprintln(stdout, "ready; Ctrl-C stops")
	<-ctx.Done()
	// What went through each front end, for whoever ran it (the chaos test
	// measures bytes re-sent with it).
	for _, fe := range []struct {
		name string
		st   emulator.FaultStats
	}{{"OSS", srv.OSSFaults.Stats()}, {"COS", srv.COSFaults.Stats()}} {
		fmt.Fprintf(stdout, "stats %s: requests=%d bytesIn=%d bytesOut=%d injectedErrors=%d resets=%d\n",
			fe.name, fe.st.Requests, fe.st.BytesIn, fe.st.BytesOut, fe.st.InjectedErrors, fe.st.Resets)
	}
	return nil
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
