package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/bucketferry/bucketferry/jobclient"
	"github.com/bucketferry/bucketferry/migration"
	"github.com/bucketferry/bucketferry/storage"
	"github.com/bucketferry/bucketferry/storage/local"
)

// writeFailureLog writes a failure log the way the activities do: JSON
// Lines objects under <prefix>failures/, one per page or large object.
func writeFailureLog(t *testing.T, st storage.Store, prefix string, objects, perObject int) []migration.Failure {
	t.Helper()
	ctx := context.Background()
	var all []migration.Failure
	for o := range objects {
		var buf bytes.Buffer
		for i := range perObject {
			f := migration.Failure{
				Key: fmt.Sprintf("photos/%05d/%d.jpg", o, i), Size: int64(o*10 + i), Reason: "not found: gone",
				Kind: "not found", Attempts: 1 + i%5, Shard: o % 7,
			}
			if o == 3 && i == 0 {
				f.Key = "odd, \"quoted\"\nkey 日本.txt"
				f.Reason = "forbidden (AccessDenied): \"no\", says the ACL"
			}
			all = append(all, f)
			json.NewEncoder(&buf).Encode(f)
		}
		key := fmt.Sprintf("%sfailures/shard-%05d/page-%06d.jsonl", prefix, o%7, o)
		if _, err := st.Put(ctx, key, bytes.NewReader(buf.Bytes()), int64(buf.Len()), storage.Metadata{}); err != nil {
			t.Fatal(err)
		}
	}
	return all
}

func failuresByKey(fs []migration.Failure) map[string]migration.Failure {
	m := make(map[string]migration.Failure, len(fs))
	for _, f := range fs {
		m[f.Key] = f
	}
	return m
}

// TestFailuresExport exports a failure log of more objects than one list
// page holds, as CSV and JSON Lines, through the sub-command with a
// configuration naming a local store: every failure comes out once, with
// every field, whatever its key holds.
func TestFailuresExport(t *testing.T) {
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "reports"), 0o755)
	st, err := local.New(filepath.Join(dir, "reports"))
	if err != nil {
		t.Fatal(err)
	}
	want := writeFailureLog(t, st, "bucketferry-reports/job-1/", 1003, 3)
	// Neither outside failures/ nor another job's log is exported.
	ctx := context.Background()
	for _, k := range []string{"bucketferry-reports/job-1/summary.json", "bucketferry-reports/job-10/failures/shard-00000/page-000000.jsonl"} {
		if _, err := st.Put(ctx, k, strings.NewReader("{}\n"), 3, storage.Metadata{}); err != nil {
			t.Fatal(err)
		}
	}
	cfgPath := filepath.Join(dir, "bucketferry.yaml")
	os.WriteFile(cfgPath, []byte(fmt.Sprintf("stores:\n  reports:\n    type: local\n    path: %q\n", filepath.Join(dir, "reports"))), 0o600)

	out := filepath.Join(dir, "failures.csv")
	var stdout bytes.Buffer
	err = runFailures(ctx, []string{"job-1", "-config", cfgPath, "-log", "reports:bucketferry-reports/job-1/", "-o", out}, &stdout)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout.String(), "wrote 3,009 failures of job job-1 from reports:bucketferry-reports/job-1/failures/ to "+out) {
		t.Errorf("summary: %s", stdout.String())
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(rows[0], ",") != "key,size,reason,kind,attempts,shard" {
		t.Errorf("header %q", rows[0])
	}
	byKey := failuresByKey(want)
	seen := map[string]bool{}
	for _, r := range rows[1:] {
		w, ok := byKey[r[0]]
		if !ok || seen[r[0]] {
			t.Fatalf("row %q: unknown or repeated key", r)
		}
		seen[r[0]] = true
		size, _ := strconv.ParseInt(r[1], 10, 64)
		attempts, _ := strconv.Atoi(r[4])
		shard, _ := strconv.Atoi(r[5])
		if got := (migration.Failure{Key: r[0], Size: size, Reason: r[2], Kind: r[3], Attempts: attempts, Shard: shard}); got != w {
			t.Fatalf("row %+v, want %+v", got, w)
		}
	}
	if len(seen) != len(want) {
		t.Errorf("exported %d failures, want %d", len(seen), len(want))
	}
	if matches, _ := filepath.Glob(filepath.Join(dir, ".failures.csv.tmp-*")); len(matches) > 0 {
		t.Errorf("temporary files left: %v", matches)
	}

	// JSON Lines to standard output.
	stdout.Reset()
	if err := runFailures(ctx, []string{"-config", cfgPath, "-format", "jsonl", "-log", "reports:bucketferry-reports/job-1/", "job-1"}, &stdout); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(&stdout)
	n := 0
	for sc.Scan() {
		var got migration.Failure
		if err := json.Unmarshal(sc.Bytes(), &got); err != nil {
			t.Fatalf("line %d: %v", n+1, err)
		}
		if got != byKey[got.Key] {
			t.Fatalf("line %+v, want %+v", got, byKey[got.Key])
		}
		n++
	}
	if n != len(want) {
		t.Errorf("%d JSON lines, want %d", n, len(want))
	}
}

func TestFailuresExportEmptyAndCorrupt(t *testing.T) {
	ctx := context.Background()
	st, err := local.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	n, err := jobclient.ExportFailures(ctx, st, "r/failures/", jobclient.NewFailureSink("csv", &out))
	if err != nil || n != 0 || out.String() != "key,size,reason,kind,attempts,shard\n" {
		t.Errorf("empty log: %d %v %q", n, err, out.String())
	}

	body := "{\"key\":\"a\",\"size\":1}\nnot json\n"
	st.Put(ctx, "r/failures/shard-00000/page-000000.jsonl", strings.NewReader(body), int64(len(body)), storage.Metadata{})
	out.Reset()
	_, err = jobclient.ExportFailures(ctx, st, "r/failures/", jobclient.NewFailureSink("jsonl", &out))
	if err == nil || !strings.Contains(err.Error(), "page-000000.jsonl") || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("corrupt line: %v", err)
	}

	// A failed export leaves no output file behind, nor a partial one.
	path := filepath.Join(t.TempDir(), "f.csv")
	if _, err := exportToFile(ctx, st, "r/failures/", "csv", path); err == nil {
		t.Error("corrupt log exported")
	}
	if entries, _ := os.ReadDir(filepath.Dir(path)); len(entries) != 0 {
		t.Errorf("files left after a failed export: %v", entries)
	}

	if err := runFailures(ctx, []string{"-format", "xml", "job"}, &out); err == nil {
		t.Error("-format xml accepted")
	}
}
