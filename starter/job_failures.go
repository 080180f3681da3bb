package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	enumspb "go.temporal.io/api/enums/v1"

	"github.com/bucketferry/bucketferry/config"
	"github.com/bucketferry/bucketferry/migration"
	"github.com/bucketferry/bucketferry/storage"
)

// maxFailureLine bounds one line of a failure log: a key is at most 1 KiB
// and a reason a sentence, so anything longer is not a failure record.
const maxFailureLine = 1 << 20

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
		if loc, err = locateFailureLog(ctx, cn.c, id); err != nil {
			return err
		}
	}
	st, err := cfg.Store(loc.Store)
	if err != nil {
		return fmt.Errorf("failure log store: %w", err)
	}
	dir := failuresDir(loc)

	if *out == "" {
		_, err := exportFailures(ctx, st, dir.Prefix, newFailureSink(*format, stdout))
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
		n, err = exportFailures(ctx, st, prefix, newFailureSink(format, w))
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

// locateFailureLog finds where a job writes its failure log: the result of
// a completed job says; otherwise the spec the current run was started
// with does, as the workflow derives it (read from the run's history, so
// no worker need answer a query, and a failed job's log is found too).
func locateFailureLog(ctx context.Context, c jobClient, id string) (migration.Location, error) {
	d, err := describeJob(ctx, c, id)
	if err != nil {
		return migration.Location{}, err
	}
	if d.GetWorkflowExecutionInfo().GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED {
		o, err := waitJob(ctx, c, id)
		if err != nil {
			return migration.Location{}, err
		}
		if o.err == nil && o.result.FailureLog.Store != "" {
			return o.result.FailureLog, nil
		}
	}
	spec, err := jobSpecOf(ctx, c, id)
	if err != nil {
		return migration.Location{}, err
	}
	return *spec.WithDefaults(id).FailureLog, nil
}

// failureSink writes failures in one output format.
type failureSink interface {
	write(migration.Failure) error
	flush() error
}

func newFailureSink(format string, w io.Writer) failureSink {
	if format == "jsonl" {
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		return jsonlSink{enc}
	}
	return &csvSink{w: csv.NewWriter(w)}
}

type jsonlSink struct{ enc *json.Encoder }

func (s jsonlSink) write(f migration.Failure) error { return s.enc.Encode(f) }
func (s jsonlSink) flush() error                    { return nil }

type csvSink struct {
	w      *csv.Writer
	header bool
}

func (s *csvSink) writeHeader() error {
	if s.header {
		return nil
	}
	s.header = true
	return s.w.Write([]string{"key", "size", "reason", "kind", "attempts", "shard"})
}

func (s *csvSink) write(f migration.Failure) error {
	if err := s.writeHeader(); err != nil {
		return err
	}
	return s.w.Write([]string{f.Key, strconv.FormatInt(f.Size, 10), f.Reason, f.Kind, strconv.Itoa(f.Attempts), strconv.Itoa(f.Shard)})
}

func (s *csvSink) flush() error {
	// A log without failures still gets its header.
	if err := s.writeHeader(); err != nil {
		return err
	}
	s.w.Flush()
	return s.w.Error()
}

// exportFailures lists every failure-log object under prefix and writes
// each failure of each, one object and one list page in memory at a time.
func exportFailures(ctx context.Context, st storage.Store, prefix string, sink failureSink) (int64, error) {
	var n int64
	opts := storage.ListOptions{Prefix: prefix}
	for {
		page, err := st.List(ctx, opts)
		if err != nil {
			return n, fmt.Errorf("list %s prefix %q: %w", st.Name(), prefix, err)
		}
		for _, o := range page.Objects {
			m, err := copyFailureObject(ctx, st, o.Key, sink)
			n += m
			if err != nil {
				return n, err
			}
		}
		if page.Done {
			break
		}
		opts.After = page.Next
	}
	if err := sink.flush(); err != nil {
		return n, fmt.Errorf("write failures: %w", err)
	}
	return n, nil
}

func copyFailureObject(ctx context.Context, st storage.Store, key string, sink failureSink) (int64, error) {
	rc, _, err := st.Get(ctx, key, storage.Range{})
	if err != nil {
		return 0, fmt.Errorf("read failure log: %w", err)
	}
	defer rc.Close()
	sc := bufio.NewScanner(rc)
	sc.Buffer(make([]byte, 0, 64<<10), maxFailureLine)
	var n int64
	for line := 1; sc.Scan(); line++ {
		if len(sc.Bytes()) == 0 {
			continue
		}
		var f migration.Failure
		if err := json.Unmarshal(sc.Bytes(), &f); err != nil {
			return n, fmt.Errorf("failure log %q line %d: %w", key, line, err)
		}
		if err := sink.write(f); err != nil {
			return n, fmt.Errorf("write failures: %w", err)
		}
		n++
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return n, fmt.Errorf("failure log %q: a line is over %d bytes", key, maxFailureLine)
		}
		return n, fmt.Errorf("read failure log %q: %w", key, err)
	}
	return n, nil
}
