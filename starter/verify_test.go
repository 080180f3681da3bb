package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/bucketferry/bucketferry/config"
	"github.com/bucketferry/bucketferry/emulator"
	"github.com/bucketferry/bucketferry/internal/storecheck"
	"github.com/bucketferry/bucketferry/jobclient"
	"github.com/bucketferry/bucketferry/migration"
	"github.com/bucketferry/bucketferry/storage"
	"github.com/bucketferry/bucketferry/verify"
)

const (
	verifySrcBucket = "source"
	verifyDstBucket = "destination-1250000000"
)

// storesEnv is the OSS and COS emulators with a generated source under
// data/ copied to the destination under moved/, and a configuration file
// naming them src and dst.
type storesEnv struct {
	emu     *emulator.Server
	cfgPath string
	keys    []string
}

func newStoresEnv(t *testing.T, objects int) *storesEnv {
	t.Helper()
	emu, err := emulator.Start(emulator.Config{
		OSSCredentials: map[string]string{"oss-ak": "oss-secret"},
		COSCredentials: map[string]string{"cos-id": "cos-key"},
		Buckets:        []string{verifySrcBucket, verifyDstBucket},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emu.Close() })
	b := emu.Backend
	if _, err := emulator.Generate(b, verifySrcBucket, emulator.DataSet{Objects: objects, MaxSize: 4000, Prefix: "data/", Seed: 3}); err != nil {
		t.Fatal(err)
	}
	e := &storesEnv{emu: emu, keys: b.Keys(verifySrcBucket)}
	for _, k := range e.keys {
		o, _ := b.Object(verifySrcBucket, k)
		if _, err := b.AddObject(verifyDstBucket, movedKey(k), o.Body, o.Meta); err != nil {
			t.Fatal(err)
		}
	}
	// A failure log of an earlier job at the destination is no extra object.
	if _, err := b.PutObject(verifyDstBucket, "bucketferry-reports/job-1/failures/x.jsonl", strings.NewReader("{}\n"), 3, emulator.Meta{}, nil); err != nil {
		t.Fatal(err)
	}
	e.cfgPath = filepath.Join(t.TempDir(), "bucketferry.yaml")
	yaml := fmt.Sprintf(`stores:
  src:
    type: oss
    endpoint: %q
    bucket: %s
    accessKeyId: oss-ak
    accessKeySecret: oss-secret
  dst:
    type: cos
    endpoint: %q
    bucket: %s
    region: ap-guangzhou
    secretId: cos-id
    secretKey: cos-key
`, emu.OSSURL(), verifySrcBucket, emu.COSURL(), verifyDstBucket)
	if err := os.WriteFile(e.cfgPath, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return e
}

func movedKey(k string) string { return "moved/" + strings.TrimPrefix(k, "data/") }

// plainKey is the i-th source key without spaces or a .log extension.
func (e *storesEnv) plainKey(t *testing.T, i int) string {
	t.Helper()
	for _, k := range e.keys {
		if o, _ := e.emu.Backend.Object(verifySrcBucket, k); o.Size > 0 && !strings.HasSuffix(k, ".log") && !strings.ContainsAny(k, " %+~") {
			if i == 0 {
				return k
			}
			i--
		}
	}
	t.Fatal("not enough keys")
	return ""
}

// damage corrupts (same size, other bytes), deletes and adds one object at
// the destination and returns the keys concerned.
func (e *storesEnv) damage(t *testing.T) (corrupt, deleted, extra string) {
	t.Helper()
	b := e.emu.Backend
	corrupt, deleted = e.plainKey(t, 0), e.plainKey(t, 3)
	o, _ := b.Object(verifyDstBucket, movedKey(corrupt))
	if _, err := b.AddObject(verifyDstBucket, movedKey(corrupt), emulator.GeneratedBlob(12345, o.Size), o.Meta); err != nil {
		t.Fatal(err)
	}
	if err := b.DeleteObject(verifyDstBucket, movedKey(deleted)); err != nil {
		t.Fatal(err)
	}
	if _, err := b.PutObject(verifyDstBucket, "moved/zz/extra.bin", strings.NewReader("extra"), 5, emulator.Meta{}, nil); err != nil {
		t.Fatal(err)
	}
	return corrupt, deleted, "data/zz/extra.bin"
}

// writes counts the requests that would change either bucket.
func (e *storesEnv) writes() int64 {
	var n int64
	for _, s := range []emulator.FaultStats{e.emu.OSSFaults.Stats(), e.emu.COSFaults.Stats()} {
		n += s.ByMethod["PUT"] + s.ByMethod["POST"] + s.ByMethod["DELETE"]
	}
	return n
}

func runVerifyCmd(t *testing.T, args ...string) (string, string, int, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	err := verifyCommand(ctx, args, strings.NewReader(""), &stdout, &stderr)
	return stdout.String(), stderr.String(), exitCode(err), err
}

// TestVerifyCommand runs verify against the emulators through a
// configuration: exit 0 and an empty list when the copy is whole; exit 3
// and each damaged key, in CSV or JSON Lines, to standard output or a file,
// with the job's filters applied.
func TestVerifyCommand(t *testing.T) {
	e := newStoresEnv(t, 80)
	scope := []string{"-config", e.cfgPath, "-source", "src:data/", "-destination", "dst:moved/"}

	stdout, stderr, code, err := runVerifyCmd(t, append(scope, "-format", "jsonl")...)
	if code != 0 || err != nil || stdout != "" || !strings.Contains(stderr, "equal:        80\n") ||
		!strings.Contains(stderr, "extra:        0\n") || !strings.Contains(stderr, "verified src:data/ -> dst:moved/") {
		t.Fatalf("whole copy: exit %d, %v\nstdout %q\nstderr:\n%s", code, err, stdout, stderr)
	}

	corrupt, deleted, extra := e.damage(t)
	before := e.writes()
	stdout, stderr, code, err = runVerifyCmd(t, scope...)
	if code != exitCompletedWithFailure || err == nil || !strings.Contains(err.Error(), "verify found 3 differences") {
		t.Errorf("damaged: exit %d, %v", code, err)
	}
	rows, cerr := csv.NewReader(strings.NewReader(stdout)).ReadAll()
	if cerr != nil || len(rows) != 4 || strings.Join(rows[0], ",") != "key,kind,dest_key,source_size,dest_size,reason" {
		t.Fatalf("CSV %q: %v", stdout, cerr)
	}
	kinds := map[string]string{}
	for _, r := range rows[1:] {
		kinds[r[0]] = r[1]
		switch r[1] {
		case "missing":
			if r[2] != movedKey(deleted) || r[3] == "" || r[4] != "" {
				t.Errorf("missing row %q", r)
			}
		case "differing":
			if r[3] != r[4] || !strings.Contains(r[5], "crc64") {
				t.Errorf("differing row %q", r)
			}
		case "extra":
			if r[2] != "moved/zz/extra.bin" || r[3] != "" || r[4] != "5" {
				t.Errorf("extra row %q", r)
			}
		}
	}
	if want := map[string]string{corrupt: "differing", deleted: "missing", extra: "extra"}; !equalMaps(kinds, want) {
		t.Errorf("kinds %v, want %v", kinds, want)
	}
	for _, want := range []string{"equal:        78\n", "missing:      1 (", "differing:    1 (", "extra:        1\n"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("summary lacks %q:\n%s", want, stderr)
		}
	}
	if e.writes() != before {
		t.Error("verify wrote to a bucket")
	}

	// To a file, as JSON Lines, the corrupted key excluded by a filter:
	// the summary goes to standard output.
	out := filepath.Join(t.TempDir(), "diffs.jsonl")
	stdout, _, code, err = runVerifyCmd(t, append(scope, "-format", "jsonl", "-output", out, "-exclude", filepath.Base(corrupt))...)
	if code != exitCompletedWithFailure || !strings.Contains(stdout, "diff list:    "+out) || !strings.Contains(stdout, "equal:        78\n") {
		t.Errorf("to a file: exit %d, %v\n%s", code, err, stdout)
	}
	data, rerr := os.ReadFile(out)
	if rerr != nil {
		t.Fatal(rerr)
	}
	var got []verify.Diff
	for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var d verify.Diff
		if err := json.Unmarshal([]byte(l), &d); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		got = append(got, d)
	}
	if len(got) != 2 || got[0].Key != deleted || got[0].Kind != verify.Missing || got[1].Key != extra || got[1].Kind != verify.Extra {
		t.Errorf("JSON diffs %+v", got)
	}

	// The spec file gives the scope; an include narrows it to nothing
	// damaged.
	specPath := filepath.Join(t.TempDir(), "spec.json")
	spec := fmt.Sprintf(`{"source":{"store":"src","prefix":"data/"},"destination":{"store":"dst","prefix":"moved/"},"filters":{"include":[%q]}}`,
		"**/*.never")
	if err := os.WriteFile(specPath, []byte(spec), 0o600); err != nil {
		t.Fatal(err)
	}
	_, stderr, code, err = runVerifyCmd(t, "-config", e.cfgPath, "-spec", specPath)
	if code != 0 || !strings.Contains(stderr, "source:       0 objects") {
		t.Errorf("spec with include: exit %d, %v\n%s", code, err, stderr)
	}

	for _, bad := range [][]string{
		append(scope, "-format", "xml"),
		{"-config", e.cfgPath, "-source", "nosuch:x/", "-destination", "dst:moved/"},
		{"-config", e.cfgPath, "-spec", specPath, "-job-id", "job-1"},
		append(scope, "extra-arg"),
	} {
		if _, _, code, err := runVerifyCmd(t, bad...); code != exitFailed || err == nil {
			t.Errorf("%q: exit %d, %v", bad, code, err)
		}
	}
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// historyClient serves a workflow history for jobSpecOf.
type historyClient struct {
	jobclient.Client
	events []*historypb.HistoryEvent
	err    error
}

func (c historyClient) GetWorkflowHistory(context.Context, string, string, bool, enumspb.HistoryEventFilterType) client.HistoryEventIterator {
	return &eventIterator{events: c.events, err: c.err}
}

type eventIterator struct {
	events []*historypb.HistoryEvent
	err    error
}

func (it *eventIterator) HasNext() bool { return it.err != nil || len(it.events) > 0 }

func (it *eventIterator) Next() (*historypb.HistoryEvent, error) {
	if it.err != nil {
		return nil, it.err
	}
	ev := it.events[0]
	it.events = it.events[1:]
	return ev, nil
}

// TestJobSpecOf reads a job's spec from the start event of its history,
// as -job-id does.
func TestJobSpecOf(t *testing.T) {
	spec := migration.JobSpec{
		Source: migration.Location{Store: "src", Prefix: "data/"}, Destination: migration.Location{Store: "dst", Prefix: "moved/"},
		Filters: migration.Filters{Exclude: []string{"*.tmp"}}, Conflict: migration.SkipIdentical,
	}
	payloads, err := converter.GetDefaultDataConverter().ToPayloads(migration.JobInput{Spec: spec, State: &migration.JobState{Runs: 2}})
	if err != nil {
		t.Fatal(err)
	}
	start := &historypb.HistoryEvent{
		EventType: enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED,
		Attributes: &historypb.HistoryEvent_WorkflowExecutionStartedEventAttributes{
			WorkflowExecutionStartedEventAttributes: &historypb.WorkflowExecutionStartedEventAttributes{Input: payloads},
		},
	}
	got, err := jobclient.SpecOf(context.Background(), historyClient{events: []*historypb.HistoryEvent{start}}, "job-1")
	if err != nil || got.Source != spec.Source || got.Destination != spec.Destination || got.Conflict != spec.Conflict ||
		!slices.Equal(got.Filters.Exclude, spec.Filters.Exclude) {
		t.Errorf("spec %+v, %v", got, err)
	}
	_, err = jobclient.SpecOf(context.Background(), historyClient{err: serviceerror.NewNotFound("no such workflow")}, "job-2")
	if err == nil || err.Error() != `job "job-2" not found` {
		t.Errorf("unknown job: %v", err)
	}
	other := &historypb.HistoryEvent{EventType: enumspb.EVENT_TYPE_TIMER_FIRED}
	if _, err := jobclient.SpecOf(context.Background(), historyClient{events: []*historypb.HistoryEvent{other}}, "job-3"); err == nil {
		t.Error("history without a start event accepted")
	}
}

// TestPlanCommand is the dry run against the emulators: the planner's
// shards partition the scope, each shard's figures add up to the totals,
// the conflict policy decides what would be copied, and nothing is written.
func TestPlanCommand(t *testing.T) {
	e := newStoresEnv(t, 150)
	corrupt, deleted, _ := e.damage(t)
	specPath := filepath.Join(t.TempDir(), "spec.json")
	spec := `{"source":{"store":"src","prefix":"data/"},"destination":{"store":"dst","prefix":"moved/"},"pageSize":10,"shards":5}`
	if err := os.WriteFile(specPath, []byte(spec), 0o600); err != nil {
		t.Fatal(err)
	}
	before := e.writes()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	var srcBytes, deletedBytes, corruptBytes int64
	for _, k := range e.keys {
		o, _ := e.emu.Backend.Object(verifySrcBucket, k)
		srcBytes += o.Size
		switch k {
		case deleted:
			deletedBytes = o.Size
		case corrupt:
			corruptBytes = o.Size
		}
	}

	cfg, err := config.Load(e.cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := decodeSpec([]byte(spec))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		policy  migration.ConflictPolicy
		copies  int64
		bytes   int64
		compare bool
	}{
		{migration.Overwrite, 150, srcBytes, true},
		{migration.Skip, 1, deletedBytes, true},
		{migration.SkipIdentical, 2, deletedBytes + corruptBytes, true},
		{migration.SkipIdentical, 0, 0, false},
	} {
		parsed.Conflict = c.policy
		full, plans, err := jobclient.DryRun(ctx, parsed, cfg, c.compare, 4)
		if err != nil {
			t.Fatalf("%s: %v", c.policy, err)
		}
		if full.Conflict != c.policy || len(plans) < 2 {
			t.Errorf("%s: %d shards", c.policy, len(plans))
		}
		var objects, bytes, copies, copyBytes int64
		for i, p := range plans {
			if p.Shard.Index != i || p.Objects == 0 {
				t.Errorf("%s: shard %d: %+v", c.policy, i, p)
			}
			objects += p.Objects
			bytes += p.Bytes
			copies += p.Copies
			copyBytes += p.CopyBytes
		}
		if objects != 150 || bytes != srcBytes || copies != c.copies || copyBytes != c.bytes {
			t.Errorf("%s compare=%v: %d objects %d bytes, %d copies %d bytes; want 150 %d, %d %d",
				c.policy, c.compare, objects, bytes, copies, copyBytes, srcBytes, c.copies, c.bytes)
		}
	}

	// The command prints the table and its totals.
	var out bytes.Buffer
	err = planCommand(ctx, []string{"-config", e.cfgPath, "-spec", specPath, "-conflict", "skip"}, strings.NewReader(""), &out)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimRight(out.String(), "\n"), "\n")
	last := strings.Fields(lines[len(lines)-1])
	if !strings.HasPrefix(lines[0], "dry run of src:data/ -> dst:moved/: ") || !strings.Contains(lines[0], "conflict policy skip; nothing was written") ||
		!strings.Contains(out.String(), "TO COPY") || len(last) < 5 || last[0] != "total" || last[1] != "150" || last[4] != "1" {
		t.Errorf("table:\n%s", out.String())
	}
	if !strings.Contains(out.String(), `(start, "data/`) || !strings.Contains(out.String(), `", end)`) {
		t.Errorf("shard ranges:\n%s", out.String())
	}
	out.Reset()
	if err := planCommand(ctx, []string{"-config", e.cfgPath, "-spec", specPath, "-compare=false"}, strings.NewReader(""), &out); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), "TO COPY") || !strings.Contains(out.String(), "total") {
		t.Errorf("without compare:\n%s", out.String())
	}
	if e.writes() != before {
		t.Errorf("the dry run wrote %d times", e.writes()-before)
	}
}

func TestShardRange(t *testing.T) {
	for _, c := range []struct {
		sh   migration.Shard
		want string
	}{
		{migration.Shard{}, "(start, end)"},
		{migration.Shard{After: "a/b", Before: "c\x00"}, `("a/b", "c"]`},
		{migration.Shard{Before: "c"}, `(start, "c")`},
	} {
		if got := shardRange(c.sh); got != c.want {
			t.Errorf("%+v: %s, want %s", c.sh, got, c.want)
		}
	}
}

// TestVerifyJobID takes the scope from a job started on a real Temporal
// server (its workflow's input), with the stores of the configuration.
func TestVerifyJobID(t *testing.T) {
	e := newServerEnv(t)
	out, code, err := e.cmd(t, runStart, "-source", "reports:done/", "-destination", "reports:copy/", "-exclude", "*.tmp",
		"-job-id", "job-v", "-detach", "-search-attributes=false")
	if err != nil || code != 0 {
		t.Fatalf("start: exit %d, %v\n%s", code, err, out)
	}
	ctx := context.Background()
	put := func(key, body string) {
		t.Helper()
		if _, err := e.reports.Put(ctx, key, strings.NewReader(body), int64(len(body)), storage.Metadata{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, k := range []string{"a.txt", "b.txt", "c.txt", "d.tmp"} {
		put("done/"+k, "body of "+k)
	}
	put("copy/a.txt", "body of a.txt")
	put("copy/b.txt", "BODY of b.txt")

	stdout, stderr, code, err := runVerifyCmd(t, "-config", e.cfgPath, "-job-id", "job-v")
	if code != exitCompletedWithFailure {
		t.Fatalf("exit %d, %v\n%s", code, err, stderr)
	}
	rows, err := csv.NewReader(strings.NewReader(stdout)).ReadAll()
	if err != nil || len(rows) != 3 || rows[1][0] != "done/b.txt" || rows[1][1] != "differing" || rows[2][0] != "done/c.txt" || rows[2][1] != "missing" {
		t.Errorf("diffs %q: %v", rows, err)
	}
	if !strings.Contains(stderr, "verified reports:done/ -> reports:copy/") {
		t.Errorf("summary:\n%s", stderr)
	}

	// Flags still override the job's spec.
	_, stderr, code, _ = runVerifyCmd(t, "-config", e.cfgPath, "-job-id", "job-v", "-include", "a.txt")
	if code != 0 || !strings.Contains(stderr, "equal:        1\n") {
		t.Errorf("with -include: exit %d\n%s", code, stderr)
	}
	if _, _, code, err := runVerifyCmd(t, "-config", e.cfgPath, "-job-id", "no-such-job"); code != exitFailed || err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("unknown job: exit %d, %v", code, err)
	}
}

// TestDryRunRefusesWhatTheJobWould: a dry run checks the stores as the
// Plan activity does (package storecheck), so a URL-list destination and a
// source with bad credentials fail it with the job's messages and fixes,
// before anything is listed.
func TestDryRunRefusesWhatTheJobWould(t *testing.T) {
	e := newStoresEnv(t, 10)
	dir := t.TempDir()
	urls := filepath.Join(dir, "urls.txt")
	if err := os.WriteFile(urls, []byte("https://example.invalid/a\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	base, err := os.ReadFile(e.cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "bucketferry.yaml")
	extra := fmt.Sprintf(`  urls:
    type: urllist
    manifest: %q
  badsrc:
    type: oss
    endpoint: %q
    bucket: %s
    accessKeyId: oss-ak
    accessKeySecret: wrong-secret
`, urls, e.emu.OSSURL(), verifySrcBucket)
	if err := os.WriteFile(cfgPath, append(base, extra...), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	run := func(t *testing.T, js string) error {
		t.Helper()
		spec, err := decodeSpec([]byte(js))
		if err != nil {
			t.Fatal(err)
		}
		_, plans, err := jobclient.DryRun(ctx, spec, cfg, true, 2)
		if err == nil {
			t.Fatalf("dry run planned %d shards; want an error", len(plans))
		}
		return err
	}
	name := func(store string) string {
		st, err := cfg.Store(store)
		if err != nil {
			t.Fatal(err)
		}
		return st.Name()
	}

	t.Run("url-list destination", func(t *testing.T) {
		err := run(t, `{"source":{"store":"src","prefix":"data/"},"destination":{"store":"urls"}}`)
		want := fmt.Sprintf(`plan: destination store "urls" (%s) cannot be used: it is read-only (a URL list can only be a source); `+
			`name an oss, cos, s3 or local store as the destination`, name("urls"))
		if err.Error() != want {
			t.Errorf("error:\n got %s\nwant %s", err, want)
		}
	})

	t.Run("bad source credentials", func(t *testing.T) {
		err := run(t, `{"source":{"store":"badsrc","prefix":"data/"},"destination":{"store":"dst","prefix":"moved/"}}`)
		// The middle is the store's own error (the emulator's wording).
		prefix := fmt.Sprintf(`plan: source store "badsrc" (%s) cannot be used: `, name("badsrc"))
		suffix := `; check the credentials configured for store "badsrc" on the workers and that they may use the bucket`
		if msg := err.Error(); !strings.HasPrefix(msg, prefix) || !strings.HasSuffix(msg, suffix) {
			t.Errorf("error:\n got %s\nwant %s...%s", msg, prefix, suffix)
		}
		var u *storecheck.UnusableError
		if !errors.As(err, &u) || storage.KindOf(err) != storage.KindAccessDenied {
			t.Errorf("error %v is not an unusable store denied access (kind %v)", err, storage.KindOf(err))
		}
	})
}
