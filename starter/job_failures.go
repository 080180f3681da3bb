package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/bucketferry/bucketferry/config"
	"github.com/bucketferry/bucketferry/jobclient"
	"github.com/bucketferry/bucketferry/migration"
	"github.com/bucketferry/bucketferry/storage"
)

// runFailures exports every failed object of a job from its failure log,
// streaming: the log may list any number of failures.
func runFailures(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("failures", flag.ContinueOnError)
	setUsage(fs, "[flags] JOB", "Export every failed object of a job (key, size, reason, kind, attempts, shard) from its\nfailure log, read from the store the configuration names.")
	var cf connFlags
	cf.register(fs)
	format := fs.String("format", "csv", "output `FORMAT`: csv (key,size,reason,kind,attempts,shard with a header) or jsonl")
	out := fs.String("o", "", "write to `FILE` (replaced only once complete) instead of standard output")
	logAt := fs.String("log", "", "read the failure log at `STORE[:PREFIX]` instead of asking Temporal where the job keeps it")
	id, err := jobArg(fs, args)
	if err != nil {
		return err
	}
	if *format != "csv" && *format != "jsonl" {
		return fmt.Errorf("-format %q: want csv or jsonl", *format)
	}

	var (
		cfg *config.Config
		loc migration.Location
	)
	if *logAt != "" {
		if loc, err = parseLocation(*logAt); err != nil {
			return fmt.Errorf("-log: %w", err)
		}
		if cfg, err = config.Load(cf.configPath); err != nil {
			return err // names the file
		}
	} else {
		cn, err := cf.dial(ctx)
		if err != nil {
			return err
		}
		defer cn.Close()
		cfg = cn.cfg
		if loc, err = jobclient.LocateFailureLog(ctx, cn.c, id); err != nil {
			return err
		}
	}
	st, err := cfg.Store(loc.Store)
	if err != nil {
		return fmt.Errorf("failure log store: %w", err)
	}
	dir := jobclient.FailuresDir(loc)

	if *out == "" {
		_, err := jobclient.ExportFailures(ctx, st, dir.Prefix, jobclient.NewFailureSink(*format, stdout))
		return err
	}
	n, err := exportToFile(ctx, st, dir.Prefix, *format, *out)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s failures of job %s from %s to %s\n", formatCount(n), id, formatLocation(dir), *out)
	return nil
}

// exportToFile writes the export with writeComplete, so that an
// interrupted export never leaves a partial list that looks complete.
func exportToFile(ctx context.Context, st storage.Store, prefix, format, path string) (int64, error) {
	var n int64
	err := writeComplete(path, func(w io.Writer) error {
		var err error
		n, err = jobclient.ExportFailures(ctx, st, prefix, jobclient.NewFailureSink(format, w))
		return err
	})
	return n, err
}

// writeComplete writes a file through write into a temporary file next to
// path and renames it into place only once all of it is written.
func writeComplete(path string, write func(io.Writer) error) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("create output: %w", err)
	}
	defer os.Remove(f.Name()) // fails harmlessly once renamed
	bw := bufio.NewWriterSize(f, 256<<10)
	err = write(bw)
	if err == nil {
		err = bw.Flush()
	}
	if err == nil {
		err = f.Chmod(0o644)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
