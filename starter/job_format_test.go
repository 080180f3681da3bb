package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/bucketferry/bucketferry/jobclient"
	"github.com/bucketferry/bucketferry/migration"
)

func TestFormatCount(t *testing.T) {
	for n, want := range map[int64]string{
		0: "0", 7: "7", 999: "999", 1000: "1,000", 123456: "123,456", 1234567: "1,234,567",
		-1234: "-1,234", 1e12: "1,000,000,000,000",
	} {
		if got := formatCount(n); got != want {
			t.Errorf("formatCount(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestFormatRates(t *testing.T) {
	for _, c := range []struct {
		got, want string
	}{
		{formatByteRate(0), "0 B/s"},
		{formatByteRate(512), "512 B/s"},
		{formatByteRate(85.3 * (1 << 20)), "85.3 MiB/s"},
		{formatByteRate(1.5 * (1 << 30)), "1.5 GiB/s"},
		{formatObjectRate(0), "0 objects/s"},
		{formatObjectRate(2.25), "2.2 objects/s"},
		{formatObjectRate(1234.4), "1,234 objects/s"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}

func TestFormatDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		-time.Second:                     "0s",
		0:                                "0s",
		1499 * time.Millisecond:          "1s",
		59 * time.Second:                 "59s",
		65 * time.Second:                 "1m05s",
		59*time.Minute + 59*time.Second:  "59m59s",
		time.Hour + 2*time.Minute + 29e9: "1h02m",
		23*time.Hour + 59*time.Minute:    "23h59m",
		50 * time.Hour:                   "2d02h",
	} {
		if got := formatDuration(d); got != want {
			t.Errorf("formatDuration(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestEstimateRemaining(t *testing.T) {
	if d, ok := jobclient.EstimateRemaining(migration.ShardCounts{Total: 64, Done: 16}, time.Hour); !ok || d != 3*time.Hour {
		t.Errorf("16 of 64 shards in 1h: got %v %v, want 3h", d, ok)
	}
	for _, s := range []migration.ShardCounts{{}, {Total: 10}, {Total: 10, Done: 10}} {
		if _, ok := jobclient.EstimateRemaining(s, time.Hour); ok {
			t.Errorf("%+v: an ETA without a basis", s)
		}
	}
}

func TestLocation(t *testing.T) {
	for in, want := range map[string]migration.Location{
		"src":              {Store: "src"},
		"src:":             {Store: "src"},
		"src:photos/":      {Store: "src", Prefix: "photos/"},
		"src:a:b/c":        {Store: "src", Prefix: "a:b/c"},
		"dst:bucket-x/日本/": {Store: "dst", Prefix: "bucket-x/日本/"},
	} {
		got, err := parseLocation(in)
		if err != nil || got != want {
			t.Errorf("parseLocation(%q) = %+v, %v; want %+v", in, got, err, want)
		}
		if back, _ := parseLocation(formatLocation(got)); back != got {
			t.Errorf("%q does not round-trip: %+v", in, back)
		}
	}
	for _, in := range []string{"", ":prefix"} {
		if _, err := parseLocation(in); err == nil {
			t.Errorf("parseLocation(%q) accepted", in)
		}
	}
}

func TestTruncate(t *testing.T) {
	if got := truncate("héllo wörld", 6); got != "héllo…" {
		t.Errorf("got %q", got)
	}
	if got := truncate("short", 10); got != "short" {
		t.Errorf("got %q", got)
	}
}

// TestShellQuote checks quoting against a real shell: what is printed must
// come back as the same word.
func TestShellQuote(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Fatalf("no sh: %v", err)
	}
	words := []string{"", "plain", "a b", `it's`, `{"spec":{"source":{"store":"src","prefix":"it's $HOME/*"}}}`, "back\\slash", "new\nline", "日本語", "src:a/ -> dst:"}
	var script strings.Builder
	for _, w := range words {
		fmt.Fprintf(&script, "printf '%%s\\0' %s\n", shellQuote(w))
	}
	out, err := exec.Command(sh, "-c", script.String()).Output()
	if err != nil {
		t.Fatalf("sh: %v\n%s", err, script.String())
	}
	got := strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00")
	if len(got) != len(words) {
		t.Fatalf("got %d words, want %d: %q", len(got), len(words), got)
	}
	for i := range words {
		if got[i] != words[i] {
			t.Errorf("word %d: shell read %q, want %q (quoted %s)", i, got[i], words[i], shellQuote(words[i]))
		}
	}
	if shellQuote("job-20261124-101010-ab12") != "job-20261124-101010-ab12" {
		t.Error("a plain word should not be quoted")
	}
}

func TestNewJobID(t *testing.T) {
	now := time.Date(2026, 11, 24, 19, 40, 5, 0, time.FixedZone("X", 8*3600))
	id := jobclient.NewJobID(now)
	if !regexp.MustCompile(`^job-20261124-114005-[0-9a-f]{4}$`).MatchString(id) {
		t.Errorf("job id %q", id)
	}
	if jobclient.NewJobID(now) == id && jobclient.NewJobID(now) == id {
		t.Error("job ids of the same second do not differ")
	}
}

func TestExitCode(t *testing.T) {
	if exitCode(nil) != 0 || exitCode(errors.New("x")) != 1 {
		t.Error("plain errors")
	}
	ok := outcomeError("j", jobclient.Outcome{Result: migration.JobResult{Status: migration.StatusSucceeded}})
	partial := outcomeError("j", jobclient.Outcome{Result: migration.JobResult{Status: migration.StatusCompletedWithFailures, Counts: migration.Counts{Failed: 1234}}})
	failed := outcomeError("j", jobclient.Outcome{Err: errors.New("boom")})
	if exitCode(ok) != 0 || exitCode(partial) != 3 || exitCode(failed) != 1 {
		t.Errorf("exit codes %d %d %d", exitCode(ok), exitCode(partial), exitCode(failed))
	}
	if exitCode(fmt.Errorf("wrapped: %w", partial)) != 3 {
		t.Error("a wrapped exit error loses its code")
	}
	if !strings.Contains(partial.Error(), "1,234 failed objects") {
		t.Errorf("message %q", partial)
	}
}

func TestParseInterleaved(t *testing.T) {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	watch := fs.Bool("watch", false, "")
	cfg := fs.String("config", "", "")
	id, err := jobArg(fs, []string{"-config", "c.yaml", "job-1", "-watch"})
	if err != nil || id != "job-1" || !*watch || *cfg != "c.yaml" {
		t.Errorf("got %q %v %v %q", id, err, *watch, *cfg)
	}
	fs = flag.NewFlagSet("wait", flag.ContinueOnError)
	fs.SetOutput(&bytes.Buffer{})
	if _, err := jobArg(fs, []string{"a", "b"}); err == nil {
		t.Error("two job ids accepted")
	}
	if _, err := jobArg(fs, nil); err == nil {
		t.Error("no job id accepted")
	}
}

func parseStart(t *testing.T, args ...string) (migration.JobSpec, error) {
	t.Helper()
	fs := flag.NewFlagSet("start", flag.ContinueOnError)
	fs.SetOutput(&bytes.Buffer{})
	var f startFlags
	f.register(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return f.buildSpec(fs, strings.NewReader(""))
}

func TestBuildSpec(t *testing.T) {
	dir := t.TempDir()
	specPath := filepath.Join(dir, "spec.json")
	os.WriteFile(specPath, []byte(`{
		"source": {"store": "oss-prod", "prefix": "photos/"},
		"destination": {"store": "cos-main"},
		"filters": {"include": ["*.jpg"], "exclude": ["tmp/"]},
		"conflict": "skip",
		"shards": 128,
		"concurrency": {"shards": 4}
	}`), 0o644)

	spec, err := parseStart(t, "-spec", specPath)
	if err != nil {
		t.Fatal(err)
	}
	if spec.Source != (migration.Location{Store: "oss-prod", Prefix: "photos/"}) || spec.Shards != 128 || spec.Concurrency.Shards != 4 ||
		spec.Conflict != migration.Skip || len(spec.Filters.Include) != 1 {
		t.Errorf("spec from file: %+v", spec)
	}

	// Flags override the fields they set and leave the others.
	spec, err = parseStart(t, "-spec", specPath, "-destination", "cos-b:backup/", "-include", "*.png", "-include", "*.gif",
		"-conflict", "skip-identical", "-storage-class", "STANDARD_IA", "-shards", "8")
	if err != nil {
		t.Fatal(err)
	}
	if spec.Destination != (migration.Location{Store: "cos-b", Prefix: "backup/"}) || spec.Source.Store != "oss-prod" ||
		strings.Join(spec.Filters.Include, ",") != "*.png,*.gif" || strings.Join(spec.Filters.Exclude, ",") != "tmp/" ||
		spec.Conflict != migration.SkipIdentical || spec.StorageClass != "STANDARD_IA" || spec.Shards != 8 || spec.Concurrency.Shards != 4 {
		t.Errorf("spec with flags: %+v", spec)
	}

	// Flags alone make a spec.
	spec, err = parseStart(t, "-source", "a", "-destination", "b:x/")
	if err != nil || spec.Source.Store != "a" || spec.Destination.Prefix != "x/" {
		t.Errorf("flags only: %+v %v", spec, err)
	}

	// Invalid specs are refused with every problem named, before anything
	// is contacted.
	_, err = parseStart(t, "-source", "a", "-conflict", "replace", "-shards", "-3")
	for _, want := range []string{"destination.store", "conflict", "shards"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not name %s", err, want)
		}
	}
	os.WriteFile(specPath, []byte(`{"source": {"store": "a"}, "destination": {"store": "b"}, "conflic": "skip"}`), 0o644)
	if _, err := parseStart(t, "-spec", specPath); err == nil || !strings.Contains(err.Error(), "conflic") {
		t.Errorf("misspelt field: %v", err)
	}
	if _, err := parseStart(t, "-source", ":x", "-destination", "b"); err == nil {
		t.Error("empty store name accepted")
	}

	// "-spec -" reads standard input.
	fs := flag.NewFlagSet("start", flag.ContinueOnError)
	var f startFlags
	f.register(fs)
	fs.Parse([]string{"-spec", "-", "-storage-class", "ARCHIVE"})
	spec, err = f.buildSpec(fs, strings.NewReader(`{"source":{"store":"a"},"destination":{"store":"b"},"maxAttempts":3}`))
	if err != nil || spec.MaxAttempts != 3 || spec.StorageClass != "ARCHIVE" {
		t.Errorf("spec from stdin: %+v %v", spec, err)
	}
}

func sampleProgress() migration.Progress {
	return migration.Progress{
		Status: migration.StatusRunning,
		Shards: migration.ShardCounts{Total: 64, Done: 16, Running: 16, Pending: 32},
		Counts: migration.Counts{Copied: 123456, BytesCopied: 45 << 30, Skipped: 1234, BytesSkipped: 2 << 30,
			Failed: 12, BytesFailed: 3 << 20, BytesSent: 46 << 30},
		BytesPerSecond:   85.3 * (1 << 20),
		ObjectsPerSecond: 1234,
		Started:          time.Date(2026, 11, 24, 18, 0, 0, 0, time.UTC),
		FailureSample: []migration.Failure{
			{Key: "photos/a.jpg", Size: 4 << 20, Reason: "not found", Kind: "not found", Attempts: 1},
			{Key: "photos/b.jpg", Size: 1 << 10, Reason: "source changed", Kind: "source changed", Attempts: 5},
		},
		FailureLog: migration.Location{Store: "dst", Prefix: "bucketferry-reports/job-1/"},
	}
}

func TestRenderProgress(t *testing.T) {
	v := jobView{id: "job-1", now: time.Date(2026, 11, 24, 19, 0, 0, 0, time.UTC), hints: hints{job: "job-1", configPath: "w.yaml"}}
	p := sampleProgress()
	p.Fleet = &migration.Fleet{Workers: 3, Slots: 48, Used: 40}
	p.Window, p.Activities = 60, 55
	v.progress = &p
	got := strings.Join(renderProgress(v), "\n")
	for _, want := range []string{
		"job job-1: running",
		"workers   3 with 48 activity slots (40 busy); window 60 pages, 55 activities in flight",
		"shards    16 of 64 done, 16 running, 32 pending",
		"copied    123,456 objects, 45.0 GiB",
		"skipped   1,234 objects, 2.0 GiB",
		"failed    12 objects, 3.0 MiB",
		"sent      46.0 GiB (1.0 GiB more than copied",
		"rate      85.3 MiB/s, 1,234 objects/s",
		"elapsed   1h00m, ETA ~3h00m (from shards done)",
		"every one is listed under dst:bucketferry-reports/job-1/failures/",
		"export: starter failures -format csv -o failures.csv -config w.yaml job-1",
		`"photos/b.jpg" (1.0 KiB): source changed [5 attempts]`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("display lacks %q:\n%s", want, got)
		}
	}

	line := progressLine(v)
	for _, want := range []string{"running", "shards 16/64 done", "workers 3 (48 slots)", "copied 123,456 (45.0 GiB)", "failed 12", "85.3 MiB/s", "ETA ~3h00m"} {
		if !strings.Contains(line, want) {
			t.Errorf("line lacks %q: %s", want, line)
		}
	}
	if strings.Contains(line, "\n") {
		t.Errorf("plain line spans lines: %q", line)
	}

	// Planning: no shards yet, no ETA.
	p = migration.Progress{Status: migration.StatusPlanning, Started: v.now.Add(-time.Minute)}
	got = strings.Join(renderProgress(v), "\n")
	if !strings.Contains(got, "shards    planning") || strings.Contains(got, "ETA") || strings.Contains(got, "failures") {
		t.Errorf("planning display:\n%s", got)
	}

	// No answer to the query: what Temporal knows, and why.
	v.progress = nil
	v.problem = "no answer to the progress query"
	v.started = v.now.Add(-90 * time.Second)
	got = strings.Join(renderProgress(v), "\n")
	if !strings.Contains(got, "elapsed 1m30s") || !strings.Contains(got, "progress unavailable: no answer") {
		t.Errorf("display without progress:\n%s", got)
	}
}

func TestRenderResult(t *testing.T) {
	r := migration.JobResult{
		Status: migration.StatusCompletedWithFailures, Shards: 64,
		Counts:     migration.Counts{Copied: 1000, BytesCopied: 100 << 20, Failed: 30},
		Started:    time.Date(2026, 11, 24, 18, 0, 0, 0, time.UTC),
		Finished:   time.Date(2026, 11, 24, 18, 1, 40, 0, time.UTC),
		FailureLog: migration.Location{Store: "dst", Prefix: "r/"},
	}
	for i := range 30 {
		r.FailureSample = append(r.FailureSample, migration.Failure{Key: fmt.Sprintf("k%02d", i), Reason: "forbidden"})
	}
	r.FailureSample = r.FailureSample[:migration.FailureSampleSize]
	got := strings.Join(renderResult("job-1", r, hints{job: "job-1"}), "\n")
	for _, want := range []string{
		"job job-1: completed with failures", "shards    64", "took      1m40s (2026-11-24 18:00:00 to 2026-11-24 18:01:40 UTC), average 1.0 MiB/s, 10 objects/s",
		"30 objects; every one is listed under dst:r/failures/", `"k09"`, "... 10 more in the sample",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("result lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, `"k10"`) {
		t.Errorf("result shows more than %d failures:\n%s", resultFailureLines, got)
	}
}

// TestDisplayRedraw checks the live display: each frame goes back over the
// previous one and clears it, lines are cut to the terminal width, and
// clearing leaves the cursor where the first frame began.
func TestDisplayRedraw(t *testing.T) {
	var out bytes.Buffer
	d := &display{w: &out, live: true, width: 40}
	p := sampleProgress()
	v := jobView{id: "job-1", progress: &p, now: time.Date(2026, 11, 24, 19, 0, 0, 0, time.UTC), hints: hints{job: "job-1"}}
	d.show(v)
	first := out.String()
	n := len(renderProgress(v))
	if strings.Contains(strings.ReplaceAll(first, "\x1b[K", ""), "\x1b[") {
		t.Errorf("the first frame moves the cursor: %q", first)
	}
	if strings.Count(first, "\n") != n {
		t.Errorf("first frame has %d lines, want %d", strings.Count(first, "\n"), n)
	}
	for _, l := range strings.Split(strings.TrimSuffix(first, "\n"), "\n") {
		if w := len([]rune(strings.TrimSuffix(l, "\x1b[K"))); w > 39 {
			t.Errorf("line of %d runes on a 40-column terminal: %q", w, l)
		}
	}
	out.Reset()
	d.show(v)
	if want := fmt.Sprintf("\x1b[%dA\r\x1b[J", n); !strings.HasPrefix(out.String(), want) {
		t.Errorf("second frame starts %q, want %q", out.String()[:min(20, out.Len())], want)
	}
	out.Reset()
	d.clear()
	if want := fmt.Sprintf("\x1b[%dA\r\x1b[J", n); out.String() != want {
		t.Errorf("clear wrote %q, want %q", out.String(), want)
	}
	out.Reset()
	d.clear()
	if out.Len() != 0 {
		t.Errorf("clearing twice wrote %q", out.String())
	}

	// Plain: one timestamped line per view, nothing else.
	out.Reset()
	d = &display{w: &out}
	d.show(v)
	d.show(v)
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 2 || strings.Contains(out.String(), "\x1b") || !strings.HasPrefix(lines[0], "2026-11-24T19:00:00Z running") {
		t.Errorf("plain output: %q", out.String())
	}
	if isTerminal(&out) {
		t.Error("a buffer is not a terminal")
	}
}

func TestTemporalCLI(t *testing.T) {
	spec := migration.JobSpec{Source: migration.Location{Store: "src", Prefix: "it's/"}, Destination: migration.Location{Store: "dst"}, SearchAttributes: true}
	cn := &conn{address: "127.0.0.1:7233", namespace: "default"}
	line, err := temporalCLI(cn, "job-1", migration.JobInput{Spec: spec})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"temporal workflow start", "--task-queue bucketferry", "--type MigrationJob", "--workflow-id job-1",
		"--id-conflict-policy UseExisting", "--id-reuse-policy RejectDuplicate", `--static-summary 'src:it'\''s/ -> dst'`,
		`--input '{"spec":{"source":{"store":"src","prefix":"it'\''s/"},"destination":{"store":"dst"}`, `"searchAttributes":true`,
	} {
		if !strings.Contains(line, want) {
			t.Errorf("command lacks %q:\n%s", want, line)
		}
	}
}

// TestRenderStalled: a stalled job shows which store is out, since when and
// why, in the display and on the one-line form.
func TestRenderStalled(t *testing.T) {
	v := jobView{id: "job-1", now: time.Date(2026, 11, 24, 19, 0, 0, 0, time.UTC), hints: hints{job: "job-1"}}
	p := sampleProgress()
	p.Status = migration.StatusStalled
	p.Stalls = []migration.Stall{{Store: `source store "src"`, What: "objects", Since: time.Date(2026, 11, 24, 18, 55, 0, 0, time.UTC),
		Reason: "oss://b: get \"k\": transient: connection refused"}}
	v.progress = &p
	got := strings.Join(renderProgress(v), "\n")
	for _, want := range []string{
		"job job-1: stalled",
		`stalled   source store "src" (objects) out since 2026-11-24 18:55:00 UTC; waiting for it, nothing fails meanwhile`,
		"transient: connection refused",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("display lacks %q:\n%s", want, got)
		}
	}
	if line := progressLine(v); !strings.Contains(line, `stalled: source store "src" (objects) out since 2026-11-24 18:55:00 UTC: oss://b`) {
		t.Errorf("line lacks the stall: %s", line)
	}
}
