package jobclient

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"

	enumspb "go.temporal.io/api/enums/v1"

	"github.com/bucketferry/bucketferry/migration"
	"github.com/bucketferry/bucketferry/storage"
)

// maxFailureLine bounds one line of a failure log: a key is at most 1 KiB
// and a reason a sentence, so anything longer is not a failure record.
const maxFailureLine = 1 << 20

// FailuresDir is where the activities write the failure log of a job.
func FailuresDir(log migration.Location) migration.Location {
	return migration.Location{Store: log.Store, Prefix: log.Prefix + "failures/"}
}

// LocateFailureLog finds where a job writes its failure log: the result of
// a completed job says; otherwise the spec the current run was started
// with does, as the workflow derives it (read from the run's history, so
// no worker need answer a query, and a failed job's log is found too).
func LocateFailureLog(ctx context.Context, c Client, id string) (migration.Location, error) {
	d, err := Describe(ctx, c, id)
	if err != nil {
		return migration.Location{}, err
	}
	if d.GetWorkflowExecutionInfo().GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED {
		o, err := Wait(ctx, c, id)
		if err != nil {
			return migration.Location{}, err
		}
		if o.Err == nil && o.Result.FailureLog.Store != "" {
			return o.Result.FailureLog, nil
		}
	}
	spec, err := SpecOf(ctx, c, id)
	if err != nil {
		return migration.Location{}, err
	}
	return *spec.WithDefaults(id).FailureLog, nil
}

// FailureSink writes failures in one output format.
type FailureSink interface {
	Write(migration.Failure) error
	Flush() error
}

// Formats of a failures export.
const (
	FormatCSV   = "csv"
	FormatJSONL = "jsonl"
)

// NewFailureSink writes failures to w as CSV (key,size,reason,kind,
// attempts,shard with a header) or, for FormatJSONL, JSON Lines.
func NewFailureSink(format string, w io.Writer) FailureSink {
	if format == FormatJSONL {
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		return jsonlSink{enc}
	}
	return &csvSink{w: csv.NewWriter(w)}
}

type jsonlSink struct{ enc *json.Encoder }

func (s jsonlSink) Write(f migration.Failure) error { return s.enc.Encode(f) }
func (s jsonlSink) Flush() error                    { return nil }

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

func (s *csvSink) Write(f migration.Failure) error {
	if err := s.writeHeader(); err != nil {
		return err
	}
	return s.w.Write([]string{f.Key, strconv.FormatInt(f.Size, 10), f.Reason, f.Kind, strconv.Itoa(f.Attempts), strconv.Itoa(f.Shard)})
}

func (s *csvSink) Flush() error {
	// A log without failures still gets its header.
	if err := s.writeHeader(); err != nil {
		return err
	}
	s.w.Flush()
	return s.w.Error()
}

// funcSink hands each failure to a function: the console's pages.
type funcSink func(migration.Failure) error

func (f funcSink) Write(x migration.Failure) error { return f(x) }
func (funcSink) Flush() error                      { return nil }

// SinkFunc is a FailureSink that calls fn for each failure.
func SinkFunc(fn func(migration.Failure) error) FailureSink { return funcSink(fn) }

// ErrStopExport, returned by a SinkFunc's function, ends ExportFailures
// early without an error.
var ErrStopExport = errors.New("stop export")

// ExportFailures lists every failure-log object under prefix and writes
// each failure of each, one object and one list page in memory at a time.
func ExportFailures(ctx context.Context, st storage.Store, prefix string, sink FailureSink) (int64, error) {
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
			if errors.Is(err, ErrStopExport) {
				return n, nil
			}
			if err != nil {
				return n, err
			}
		}
		if page.Done {
			break
		}
		opts.After = page.Next
	}
	if err := sink.Flush(); err != nil {
		return n, fmt.Errorf("write failures: %w", err)
	}
	return n, nil
}

func copyFailureObject(ctx context.Context, st storage.Store, key string, sink FailureSink) (int64, error) {
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
		if err := sink.Write(f); err != nil {
			if errors.Is(err, ErrStopExport) {
				return n, err
			}
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
