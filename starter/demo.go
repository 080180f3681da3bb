package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"sort"
	"sync/atomic"
	"time"

	"github.com/bucketferry/bucketferry/emulator"
	"github.com/bucketferry/bucketferry/storage"
	"github.com/bucketferry/bucketferry/storage/cos"
	"github.com/bucketferry/bucketferry/storage/oss"
	"github.com/bucketferry/bucketferry/transfer"
)

// runDemo seeds the OSS emulator with a bucket that looks real, copies it to
// the COS emulator through the official SDKs with faults injected, and
// checks every destination object against its source.
func runDemo(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	var f emulatorFlags
	f.register(fs)
	workers := fs.Int("workers", 16, "objects copied at once")
	fs.Set("oss-addr", "127.0.0.1:0")
	fs.Set("cos-addr", "127.0.0.1:0")
	fs.Set("generate", "2000")
	fs.Set("max-size", "4194304")
	fs.Set("large", "3")
	fs.Set("large-size", "100663296")
	fs.Set("error-rate", "0.01")
	fs.Set("reset-rate", "0.005")
	if err := fs.Parse(args); err != nil {
		return err
	}
	srv, err := f.start(stdout)
	if err != nil {
		return err
	}
	defer srv.Close()
	src, dst, err := demoStores(srv, &f)
	if err != nil {
		return err
	}
	copier, err := transfer.New(transfer.Options{})
	if err != nil {
		return err
	}
	rep, err := migrate(ctx, copier, src, dst, *workers, stdout)
	if err != nil {
		return err
	}
	verified, problems := compareBuckets(srv.Backend, f.srcBucket, f.dstBucket)
	fmt.Fprintf(stdout, "\nreport: %d objects, %s copied in %s (%.1f MiB/s, %.0f objects/s); %d failed\n",
		rep.copied, humanBytes(rep.bytes), rep.elapsed.Round(time.Millisecond),
		float64(rep.bytes)/(1<<20)/rep.elapsed.Seconds(), float64(rep.copied)/rep.elapsed.Seconds(), len(rep.failed))
	st := srv.OSSFaults.Stats()
	ct := srv.COSFaults.Stats()
	fmt.Fprintf(stdout, "faults injected: %d errors and %d resets at OSS, %d errors and %d resets at COS (all retried)\n",
		st.InjectedErrors, st.Resets, ct.InjectedErrors, ct.Resets)
	fmt.Fprintf(stdout, "verified: %d of %d destination objects equal their source (size, CRC64, metadata)\n", verified, len(srv.Backend.Keys(f.srcBucket)))
	for _, p := range problems {
		fmt.Fprintln(stdout, "  MISMATCH:", p)
	}
	for _, r := range rep.failed {
		fmt.Fprintf(stdout, "  FAILED %q: %v\n", r.Key, r.Err)
	}
	if len(problems) > 0 || len(rep.failed) > 0 {
		return fmt.Errorf("%d objects failed, %d mismatched", len(rep.failed), len(problems))
	}
	return nil
}

func demoStores(srv *emulator.Server, f *emulatorFlags) (storage.Store, storage.Store, error) {
	src, err := oss.New(oss.Config{Endpoint: srv.OSSURL(), Bucket: f.srcBucket, AccessKeyID: f.ossKey, AccessKeySecret: f.ossSecret})
	if err != nil {
		return nil, nil, err
	}
	dst, err := cos.New(cos.Config{Bucket: f.dstBucket, Region: "ap-guangzhou", Endpoint: srv.COSURL(), SecretID: f.cosID, SecretKey: f.cosKey})
	if err != nil {
		return nil, nil, err
	}
	return src, dst, nil
}

type migrateReport struct {
	copied  int
	bytes   int64
	elapsed time.Duration
	failed  []transfer.ObjectResult
}

// migrate lists src page by page and copies each page, retrying objects that
// failed with a retryable error a few times. It stands in for the durable
// Temporal job until that lands, and prints a progress line a second.
func migrate(ctx context.Context, c *transfer.Copier, src, dst storage.Store, workers int, w io.Writer) (migrateReport, error) {
	start := time.Now()
	var rep migrateReport
	var copied, bytes atomic.Int64
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				el := time.Since(start).Seconds()
				fmt.Fprintf(w, "  %6d objects  %10s  %7.1f MiB/s\n", copied.Load(), humanBytes(bytes.Load()), float64(bytes.Load())/(1<<20)/el)
			}
		}
	}()
	opts := storage.ListOptions{}
	for {
		page, err := listWithRetry(ctx, src, opts)
		if err != nil {
			return rep, fmt.Errorf("list source: %w", err)
		}
		todo := page.Objects
		for attempt := 0; len(todo) > 0 && attempt < 5; attempt++ {
			results := c.CopyBatch(ctx, transfer.Batch{Src: src, Dst: dst, Objects: todo, Workers: workers,
				Done: func(r transfer.ObjectResult) {
					if r.Err == nil {
						copied.Add(1)
						bytes.Add(r.Size)
					}
				}})
			todo = todo[:0:0]
			for _, r := range results {
				switch {
				case r.Err == nil:
				case storage.IsRetryable(r.Err) && attempt < 4:
					todo = append(todo, storage.ObjectInfo{Key: r.Key, Size: r.Size})
				default:
					rep.failed = append(rep.failed, r)
				}
			}
			if err := ctx.Err(); err != nil {
				return rep, err
			}
		}
		if page.Done {
			break
		}
		opts.After = page.Next
	}
	rep.copied, rep.bytes, rep.elapsed = int(copied.Load()), bytes.Load(), time.Since(start)
	return rep, nil
}

// listWithRetry lists one page, retrying retryable failures with backoff.
func listWithRetry(ctx context.Context, s storage.Store, opts storage.ListOptions) (storage.Page, error) {
	for attempt := 1; ; attempt++ {
		page, err := s.List(ctx, opts)
		if err == nil || !storage.IsRetryable(err) || attempt == 5 {
			return page, err
		}
		select {
		case <-time.After(time.Duration(attempt) * 200 * time.Millisecond):
		case <-ctx.Done():
			return page, ctx.Err()
		}
	}
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
