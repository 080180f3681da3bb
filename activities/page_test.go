package activities_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"

	"github.com/bucketferry/bucketferry/activities"
	"github.com/bucketferry/bucketferry/emulator"
	"github.com/bucketferry/bucketferry/migration"
	"github.com/bucketferry/bucketferry/storage"
	"github.com/bucketferry/bucketferry/transfer"
)

func pageSpec() migration.JobSpec {
	return migration.JobSpec{
		Source:           migration.Location{Store: "src", Prefix: "data/"},
		Destination:      migration.Location{Store: "dst", Prefix: "moved/"},
		PageSize:         25,
		LargeObjectBytes: 1 * mib,
		Concurrency:      migration.Concurrency{Objects: 8},
	}
}

func smallCopier() transfer.Options {
	return transfer.Options{MultipartThreshold: 4 * mib, PartSize: 1 * mib, PartsInFlight: 2}
}

func copyPage(t *testing.T, env interface {
	ExecuteActivity(any, ...any) (converter.EncodedValue, error)
}, a *activities.Activities, in migration.CopyPageInput) (migration.CopyPageResult, error) {
	t.Helper()
	v, err := env.ExecuteActivity(a.CopyPage, in)
	if err != nil {
		return migration.CopyPageResult{}, err
	}
	var res migration.CopyPageResult
	if err := v.Get(&res); err != nil {
		t.Fatal(err)
	}
	return res, nil
}

// readFailures reads a failure log chunk from the destination bucket.
func (e *emuEnv) readFailures(t *testing.T, key string) []migration.Failure {
	t.Helper()
	obj, err := e.srv.Backend.Object(dstBucket, key)
	if err != nil {
		t.Fatalf("failure log %q: %v", key, err)
	}
	rc, err := obj.Open(0, obj.Size)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var out []migration.Failure
	sc := bufio.NewScanner(rc)
	for sc.Scan() {
		var f migration.Failure
		if err := json.Unmarshal(sc.Bytes(), &f); err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		out = append(out, f)
	}
	return out
}

func failureKeys(fs []migration.Failure) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Key)
	}
	slices.Sort(out)
	return out
}

// puts counts the PUT requests the destination has answered so far, once
// nothing is in flight any more.
func (e *emuEnv) puts() int64 {
	n := e.srv.COSFaults.Stats().ByMethod[http.MethodPut]
	for {
		time.Sleep(100 * time.Millisecond)
		m := e.srv.COSFaults.Stats().ByMethod[http.MethodPut]
		if m == n {
			return n
		}
		n = m
	}
}

func TestCopyPageWalksAShard(t *testing.T) {
	e := newEmuEnv(t)
	var small []string
	var bytes int64
	for i := range 60 {
		key := fmt.Sprintf("data/d%d/obj-%03d", i%4, i)
		size := int64(i * 997)
		e.seed(t, key, size, emulator.Meta{ContentType: "text/plain", User: map[string]string{"i": fmt.Sprint(i)}, StorageClass: storage.ClassIA})
		small = append(small, key)
		bytes += size
	}
	e.seed(t, "data/big-1", 2*mib, emulator.Meta{})
	e.seed(t, "data/d2/big-2", 3*mib, emulator.Meta{})
	e.seed(t, "other/not-in-prefix", 10, emulator.Meta{})
	a := newActivities(t, e.stores, smallCopier())
	env := newActivityEnv(a)

	spec := pageSpec()
	in := migration.CopyPageInput{JobID: "job", Spec: spec, Shard: migration.Shard{Index: 0}}
	var total migration.Counts
	var large []migration.LargeObject
	pages := 0
	for {
		res, err := copyPage(t, env, a, in)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		total.Add(res.Counts)
		large = append(large, res.Large...)
		if res.Done {
			break
		}
		if res.LastKey <= in.After {
			t.Fatalf("page %d did not move: last key %q after %q", pages, res.LastKey, in.After)
		}
		in.After, in.Page = res.LastKey, in.Page+1
	}
	if pages != 3 {
		t.Errorf("%d pages for 62 keys at 25 a page, want 3", pages)
	}
	if total.Copied != 60 || total.BytesCopied != bytes || total.Failed != 0 || total.Skipped != 0 {
		t.Errorf("counts %+v, want 60 copied, %d bytes", total, bytes)
	}
	if total.BytesSent != bytes {
		t.Errorf("sent %d bytes for %d copied", total.BytesSent, bytes)
	}
	if !slices.Equal(large, []migration.LargeObject{{Key: "data/big-1", Size: 2 * mib}, {Key: "data/d2/big-2", Size: 3 * mib}}) {
		t.Errorf("large objects %+v", large)
	}
	for _, k := range small {
		e.checkCopied(t, k, "moved/"+strings.TrimPrefix(k, "data/"))
	}
	if got := e.dstKeys(); len(got) != 60 {
		t.Errorf("%d objects at the destination, want 60: large ones are left to CopyLarge", len(got))
	}
}

func TestCopyPageShardBounds(t *testing.T) {
	e := newEmuEnv(t)
	for _, k := range []string{"data/a", "data/b", "data/b/1", "data/c", "data/d"} {
		e.seed(t, k, 5, emulator.Meta{})
	}
	a := newActivities(t, e.stores, smallCopier())
	env := newActivityEnv(a)
	// The shard of keys after "data/a" up to "data/c" included.
	shard := migration.Shard{Index: 1, After: "data/a", Before: storage.JustAfter("data/c")}
	res, err := copyPage(t, env, a, migration.CopyPageInput{JobID: "job", Spec: pageSpec(), Shard: shard})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Done || res.Counts.Copied != 3 || res.LastKey != "data/c" {
		t.Errorf("result %+v, want 3 copied, done, last key data/c", res)
	}
	if got := e.dstKeys(); !slices.Equal(got, []string{"moved/b", "moved/b/1", "moved/c"}) {
		t.Errorf("destination holds %q", got)
	}
}

func TestCopyPageConflictPolicies(t *testing.T) {
	for _, tc := range []struct {
		policy          migration.ConflictPolicy
		copied, skipped int64
		heads           bool // whether the destination may be asked per object
	}{
		{migration.Overwrite, 4, 0, true},
		{migration.Skip, 1, 3, false},
		{migration.SkipIdentical, 3, 1, true},
	} {
		t.Run(string(tc.policy), func(t *testing.T) {
			e := newEmuEnv(t)
			for _, k := range []string{"data/same", "data/changed", "data/resized", "data/new"} {
				e.seed(t, k, 5000, emulator.Meta{})
			}
			c, _ := transfer.New(transfer.Options{})
			for _, k := range []string{"same", "changed", "resized"} {
				if _, err := c.Copy(context.Background(), transfer.Request{Src: e.src, SrcKey: "data/" + k, Dst: e.dst, DstKey: "moved/" + k}); err != nil {
					t.Fatal(err)
				}
			}
			// Same size, other bytes; and another size.
			if _, err := e.srv.Backend.AddObject(dstBucket, "moved/changed", emulator.GeneratedBlob(99, 5000), emulator.Meta{}); err != nil {
				t.Fatal(err)
			}
			if _, err := e.srv.Backend.AddObject(dstBucket, "moved/resized", emulator.GeneratedBlob(99, 4000), emulator.Meta{}); err != nil {
				t.Fatal(err)
			}
			headsBefore := e.srv.COSFaults.Stats().ByMethod[http.MethodHead]
			a := newActivities(t, e.stores, smallCopier())
			spec := pageSpec()
			spec.Conflict = tc.policy
			spec.PageSize = 2 // pages after the first list the destination after their start
			env := newActivityEnv(a)
			in := migration.CopyPageInput{JobID: "job", Spec: spec}
			var res migration.CopyPageResult
			for {
				page, err := copyPage(t, env, a, in)
				if err != nil {
					t.Fatal(err)
				}
				res.Counts.Add(page.Counts)
				if page.Done {
					break
				}
				in.After = page.LastKey
			}
			if res.Counts.Copied != tc.copied || res.Counts.Skipped != tc.skipped || res.Counts.BytesSkipped != tc.skipped*5000 {
				t.Errorf("counts %+v, want %d copied and %d skipped", res.Counts, tc.copied, tc.skipped)
			}
			heads := e.srv.COSFaults.Stats().ByMethod[http.MethodHead] - headsBefore
			t.Logf("%s: %d destination HEADs", tc.policy, heads)
			if !tc.heads && heads != 0 {
				t.Errorf("%d HEADs at the destination: the page's listing should answer", heads)
			}
			for _, k := range []string{"same", "new"} {
				e.checkCopied(t, "data/"+k, "moved/"+k)
			}
			if tc.policy == migration.Skip {
				if d, _ := e.srv.Backend.Object(dstBucket, "moved/changed"); d.Size != 5000 || emulator.CompareObjects(mustObject(t, e, "data/changed"), d) == "" {
					t.Error("skip policy overwrote an existing object")
				}
			} else {
				e.checkCopied(t, "data/changed", "moved/changed")
				e.checkCopied(t, "data/resized", "moved/resized")
			}
		})
	}
}

func mustObject(t *testing.T, e *emuEnv, key string) *emulator.Object {
	t.Helper()
	o, err := e.srv.Backend.Object(srcBucket, key)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func TestCopyPageFilters(t *testing.T) {
	e := newEmuEnv(t)
	for _, k := range []string{"data/a.jpg", "data/x/b.jpg", "data/thumbs/c.jpg", "data/d.png", "data/x/e.txt"} {
		e.seed(t, k, 10, emulator.Meta{})
	}
	a := newActivities(t, e.stores, smallCopier())
	spec := pageSpec()
	spec.Filters = migration.Filters{Include: []string{"*.jpg", "*.png"}, Exclude: []string{"thumbs/**"}}
	res, err := copyPage(t, newActivityEnv(a), a, migration.CopyPageInput{JobID: "job", Spec: spec})
	if err != nil {
		t.Fatal(err)
	}
	if res.Counts.Copied != 3 || res.Counts.Objects() != 3 {
		t.Errorf("counts %+v, want exactly the 3 matching objects", res.Counts)
	}
	if got := e.dstKeys(); !slices.Equal(got, []string{"moved/a.jpg", "moved/d.png", "moved/x/b.jpg"}) {
		t.Errorf("destination holds %q", got)
	}
	if res.LastKey != "data/x/e.txt" {
		t.Errorf("last key %q: the cursor must pass filtered keys too", res.LastKey)
	}
}

// TestCopyPageRetryResumes: a retried attempt, given the heartbeat of the
// one before, sends nothing that attempt had done, and its counts include
// that attempt's.
func TestCopyPageRetryResumes(t *testing.T) {
	e := newEmuEnv(t)
	var keys []string
	for i := range 30 {
		k := fmt.Sprintf("data/k%02d", i)
		keys = append(keys, k)
		e.seed(t, k, 1000, emulator.Meta{})
	}
	// The first attempt copied keys 0-9 but 3, which it found gone, and
	// keys 12 and 15 (out of order, as concurrent copies end).
	c, _ := transfer.New(transfer.Options{})
	for _, i := range []int{0, 1, 2, 4, 5, 6, 7, 8, 9, 12, 15} {
		if _, err := c.Copy(context.Background(), transfer.Request{Src: e.src, SrcKey: keys[i], Dst: e.dst, DstKey: "moved/" + keys[i][5:]}); err != nil {
			t.Fatal(err)
		}
	}
	prior := activities.PageHeartbeat{
		DoneThrough: keys[9], DoneBeyond: []string{keys[12], keys[15]},
		Counts:   migration.Counts{Copied: 11, BytesCopied: 11000, Failed: 1, BytesFailed: 1000, BytesSent: 12500},
		Failures: []migration.Failure{{Key: keys[3], Size: 1000, Reason: "gone", Kind: "not found", Attempts: 1, Shard: 2}},
	}
	before := e.puts()
	a := newActivities(t, e.stores, smallCopier())
	env := newActivityEnv(a)
	env.SetHeartbeatDetails(prior)
	spec := pageSpec()
	spec.PageSize = 100
	res, err := copyPage(t, env, a, migration.CopyPageInput{JobID: "job", Spec: spec, Shard: migration.Shard{Index: 2}, Page: 7})
	if err != nil {
		t.Fatal(err)
	}
	puts := e.puts() - before - 1 // minus the failure log chunk
	if puts != 18 {
		t.Errorf("retry sent %d PUTs, want 18 (the keys not reported done)", puts)
	}
	want := migration.Counts{Copied: 29, BytesCopied: 29000, Failed: 1, BytesFailed: 1000, BytesSent: 12500 + 18000}
	if res.Counts != want {
		t.Errorf("counts %+v, want %+v", res.Counts, want)
	}
	if _, err := e.srv.Backend.Object(dstBucket, "moved/k03"); err == nil {
		t.Error("a key the first attempt reported failed was copied again")
	}
	fs := e.readFailures(t, "bucketferry-reports/job/failures/shard-00002/page-000007.jsonl")
	if len(fs) != 1 || fs[0].Key != keys[3] || fs[0].Reason != "gone" {
		t.Errorf("failure log %+v, want the first attempt's failure", fs)
	}
}

// TestCopyPageObjectFailures: objects that cannot be copied are recorded,
// each with its reason, and the page completes.
func TestCopyPageObjectFailures(t *testing.T) {
	e := newEmuEnv(t)
	for i := range 10 {
		e.seed(t, fmt.Sprintf("data/ok-%d", i), 100, emulator.Meta{})
	}
	big := strings.Repeat("x", 1500)
	e.seed(t, "data/archived", 100, emulator.Meta{StorageClass: storage.ClassArchive})
	e.seed(t, "data/denied", 100, emulator.Meta{})
	e.seed(t, "data/bad-signature", 100, emulator.Meta{})
	e.seed(t, "data/gone", 100, emulator.Meta{})
	e.seed(t, "data/fat-meta", 100, emulator.Meta{User: map[string]string{"a": big, "b": big, "c": big, "d": big}})
	e.srv.OSSFaults.Set(emulator.FaultConfig{Fail: func(r *http.Request) *emulator.APIError {
		if r.Method != http.MethodGet {
			return nil
		}
		switch {
		case strings.HasSuffix(r.URL.Path, "/data/denied"):
			return &emulator.APIError{Status: 403, Code: "AccessDenied", Message: "object ACL denies access"}
		case strings.HasSuffix(r.URL.Path, "/data/bad-signature"):
			// A fatal kind for one object only: the bucket probe shows the
			// credentials are fine.
			return &emulator.APIError{Status: 403, Code: "SignatureDoesNotMatch", Message: "odd proxy"}
		case strings.HasSuffix(r.URL.Path, "/data/gone"):
			return &emulator.APIError{Status: 404, Code: "NoSuchKey", Message: "deleted meanwhile"}
		}
		return nil
	}})
	a := newActivities(t, e.stores, smallCopier())
	res, err := copyPage(t, newActivityEnv(a), a, migration.CopyPageInput{JobID: "job", Spec: pageSpec(), Shard: migration.Shard{Index: 3}, Page: 2})
	if err != nil {
		t.Fatalf("page failed instead of recording object failures: %v", err)
	}
	if res.Counts.Copied != 10 || res.Counts.Failed != 5 || res.Counts.BytesFailed != 500 {
		t.Errorf("counts %+v, want 10 copied and 5 failed", res.Counts)
	}
	fs := e.readFailures(t, "bucketferry-reports/job/failures/shard-00003/page-000002.jsonl")
	wantKeys := []string{"data/archived", "data/bad-signature", "data/denied", "data/fat-meta", "data/gone"}
	if got := failureKeys(fs); !slices.Equal(got, wantKeys) {
		t.Fatalf("failure log lists %q, want %q", got, wantKeys)
	}
	kinds := map[string]string{}
	for _, f := range fs {
		kinds[f.Key] = f.Kind
		if f.Reason == "" || f.Shard != 3 || f.Attempts != 1 || f.Size != 100 {
			t.Errorf("failure %+v", f)
		}
	}
	want := map[string]string{"data/archived": "archived", "data/bad-signature": "access denied", "data/denied": "forbidden",
		"data/fat-meta": "invalid", "data/gone": "not found"}
	for k, w := range want {
		if kinds[k] != w {
			t.Errorf("%s: kind %q, want %q", k, kinds[k], w)
		}
	}
	if got := failureKeys(res.Failures); !slices.Equal(got, wantKeys) {
		t.Errorf("failure sample %q", got)
	}
}

// TestCopyPageRetryableFailures: an object that keeps failing with a
// retryable error fails the attempt (its progress saved) until the last
// attempt, which records it.
func TestCopyPageRetryableFailures(t *testing.T) {
	e := newEmuEnv(t)
	for i := range 12 {
		e.seed(t, fmt.Sprintf("data/k%02d", i), 100, emulator.Meta{})
	}
	throttle := true
	var mu sync.Mutex
	e.srv.OSSFaults.Set(emulator.FaultConfig{Fail: func(r *http.Request) *emulator.APIError {
		mu.Lock()
		defer mu.Unlock()
		if throttle && r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/data/k05") {
			return &emulator.APIError{Status: 503, Code: "SlowDown", Message: "slow down"}
		}
		return nil
	}})
	a := newActivities(t, e.stores, smallCopier())

	// Not the last attempt: a retryable error, progress in the heartbeat.
	env := newActivityEnv(a)
	var last activities.PageHeartbeat
	env.SetOnActivityHeartbeatListener(func(_ *activity.Info, d converter.EncodedValues) {
		var h activities.PageHeartbeat
		if err := d.Get(&h); err == nil {
			mu.Lock()
			last = h
			mu.Unlock()
		}
	})
	spec := pageSpec()
	spec.MaxAttempts = 2
	in := migration.CopyPageInput{JobID: "job", Spec: spec, Shard: migration.Shard{Index: 1}}
	_, err := copyPage(t, env, a, in)
	if err == nil {
		t.Fatal("page with a throttled object succeeded before its last attempt")
	}
	if ae := appError(t, err); ae.NonRetryable() {
		t.Fatalf("error is not retryable: %v", err)
	}
	mu.Lock()
	hb := last
	mu.Unlock()
	if hb.Counts.Copied != 11 || hb.DoneThrough != "data/k04" || len(hb.DoneBeyond) != 6 {
		t.Fatalf("last heartbeat %+v, want 11 copied, done through k04 and the 6 after k05", hb)
	}

	// The retry, with the object readable again, sends only it.
	mu.Lock()
	throttle = false
	mu.Unlock()
	before := e.puts()
	env2 := newActivityEnv(a)
	env2.SetHeartbeatDetails(hb)
	res, err := copyPage(t, env2, a, in)
	if err != nil {
		t.Fatal(err)
	}
	if puts := e.puts() - before; puts != 1 || res.Counts.Copied != 12 {
		t.Errorf("retry sent %d PUTs with counts %+v, want 1 PUT and 12 copied", puts, res.Counts)
	}

	// The last attempt records what still fails.
	mu.Lock()
	throttle = true
	mu.Unlock()
	spec.MaxAttempts = 1
	spec.Destination.Prefix = "again/"
	res, err = copyPage(t, newActivityEnv(a), a, migration.CopyPageInput{JobID: "job", Spec: spec, Shard: migration.Shard{Index: 1}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Counts.Failed != 1 || res.Counts.Copied != 11 || len(res.Failures) != 1 {
		t.Fatalf("counts %+v failures %+v, want the throttled object recorded", res.Counts, res.Failures)
	}
	if f := res.Failures[0]; f.Key != "data/k05" || f.Kind != "throttled" || f.Attempts != 3 {
		t.Errorf("failure %+v, want k05 throttled after 3 tries", f)
	}
}

func TestCopyPageWrongDestinationCredentials(t *testing.T) {
	e := newEmuEnv(t)
	for i := range 5 {
		e.seed(t, fmt.Sprintf("data/k%d", i), 100, emulator.Meta{})
	}
	a := newActivities(t, e.stores, smallCopier())
	spec := pageSpec()
	spec.Destination.Store = "baddst"
	_, err := copyPage(t, newActivityEnv(a), a, migration.CopyPageInput{JobID: "job", Spec: spec})
	if err == nil {
		t.Fatal("copy with a wrong secret succeeded")
	}
	ae := appError(t, err)
	if ae.Type() != migration.ErrFatal || !ae.NonRetryable() {
		t.Errorf("error type %q non-retryable %v, want %q: %v", ae.Type(), ae.NonRetryable(), migration.ErrFatal, err)
	}
	if msg := err.Error(); !strings.Contains(msg, `"baddst"`) || !strings.Contains(msg, "access denied") {
		t.Errorf("error does not name the store and the problem: %v", err)
	}
	if n := len(e.srv.Backend.Keys(dstBucket)); n != 0 {
		t.Errorf("%d objects written", n)
	}
}

func TestCopyPageManifest(t *testing.T) {
	e := newEmuEnv(t)
	var lines []string
	for i := range 9 {
		k := fmt.Sprintf("data/m%d", i)
		e.seed(t, k, int64(100+i), emulator.Meta{})
		lines = append(lines, k)
	}
	e.seed(t, "data/huge", 2*mib, emulator.Meta{})
	e.seed(t, "data/unlisted", 5, emulator.Meta{}) // not in the manifest: not copied
	lines = append(lines, "", "data/missing", "data/huge", "data/skip.tmp")
	manifest := strings.Join(lines, "\r\n") + "\n"
	if _, err := e.srv.Backend.PutObject(srcBucket, "lists/keys.txt", strings.NewReader(manifest), int64(len(manifest)), emulator.Meta{}, nil); err != nil {
		t.Fatal(err)
	}
	spec := pageSpec()
	spec.PageSize = 4
	spec.Filters = migration.Filters{Manifest: &migration.ManifestRef{Store: "src", Key: "lists/keys.txt"}, Exclude: []string{"*.tmp"}}
	a := newActivities(t, e.stores, smallCopier())
	env := newActivityEnv(a)
	shard := migration.Shard{Index: 0, ManifestEnd: int64(len(manifest))}
	in := migration.CopyPageInput{JobID: "job", Spec: spec, Shard: shard}
	var total migration.Counts
	var large []migration.LargeObject
	var failures []migration.Failure
	pages := 0
	for {
		res, err := copyPage(t, env, a, in)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		total.Add(res.Counts)
		large = append(large, res.Large...)
		failures = append(failures, res.Failures...)
		if res.Done {
			break
		}
		if res.NextManifest <= in.ManifestOffset {
			t.Fatalf("page did not move: next %d at %d", res.NextManifest, in.ManifestOffset)
		}
		in.ManifestOffset, in.Page = res.NextManifest, in.Page+1
	}
	if pages != 3 {
		t.Errorf("%d pages for 12 keys (and a blank line) at 4 a page, want 3", pages)
	}
	if total.Copied != 9 || total.Failed != 1 || total.Objects() != 10 {
		t.Errorf("counts %+v, want 9 copied and 1 failed", total)
	}
	if len(failures) != 1 || failures[0].Key != "data/missing" || failures[0].Kind != "not found" {
		t.Errorf("failures %+v", failures)
	}
	if !slices.Equal(large, []migration.LargeObject{{Key: "data/huge", Size: 2 * mib}}) {
		t.Errorf("large %+v", large)
	}
	for i := range 9 {
		e.checkCopied(t, fmt.Sprintf("data/m%d", i), fmt.Sprintf("moved/m%d", i))
	}
	if len(e.dstKeys()) != 9 {
		t.Errorf("destination holds %q", e.dstKeys())
	}
}

// TestRegisteredNames: workflows call the activities by method name.
func TestRegisteredNames(t *testing.T) {
	e := newEmuEnv(t)
	e.seed(t, "data/x", 3, emulator.Meta{})
	a := newActivities(t, e.stores, smallCopier())
	env := newActivityEnv(a)
	v, err := env.ExecuteActivity("CopyPage", migration.CopyPageInput{JobID: "job", Spec: pageSpec()})
	if err != nil {
		t.Fatal(err)
	}
	var res migration.CopyPageResult
	if err := v.Get(&res); err != nil || res.Counts.Copied != 1 {
		t.Fatalf("CopyPage by name: %+v, %v", res, err)
	}
	for _, name := range []string{"Plan", "CopyLarge"} {
		if _, err := env.ExecuteActivity(name, struct{}{}); err != nil && (strings.Contains(err.Error(), "not registered") || strings.Contains(err.Error(), "unable to find")) {
			t.Errorf("%s is not registered: %v", name, err)
		}
	}
}

// TestCopyPageManifestReadsBoundedRanges: a page reads a bounded byte range
// of the manifest, never a cut line, and the next page goes on from there.
func TestCopyPageManifestReadsBoundedRanges(t *testing.T) {
	e := newEmuEnv(t)
	e.seed(t, "data/m0", 10, emulator.Meta{})
	e.seed(t, "data/m1", 10, emulator.Meta{})
	manifest := "data/m0\n" + strings.Repeat("\r\n", 40000) + "data/m1" // no final line end
	if _, err := e.srv.Backend.PutObject(srcBucket, "keys.txt", strings.NewReader(manifest), int64(len(manifest)), emulator.Meta{}, nil); err != nil {
		t.Fatal(err)
	}
	spec := pageSpec()
	spec.PageSize = 4
	spec.Filters.Manifest = &migration.ManifestRef{Store: "src", Key: "keys.txt"}
	a := newActivities(t, e.stores, smallCopier())
	env := newActivityEnv(a)
	in := migration.CopyPageInput{JobID: "job", Spec: spec, Shard: migration.Shard{ManifestEnd: int64(len(manifest))}}
	res, err := copyPage(t, env, a, in)
	if err != nil {
		t.Fatal(err)
	}
	// 64 KiB + 1 read: the key, then 32,764 blank lines and half of one.
	if res.Done || res.NextManifest != 8+2*32764 || res.Counts.Copied != 1 {
		t.Fatalf("first page %+v", res)
	}
	in.ManifestOffset = res.NextManifest
	res, err = copyPage(t, env, a, in)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Done || res.NextManifest != int64(len(manifest)) || res.Counts.Copied != 1 {
		t.Fatalf("second page %+v", res)
	}
	e.checkCopied(t, "data/m1", "moved/m1")
}

func TestCopyPageStorageClasses(t *testing.T) {
	e := newEmuEnv(t)
	e.seed(t, "data/std", 10, emulator.Meta{StorageClass: storage.ClassStandard})
	e.seed(t, "data/ia", 10, emulator.Meta{StorageClass: storage.ClassIA})
	a := newActivities(t, e.stores, smallCopier())
	class := func(key string) string {
		o, err := e.srv.Backend.Object(dstBucket, key)
		if err != nil {
			t.Fatal(err)
		}
		return o.Meta.StorageClass
	}
	spec := pageSpec()
	spec.ClassMap = map[string]string{storage.ClassIA: storage.ClassArchive}
	if _, err := copyPage(t, newActivityEnv(a), a, migration.CopyPageInput{JobID: "job", Spec: spec}); err != nil {
		t.Fatal(err)
	}
	if class("moved/std") != storage.ClassStandard || class("moved/ia") != storage.ClassArchive {
		t.Errorf("mapped classes: std %q, ia %q", class("moved/std"), class("moved/ia"))
	}
	spec.ClassMap, spec.StorageClass = nil, storage.ClassIA
	if _, err := copyPage(t, newActivityEnv(a), a, migration.CopyPageInput{JobID: "job", Spec: spec}); err != nil {
		t.Fatal(err)
	}
	if class("moved/std") != storage.ClassIA || class("moved/ia") != storage.ClassIA {
		t.Errorf("forced class: std %q, ia %q", class("moved/std"), class("moved/ia"))
	}
}
