package integration

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bucketferry/bucketferry/config"
	"github.com/bucketferry/bucketferry/emulator"
	"github.com/bucketferry/bucketferry/migration"
	"github.com/bucketferry/bucketferry/schedule"
	"github.com/bucketferry/bucketferry/storage"
)

// destinationWrites records the objects written at the COS front end:
// single PUTs and initiated multipart uploads, by request path.
type destinationWrites struct {
	mu    sync.Mutex
	paths []string
}

func (d *destinationWrites) hook(r *http.Request) *emulator.APIError {
	q := r.URL.Query()
	if (r.Method == http.MethodPut && !q.Has("uploadId")) || (r.Method == http.MethodPost && q.Has("uploads")) {
		d.mu.Lock()
		d.paths = append(d.paths, r.URL.Path)
		d.mu.Unlock()
	}
	return nil
}

// keys maps the recorded paths to keys of the candidates.
func (d *destinationWrites) keys(t *testing.T, candidates []string) []string {
	t.Helper()
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []string
	for _, p := range d.paths {
		found := ""
		for _, k := range candidates {
			if strings.HasSuffix(p, "/"+k) && len(k) > len(found) {
				found = k
			}
		}
		if found == "" {
			t.Errorf("write of %q, which is no source key", p)
			continue
		}
		out = append(out, found)
	}
	slices.Sort(out)
	return out
}

// rewrite replaces a source object's body, keeping its metadata.
func rewrite(t *testing.T, b *emulator.Backend, key string, body []byte) {
	t.Helper()
	o, err := b.Object(srcBucket, key)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.PutObject(srcBucket, key, bytes.NewReader(body), int64(len(body)), o.Meta, nil); err != nil {
		t.Fatal(err)
	}
}

// TestSyncSecondPass: after a full job, 1 % of the source objects change
// (some keeping their size, one of them multipart-sized) and a few are
// added; the second pass writes exactly those at the destination and
// reports them as changed and new.
func TestSyncSecondPass(t *testing.T) {
	h := newHarness(t)
	st, err := emulator.Generate(h.emu.Backend, srcBucket, emulator.DataSet{
		Objects: 1100, MaxSize: 8 << 10, Large: 2, LargeSize: 9 * mib, Seed: 21,
	})
	if err != nil {
		t.Fatal(err)
	}
	h.startWorker(t)
	spec := baseSpec()
	spec.Shards = 8
	res, err := h.wait(t, h.startJob(t, "sync-full", spec), 3*time.Minute)
	if err != nil || res.Status != migration.StatusSucceeded || res.Counts.Copied != int64(st.Objects) {
		t.Fatalf("full job: %+v, %v", res, err)
	}

	var changed, added []string
	keys := h.emu.Backend.Keys(srcBucket)
	for i, k := range keys {
		o, _ := h.emu.Backend.Object(srcBucket, k)
		switch {
		case o.Size >= 8*mib && len(changed) < 11 && !slices.ContainsFunc(changed, func(c string) bool {
			p, _ := h.emu.Backend.Object(srcBucket, c)
			return p.Size >= 8*mib
		}):
			// Same size, new bytes: only the CRC64 tells.
			body := bytes.Repeat([]byte{byte(i)}, int(o.Size))
			rewrite(t, h.emu.Backend, k, body)
			changed = append(changed, k)
		case i%100 == 7 && len(changed) < 11:
			size := o.Size
			if len(changed)%2 == 0 {
				size++ // some grow, some keep their size
			}
			rewrite(t, h.emu.Backend, k, bytes.Repeat([]byte("changed!"), int(size/8+1))[:size])
			changed = append(changed, k)
		}
	}
	for i := range 5 {
		k := fmt.Sprintf("new/object-%d.txt", i)
		if _, err := h.emu.Backend.PutObject(srcBucket, k, strings.NewReader(k), int64(len(k)), emulator.Meta{ContentType: "text/plain"}, nil); err != nil {
			t.Fatal(err)
		}
		added = append(added, k)
	}
	total := st.Objects + len(added)
	if len(changed) != 11 || total/100 > len(changed)+1 {
		t.Fatalf("changed %d of %d objects, want 1 %%", len(changed), total)
	}

	var writes destinationWrites
	h.emu.COSFaults.Set(emulator.FaultConfig{Fail: writes.hook})
	spec.Conflict = migration.Changed
	res, err = h.wait(t, h.startJob(t, "sync-pass-2", spec), 3*time.Minute)
	if err != nil || res.Status != migration.StatusSucceeded {
		t.Fatalf("second pass: %+v, %v", res, err)
	}
	t.Logf("second pass: %+v", res.Counts)
	c := res.Counts
	if c.New != int64(len(added)) || c.Changed != int64(len(changed)) || c.Copied != c.New+c.Changed ||
		c.Skipped != int64(total-len(changed)-len(added)) || c.Failed != 0 {
		t.Errorf("counts %+v, want %d new, %d changed, %d unchanged", c, len(added), len(changed), total-len(changed)-len(added))
	}
	want := append(slices.Clone(changed), added...)
	slices.Sort(want)
	if got := writes.keys(t, h.emu.Backend.Keys(srcBucket)); !slices.Equal(got, want) {
		t.Errorf("the second pass wrote %d objects %q, want exactly the %d changed and new %q", len(got), got, len(want), want)
	}
	if n := h.verifyAll(t, nil); n != total {
		t.Errorf("verified %d of %d objects", n, total)
	}
	// A second pass (conflict policy changed).
	h.recordHistories(t, "sync-pass-2", "sync-pass-2/shard-00000")
}

// TestSyncSchedule: a schedule runs second passes, each a job of its own
// id; a pass after a change at the source copies just that change.
func TestSyncSchedule(t *testing.T) {
	h := newHarness(t)
	st, err := emulator.Generate(h.emu.Backend, srcBucket, emulator.DataSet{Objects: 200, MaxSize: 4 << 10, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	h.startWorker(t)
	spec := baseSpec()
	spec.Shards = 4
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()
	if _, err := schedule.Create(ctx, h.c, schedule.Options{ID: "sync-every", Spec: spec, Every: 2 * time.Second, Now: true}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = schedule.Delete(context.Background(), h.c, "sync-every") })

	results := map[string]migration.JobResult{}
	// next waits for a run not seen yet to complete.
	next := func() (string, migration.JobResult) {
		t.Helper()
		for ctx.Err() == nil {
			ids, err := schedule.Runs(ctx, h.c, "sync-every")
			if err != nil {
				t.Fatal(err)
			}
			for _, id := range ids {
				if _, seen := results[id]; seen {
					continue
				}
				var res migration.JobResult
				if err := h.c.GetWorkflow(ctx, id, "").Get(ctx, &res); err != nil {
					t.Fatalf("run %s: %v", id, err)
				}
				results[id] = res
				return id, res
			}
			time.Sleep(200 * time.Millisecond)
		}
		t.Fatalf("no new scheduled run completed in time (%d seen)", len(results))
		return "", migration.JobResult{}
	}
	id, res := next()
	if !strings.HasPrefix(id, "sync-every-") || res.Counts.New != int64(st.Objects) || res.Counts.Changed != 0 {
		t.Fatalf("first run %s: %+v", id, res.Counts)
	}
	keys := h.emu.Backend.Keys(srcBucket)
	rewrite(t, h.emu.Backend, keys[10], []byte("first change"))
	rewrite(t, h.emu.Backend, keys[120], []byte("second change"))
	// A run may have started before the change: wait for one that saw it.
	for {
		id, res = next()
		if res.Counts.Changed > 0 {
			break
		}
		if res.Counts.Copied != 0 || res.Counts.Skipped != int64(st.Objects) {
			t.Fatalf("run %s copied with nothing changed: %+v", id, res.Counts)
		}
	}
	if res.Counts.Changed != 2 || res.Counts.New != 0 || res.Counts.Skipped != int64(st.Objects-2) {
		t.Errorf("run %s: %+v, want 2 changed", id, res.Counts)
	}
	if n := h.verifyAll(t, nil); n != st.Objects {
		t.Errorf("verified %d of %d objects", n, st.Objects)
	}
}

// TestChangedWhileCopying: a source object rewritten while it is being
// copied ends at the destination as its new version, for a multipart copy
// (a part's read sees another version: the copy starts again) and a single
// PUT (the read serves the new version whole); one that keeps changing
// fails with the kind "source changed", never left stale.
func TestChangedWhileCopying(t *testing.T) {
	h := newHarness(t)
	b := h.emu.Backend
	put := func(key string, body []byte) {
		if _, err := b.PutObject(srcBucket, key, bytes.NewReader(body), int64(len(body)), emulator.Meta{}, nil); err != nil {
			t.Fatal(err)
		}
	}
	put("big", bytes.Repeat([]byte("old "), 3*mib)) // 12 MiB: six parts
	put("small", []byte("old small"))
	put("restless", bytes.Repeat([]byte("v0"), 5*mib))
	var bigGets, restless atomic.Int64
	fail := emulator.OnGet("big", func(r *http.Request) {
		// The third part's read finds a new version.
		if bigGets.Add(1) == 3 {
			rewrite(t, b, "big", bytes.Repeat([]byte("NEW "), 3*mib))
		}
	}, nil)
	fail = emulator.OnGet("small", func(*http.Request) {
		if o, _ := b.Object(srcBucket, "small"); o != nil && o.Size == int64(len("old small")) {
			rewrite(t, b, "small", []byte("the new small version"))
		}
	}, fail)
	fail = emulator.OnGet("restless", func(*http.Request) {
		n := restless.Add(1)
		rewrite(t, b, "restless", bytes.Repeat([]byte{byte(n)}, 10*mib))
	}, fail)
	h.emu.OSSFaults.Set(emulator.FaultConfig{Fail: fail})
	h.startWorker(t)
	spec := baseSpec()
	spec.Shards = 1
	spec.MaxAttempts = 2
	res, err := h.wait(t, h.startJob(t, "job-changing", spec), 2*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != migration.StatusCompletedWithFailures || res.Counts.Copied != 2 || res.Counts.Failed != 1 {
		t.Fatalf("result %+v, want 2 copied and restless failed", res)
	}
	if n := h.verifyAll(t, map[string]bool{"restless": true}); n != 2 {
		t.Errorf("verified %d of 2 objects", n)
	}
	for k, want := range map[string]string{"big": "NEW ", "small": "the new small version"} {
		o, err := b.Object(dstBucket, k)
		if err != nil {
			t.Fatal(err)
		}
		rc, _ := o.Open(0, int64(len(want)))
		got := make([]byte, len(want))
		_, _ = rc.Read(got)
		rc.Close()
		if string(got) != want {
			t.Errorf("%s at the destination starts %q, want the new version %q", k, got, want)
		}
	}
	fs := h.failureLog(t, res.FailureLog)
	if len(fs) != 1 || fs[0].Key != "restless" || fs[0].Kind != storage.KindChanged.String() || !strings.Contains(fs[0].Reason, "changed") {
		t.Errorf("failure log %+v, want restless with kind %q", fs, storage.KindChanged)
	}
	if n := b.UploadCount(dstBucket); n != 0 {
		t.Errorf("%d multipart uploads left open", n)
	}
}

// archive marks source objects as archived in class.
func archive(t *testing.T, b *emulator.Backend, class string, restored bool, keys ...string) {
	t.Helper()
	for _, k := range keys {
		if err := b.UpdateObject(srcBucket, k, func(o *emulator.Object) { o.Meta.StorageClass, o.Restored = class, restored }); err != nil {
			t.Fatal(err)
		}
	}
}

// TestArchiveSkip: archived objects not restored are failures with the
// reason "archived, not restored"; a restored one is copied.
func TestArchiveSkip(t *testing.T) {
	h := newHarness(t)
	if _, err := emulator.Generate(h.emu.Backend, srcBucket, emulator.DataSet{Objects: 60, MaxSize: 4 << 10, Large: 1, LargeSize: 9 * mib, Seed: 8}); err != nil {
		t.Fatal(err)
	}
	keys := h.emu.Backend.Keys(srcBucket)
	var large string
	for _, k := range keys {
		if o, _ := h.emu.Backend.Object(srcBucket, k); o.Size >= 8*mib {
			large = k
		}
	}
	cold := []string{keys[5], keys[40], large}
	archive(t, h.emu.Backend, storage.ClassArchive, false, keys[5], large)
	archive(t, h.emu.Backend, storage.ClassColdArchive, false, keys[40])
	archive(t, h.emu.Backend, storage.ClassArchive, true, keys[20])
	h.startWorker(t)
	spec := baseSpec()
	spec.Shards = 3
	res, err := h.wait(t, h.startJob(t, "job-archive-skip", spec), 2*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != migration.StatusCompletedWithFailures || res.Counts.Failed != 3 || res.Counts.Copied != int64(len(keys)-3) {
		t.Fatalf("result %+v, want %d copied and 3 failed", res.Counts, len(keys)-3)
	}
	var got []string
	for _, f := range h.failureLog(t, res.FailureLog) {
		got = append(got, f.Key)
		if !strings.HasPrefix(f.Reason, migration.ArchivedReason) || f.Kind != storage.KindArchived.String() {
			t.Errorf("failure %+v, want the reason %q", f, migration.ArchivedReason)
		}
	}
	slices.Sort(got)
	slices.Sort(cold)
	if !slices.Equal(got, cold) {
		t.Errorf("failure log lists %q, want %q", got, cold)
	}
	skip := map[string]bool{}
	for _, k := range cold {
		skip[k] = true
	}
	if n := h.verifyAll(t, skip); n != len(keys)-3 {
		t.Errorf("verified %d of %d objects", n, len(keys)-3)
	}
}

// TestArchiveRestore: under the restore policy the job restores archived
// objects, waits with workflow timers while the emulated restore takes
// its seconds, then copies them.
func TestArchiveRestore(t *testing.T) {
	h := newHarness(t)
	if _, err := emulator.Generate(h.emu.Backend, srcBucket, emulator.DataSet{Objects: 80, MaxSize: 4 << 10, Large: 1, LargeSize: 9 * mib, Seed: 9}); err != nil {
		t.Fatal(err)
	}
	keys := h.emu.Backend.Keys(srcBucket)
	var large string
	for _, k := range keys {
		if o, _ := h.emu.Backend.Object(srcBucket, k); o.Size >= 8*mib {
			large = k
		}
	}
	cold := []string{keys[3], keys[50], keys[79], large}
	// Archive: the default class mapping keeps it at COS, which verifyAll
	// checks (ColdArchive maps to COS DEEP_ARCHIVE).
	archive(t, h.emu.Backend, storage.ClassArchive, false, cold...)

	// An OSS front end whose restores take 3 s, over the same backend.
	const delay = 3 * time.Second
	var restores atomic.Int64
	fe := &emulator.OSSFrontEnd{Backend: h.emu.Backend, Credentials: map[string]string{"oss-ak": "oss-secret"}, RestoreDelay: delay}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Query().Has("restore") {
			restores.Add(1)
		}
		fe.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	yaml, err := os.ReadFile(h.cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "restore.yaml")
	if err := os.WriteFile(path, bytes.ReplaceAll(yaml, []byte(h.emu.OSSURL()), []byte(srv.URL)), 0o600); err != nil {
		t.Fatal(err)
	}
	if h.cfg, err = config.Load(path); err != nil {
		t.Fatal(err)
	}
	h.startWorker(t)

	spec := baseSpec()
	spec.Shards = 3
	spec.Archive = migration.ArchiveRestore
	spec.Restore = &migration.RestoreOptions{Days: 2, PollSeconds: 1}
	start := time.Now()
	res, err := h.wait(t, h.startJob(t, "job-archive-restore", spec), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	t.Logf("result %+v in %v, %d restore requests", res.Counts, took, restores.Load())
	if res.Status != migration.StatusSucceeded || res.Counts.Copied != int64(len(keys)) {
		t.Fatalf("result %+v (sample %+v), want all %d copied", res.Counts, res.FailureSample, len(keys))
	}
	if took < delay || restores.Load() < int64(len(cold)) {
		t.Errorf("the job took %v with %d restore requests: it did not wait for %d restores", took, restores.Load(), len(cold))
	}
	for _, k := range cold {
		if o, _ := h.emu.Backend.Object(srcBucket, k); !o.Restored {
			t.Errorf("%q was copied without being restored", k)
		}
	}
	if n := h.verifyAll(t, nil); n != len(keys) {
		t.Errorf("verified %d of %d objects", n, len(keys))
	}
	// A job whose shard restores archived objects with durable timers.
	h.recordHistories(t, "job-archive-restore", "job-archive-restore/shard-00000")
}
