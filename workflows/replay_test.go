package workflows

import (
	"compress/gzip"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bucketferry/bucketferry/internal/histories"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

// TestReplayRecordedHistories replays the histories recorded from real runs
// (workflows/testdata/*.json, written by histories.Record, and gzipped
// copies of long ones) against the current workflow code: a change that
// would break running jobs fails here with a nondeterminism error.
// Re-record after an intended, versioned change.
func TestReplayRecordedHistories(t *testing.T) {
	plain, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	gzipped, err := filepath.Glob(filepath.Join("testdata", "*.json.gz"))
	if err != nil {
		t.Fatal(err)
	}
	files := append(plain, gzipped...)
	if len(files) == 0 {
		t.Fatal("no recorded histories under workflows/testdata: record a job's and a shard's with histories.Record")
	}
	logger := log.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			id, err := histories.WorkflowID(file)
			if err != nil {
				t.Fatal(err)
			}
			hist, err := readHistory(file)
			if err != nil {
				t.Fatal(err)
			}
			r := worker.NewWorkflowReplayer()
			Register(r)
			err = r.ReplayWorkflowHistoryWithOptions(logger, hist, worker.ReplayWorkflowHistoryOptions{
				OriginalExecution: workflow.Execution{ID: id, RunID: "replay"},
			})
			if err != nil {
				t.Fatalf("replay %s as %q: %v", file, id, err)
			}
		})
	}
}

func readHistory(path string) (*historypb.History, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(path, ".gz") {
		zr, err := gzip.NewReader(f)
		if err != nil {
			return nil, err
		}
		defer zr.Close()
		r = zr
	}
	return client.HistoryFromJSON(r, client.HistoryJSONOptions{})
}
