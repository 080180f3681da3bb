package histories

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRecordKeepsTheCorpus: a workflow id with a file in the corpus, plain
// or gzipped, is refused before any history is fetched (the client is nil).
func TestRecordKeepsTheCorpus(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"job-a.json", "job-b%2Fshard-00000.json.gz"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("{}"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range []string{"job-a", "job-b/shard-00000"} {
		err := Record(context.Background(), nil, dir, id)
		if err == nil || !strings.Contains(err.Error(), "in the corpus already") {
			t.Errorf("Record(%s) = %v, want it refused", id, err)
		}
	}
	// A new id listed before a recorded one is not written either.
	if err := Record(context.Background(), nil, dir, "job-new", "job-a"); err == nil {
		t.Error("Record(job-new, job-a) was not refused")
	}
	if _, err := os.Stat(filepath.Join(dir, FileName("job-new"))); !os.IsNotExist(err) {
		t.Errorf("job-new was written beside a refused id (stat: %v)", err)
	}
}
