// Package histories records workflow histories for the replay corpus
// (workflows/testdata) and names their files: test tooling, kept out of the
// workflows package, whose code does no I/O.
package histories

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/temporalproto"
	"go.temporal.io/sdk/client"
)

// Record writes the event history of the latest run of each
// workflow to dir, one file per workflow named FileName(id), as JSON
// in the format worker.WorkflowReplayer's ReplayWorkflowHistoryFromJSONFile
// reads (and `temporal workflow show --output json` writes). Replaying
// these files (replay_test.go replays workflows/testdata) guards running
// jobs against incompatible changes of the workflow code.
//
// A workflow whose file (or its .gz) exists is an error: the corpus keeps
// what it has.
//
// The file name keeps the workflow id because a replay must run under the
// recorded id: the job derives its shards' ids from its own.
func Record(ctx context.Context, c client.Client, dir string, workflowIDs ...string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("record histories: %w", err)
	}
	// A history in the corpus is never recorded again: running jobs of its
	// shape replay like it, whatever the code records now. All ids are
	// checked before any is written, so a refusal leaves no part behind.
	for _, id := range workflowIDs {
		for _, name := range []string{FileName(id), FileName(id) + ".gz"} {
			if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
				return fmt.Errorf("record history of %s: %s is in the corpus already; record under a workflow id no file has", id, name)
			}
		}
	}
	for _, id := range workflowIDs {
		data, err := historyJSON(ctx, c, id)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, FileName(id)), data, 0o644); err != nil {
			return fmt.Errorf("write history of %s: %w", id, err)
		}
	}
	return nil
}

// FileName is the file Record writes a workflow's history
// to: its id, escaped as a path segment ("job/shard-00001" ->
// "job%2Fshard-00001.json"), so that WorkflowID gets it back.
func FileName(workflowID string) string {
	return url.PathEscape(workflowID) + ".json"
}

// WorkflowID is the workflow id a history file written by
// Record was recorded under, from its name (a ".gz" suffix, for a
// compressed copy, is allowed).
func WorkflowID(path string) (string, error) {
	name := strings.TrimSuffix(filepath.Base(path), ".gz")
	if !strings.HasSuffix(name, ".json") {
		return "", fmt.Errorf("history file %s: name does not end in .json", path)
	}
	id, err := url.PathUnescape(strings.TrimSuffix(name, ".json"))
	if err != nil {
		return "", fmt.Errorf("history file %s: %w", path, err)
	}
	return id, nil
}

func historyJSON(ctx context.Context, c client.Client, workflowID string) ([]byte, error) {
	var hist historypb.History
	it := c.GetWorkflowHistory(ctx, workflowID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			return nil, fmt.Errorf("history of %s: %w", workflowID, err)
		}
		hist.Events = append(hist.Events, e)
	}
	if len(hist.Events) == 0 {
		return nil, fmt.Errorf("history of %s: no events", workflowID)
	}
	data, err := temporalproto.CustomJSONMarshalOptions{Indent: "  "}.Marshal(&hist)
	if err != nil {
		return nil, fmt.Errorf("encode history of %s: %w", workflowID, err)
	}
	return append(data, '\n'), nil
}
