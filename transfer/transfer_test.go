package transfer_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bucketferry/bucketferry/emulator"
	"github.com/bucketferry/bucketferry/storage"
	"github.com/bucketferry/bucketferry/storage/cos"
	"github.com/bucketferry/bucketferry/storage/oss"
	"github.com/bucketferry/bucketferry/transfer"
)

const (
	srcBucket = "source"
	dstBucket = "destination-1250000000"
	mib       = 1 << 20
)

// env is an emulator with an OSS source and a COS destination reached
// through the official SDKs.
type env struct {
	srv      *emulator.Server
	src, dst storage.Store
}

func newEnv(t testing.TB, dir string) *env {
	t.Helper()
	srv, err := emulator.Start(emulator.Config{
		Dir:            dir,
		OSSCredentials: map[string]string{"oss-ak": "oss-secret"},
		COSCredentials: map[string]string{"cos-id": "cos-key"},
		Buckets:        []string{srcBucket, dstBucket},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	src, err := oss.New(oss.Config{Endpoint: srv.OSSURL(), Bucket: srcBucket, AccessKeyID: "oss-ak", AccessKeySecret: "oss-secret"})
	if err != nil {
		t.Fatal(err)
	}
	dst, err := cos.New(cos.Config{Bucket: dstBucket, Region: "ap-guangzhou", Endpoint: srv.COSURL(), SecretID: "cos-id", SecretKey: "cos-key"})
	if err != nil {
		t.Fatal(err)
	}
	return &env{srv: srv, src: src, dst: dst}
}

func (e *env) seed(t testing.TB, key string, size int64, meta emulator.Meta) *emulator.Object {
	t.Helper()
	obj, err := e.srv.Backend.AddObject(srcBucket, key, emulator.GeneratedBlob(uint64(size)*31+uint64(len(key)), size), meta)
	if err != nil {
		t.Fatal(err)
	}
	return obj
}

// checkCopied asserts that the destination holds the same bytes (by CRC64
// and size) and metadata as the source.
func (e *env) checkCopied(t testing.TB, key string, res transfer.Result) {
	t.Helper()
	s := sameAtDestination(t, e.srv.Backend, key)
	if res.CRC64 != s.CRC64 || res.Size != s.Size {
		t.Errorf("%q: result says size %d CRC %d, source has %d and %d", key, res.Size, res.CRC64, s.Size, s.CRC64)
	}
}

// sameAtDestination asserts that the destination bucket holds the source
// object of key (size, CRC64, metadata) and returns the source object.
func sameAtDestination(t testing.TB, b *emulator.Backend, key string) *emulator.Object {
	t.Helper()
	s, err := b.Object(srcBucket, key)
	if err != nil {
		t.Fatal(err)
	}
	d, err := b.Object(dstBucket, key)
	if err != nil {
		t.Fatalf("%q not at the destination: %v", key, err)
	}
	if p := emulator.CompareObjects(s, d); p != "" {
		t.Errorf("%q: %s", key, p)
	}
	return s
}

func richMeta() emulator.Meta {
	return emulator.Meta{
		ContentType: "image/png", ContentEncoding: "identity", ContentDisposition: `attachment; filename="a.png"`,
		ContentLanguage: "zh-CN", CacheControl: "max-age=60", Expires: "Wed, 21 Oct 2026 07:28:00 GMT",
		User: map[string]string{"owner": "alice", "project": "migration"}, StorageClass: storage.ClassIA,
	}
}

// copyWithRetry retries retryable failures, resuming from the last
// checkpoint, as the activity layer does with heartbeats.
func copyWithRetry(ctx context.Context, c *transfer.Copier, req transfer.Request) (transfer.Result, int, error) {
	var lastErr error
	req.Progress = func(p transfer.Progress) { req.Resume = &p.Checkpoint }
	for attempt := 1; attempt <= 10; attempt++ {
		res, err := c.Copy(ctx, req)
		if err == nil {
			return res, attempt, nil
		}
		lastErr = err
		if !storage.IsRetryable(err) {
			return res, attempt, err
		}
	}
	return transfer.Result{}, 10, lastErr
}

func copySizes(t *testing.T, faults emulator.FaultConfig) {
	e := newEnv(t, "")
	e.srv.OSSFaults.Set(faults)
	e.srv.COSFaults.Set(faults)
	const threshold = 8 * mib
	c, err := transfer.New(transfer.Options{MultipartThreshold: threshold, PartSize: 4 * mib, PartsInFlight: 4})
	if err != nil {
		t.Fatal(err)
	}
	sizes := map[string]int64{
		"empty":                     0,
		"one byte":                  1,
		"dir/just under threshold":  threshold - 1,
		"dir/at threshold":          threshold,
		"dir/just over threshold+1": threshold + 1,
		"大文件/over 200 MiB.bin":      200*mib + 12345,
	}
	for key, size := range sizes {
		e.seed(t, key, size, richMeta())
	}
	ctx := context.Background()
	dst := &initiates{Store: e.dst}
	for key, size := range sizes {
		res, attempts, err := copyWithRetry(ctx, c, transfer.Request{Src: e.src, SrcKey: key, Dst: dst})
		if err != nil {
			t.Fatalf("copy %q: %v", key, err)
		}
		if want := size >= threshold; res.Multipart != want {
			t.Errorf("%q (%d bytes): multipart %v, want %v", key, size, res.Multipart, want)
		}
		t.Logf("%q: %d bytes in %d attempt(s), multipart=%v parts=%d", key, size, attempts, res.Multipart, res.Parts)
		e.checkCopied(t, key, res)
	}
	dst.checkLeftOpen(t, e.srv.Backend)
}

// initiates is a destination that remembers the multipart uploads it
// initiated for the copier: the ids it answered, and per key how many
// initiates failed.
//
// A copy guarantees that no upload it learned the id of is left open, and
// no more: an initiate whose answer is lost after the service created the
// upload (the fault front end cuts a response body halfway, the way a
// connection reset does) leaves an upload whose id nobody knows. Upload
// listings carry no owner, so the copy cannot tell it from another
// writer's upload of the key, which it must never abort (see Request.Owned
// and docs/control.md): a bucket lifecycle rule collects it. About one run
// in six of TestCopyOSSToCOSWithFaults has one.
type initiates struct {
	storage.Store
	mu     sync.Mutex
	known  map[string]bool // upload ids answered to the copier
	failed map[string]int  // key -> initiates that failed
}

func (s *initiates) InitMultipart(ctx context.Context, key string, meta storage.Metadata) (string, error) {
	id, err := s.Store.InitMultipart(ctx, key, meta)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		if s.failed == nil {
			s.failed = map[string]int{}
		}
		s.failed[key]++
		return id, err
	}
	if s.known == nil {
		s.known = map[string]bool{}
	}
	s.known[id] = true
	return id, nil
}

// checkLeftOpen asserts that every upload open at the destination is one
// whose id the copier was never told: of a key whose initiate failed, no
// more of them than its initiates that failed.
func (s *initiates) checkLeftOpen(t testing.TB, b *emulator.Backend) {
	t.Helper()
	open, _, err := b.Uploads(dstBucket, "", "", "", 10000)
	if err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	unknown := map[string]int{}
	for _, u := range open {
		if s.known[u.ID] {
			t.Errorf("upload %s of %q left open, though the copy knew it", u.ID, u.Key)
			continue
		}
		unknown[u.Key]++
	}
	for key, n := range unknown {
		if n > s.failed[key] {
			t.Errorf("%d upload(s) of %q left open that the copy never initiated or learned of; %d initiate(s) of it failed", n, key, s.failed[key])
		} else {
			t.Logf("%d upload(s) of %q left open whose initiate answer was lost: not the copy's to abort", n, key)
		}
	}
}

func TestCopyOSSToCOS(t *testing.T) {
	copySizes(t, emulator.FaultConfig{})
}

func TestCopyOSSToCOSWithFaults(t *testing.T) {
	copySizes(t, emulator.FaultConfig{ErrorRate: 0.05, ResetRate: 0.05})
}

func TestFaultsAreInjected(t *testing.T) {
	// Guards the test above: with these rates faults do happen.
	e := newEnv(t, "")
	e.srv.OSSFaults.Set(emulator.FaultConfig{ErrorRate: 0.05, ResetRate: 0.05})
	e.srv.COSFaults.Set(emulator.FaultConfig{ErrorRate: 0.05, ResetRate: 0.05})
	c, _ := transfer.New(transfer.Options{})
	for i := range 200 {
		key := fmt.Sprintf("k%03d", i)
		e.seed(t, key, 64<<10, emulator.Meta{})
		if _, _, err := copyWithRetry(context.Background(), c, transfer.Request{Src: e.src, SrcKey: key, Dst: e.dst}); err != nil {
			t.Fatalf("copy %q: %v", key, err)
		}
	}
	os, cs := e.srv.OSSFaults.Stats(), e.srv.COSFaults.Stats()
	if os.InjectedErrors+cs.InjectedErrors == 0 || os.Resets+cs.Resets == 0 {
		t.Fatalf("no faults injected: oss %+v cos %+v", os, cs)
	}
	t.Logf("survived %d errors and %d resets", os.InjectedErrors+cs.InjectedErrors, os.Resets+cs.Resets)
}

func TestResumeUploadsOnlyMissingParts(t *testing.T) {
	e := newEnv(t, "")
	const size = 40 * mib
	const partSize = 4 * mib // 10 parts
	e.seed(t, "big", size, richMeta())
	c, err := transfer.New(transfer.Options{MultipartThreshold: 8 * mib, PartSize: partSize, PartsInFlight: 2})
	if err != nil {
		t.Fatal(err)
	}
	// First attempt: killed once four parts are in.
	ctx, kill := context.WithCancel(context.Background())
	var last transfer.Progress
	_, err = c.Copy(ctx, transfer.Request{Src: e.src, SrcKey: "big", Dst: e.dst, Progress: func(p transfer.Progress) {
		last = p
		if p.PartsDone >= 4 {
			kill()
		}
	}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("first attempt: err = %v, want context.Canceled", err)
	}
	if last.Checkpoint.UploadID == "" || last.PartsDone < 4 {
		t.Fatalf("no usable checkpoint: %+v", last)
	}
	// A part upload cut by the kill may still be arriving: wait until the
	// emulator has seen no new request for a while.
	putsBefore := settledPuts(e)
	parts, _, err := e.srv.Backend.Parts(dstBucket, "big", last.Checkpoint.UploadID)
	if err != nil {
		t.Fatal(err)
	}
	uploaded := len(parts)

	// Second attempt, as a retried activity would run it from its heartbeat.
	cp := last.Checkpoint
	res, err := c.Copy(context.Background(), transfer.Request{Src: e.src, SrcKey: "big", Dst: e.dst, Resume: &cp})
	if err != nil {
		t.Fatal(err)
	}
	puts := e.srv.COSFaults.Stats().ByMethod[http.MethodPut] - putsBefore
	if res.PartsReused != uploaded {
		t.Errorf("reused %d parts, %d were uploaded", res.PartsReused, uploaded)
	}
	if want := int64(res.Parts - uploaded); puts != want {
		t.Errorf("resumed copy sent %d part uploads, want only the %d missing", puts, want)
	}
	if res.BytesWritten != size-int64(uploaded)*partSize {
		t.Errorf("resumed copy wrote %d bytes, want %d", res.BytesWritten, size-int64(uploaded)*partSize)
	}
	t.Logf("first attempt uploaded %d of %d parts; resume uploaded %d", uploaded, res.Parts, puts)
	e.checkCopied(t, "big", res)
}

func settledPuts(e *env) int64 {
	n := e.srv.COSFaults.Stats().ByMethod[http.MethodPut]
	for {
		time.Sleep(200 * time.Millisecond)
		m := e.srv.COSFaults.Stats().ByMethod[http.MethodPut]
		if m == n {
			return n
		}
		n = m
	}
}

func TestResumeAfterSourceChangedStartsAgain(t *testing.T) {
	e := newEnv(t, "")
	e.seed(t, "big", 20*mib, emulator.Meta{})
	c, _ := transfer.New(transfer.Options{MultipartThreshold: 8 * mib, PartSize: 4 * mib, PartsInFlight: 1})
	ctx, kill := context.WithCancel(context.Background())
	var last transfer.Progress
	c.Copy(ctx, transfer.Request{Src: e.src, SrcKey: "big", Dst: e.dst, Progress: func(p transfer.Progress) {
		last = p
		if p.PartsDone >= 2 {
			kill()
		}
	}})
	e.seed(t, "big", 20*mib+7, emulator.Meta{}) // replaced at the source
	cp := last.Checkpoint
	res, err := c.Copy(context.Background(), transfer.Request{Src: e.src, SrcKey: "big", Dst: e.dst, Resume: &cp})
	if err != nil {
		t.Fatal(err)
	}
	if res.PartsReused != 0 {
		t.Errorf("reused %d parts of a changed source", res.PartsReused)
	}
	e.checkCopied(t, "big", res)
	if n := e.srv.Backend.UploadCount(dstBucket); n != 0 {
		t.Errorf("stale upload not aborted: %d open", n)
	}
}

func TestSourceChangedDuringCopy(t *testing.T) {
	e := newEnv(t, "")
	e.seed(t, "moving", 20*mib, emulator.Meta{})
	c, _ := transfer.New(transfer.Options{MultipartThreshold: 8 * mib, PartSize: 4 * mib, PartsInFlight: 1, PartAttempts: 2})
	var once sync.Once
	_, err := c.Copy(context.Background(), transfer.Request{Src: e.src, SrcKey: "moving", Dst: e.dst, Progress: func(p transfer.Progress) {
		if p.PartsDone == 1 {
			once.Do(func() {
				e.seed(t, "moving", 20*mib, emulator.Meta{User: map[string]string{"v": "2"}})
				e.corruptSource(t, "moving")
			})
		}
	}})
	if storage.KindOf(err) != storage.KindChanged {
		t.Fatalf("err = %v (kind %v), want KindChanged", err, storage.KindOf(err))
	}
	if !storage.IsRetryable(err) {
		t.Error("a changed source should be retryable: the retry copies the new version")
	}
}

// corruptSource gives an object a new ETag without changing its size, as an
// overwrite with same-sized content would.
func (e *env) corruptSource(t testing.TB, key string) {
	if err := e.srv.Backend.UpdateObject(srcBucket, key, func(o *emulator.Object) {
		o.ETag = "0123456789ABCDEF0123456789ABCDEF"
		o.CRC64 ^= 1
	}); err != nil {
		t.Fatal(err)
	}
}

func TestSourceCRCMismatchIsCorrupt(t *testing.T) {
	e := newEnv(t, "")
	e.seed(t, "liar", 1000, emulator.Meta{})
	if err := e.srv.Backend.UpdateObject(srcBucket, "liar", func(o *emulator.Object) { o.CRC64 ^= 0xff }); err != nil {
		t.Fatal(err)
	}
	c, _ := transfer.New(transfer.Options{})
	_, err := c.Copy(context.Background(), transfer.Request{Src: e.src, SrcKey: "liar", Dst: e.dst})
	if storage.KindOf(err) != storage.KindCorrupt {
		t.Fatalf("err = %v, want KindCorrupt", err)
	}
	if _, err := e.srv.Backend.Object(dstBucket, "liar"); err == nil {
		t.Error("an object that failed verification was left at the destination")
	}
}

func TestMetadataTooLargeForCOS(t *testing.T) {
	e := newEnv(t, "")
	big := strings.Repeat("x", 1500)
	e.seed(t, "fat-meta", 10, emulator.Meta{User: map[string]string{"a": big, "b": big, "c": big, "d": big}}) // 6 KB: fine for OSS
	c, _ := transfer.New(transfer.Options{})
	_, err := c.Copy(context.Background(), transfer.Request{Src: e.src, SrcKey: "fat-meta", Dst: e.dst})
	if storage.KindOf(err) != storage.KindInvalid || storage.IsRetryable(err) {
		t.Fatalf("err = %v (kind %v), want a permanent KindInvalid", err, storage.KindOf(err))
	}
	if !strings.Contains(strings.ToLower(err.Error()), "metadata") {
		t.Errorf("error does not say what is wrong: %v", err)
	}
	if _, err := e.srv.Backend.Object(dstBucket, "fat-meta"); err == nil {
		t.Error("object written despite metadata the destination cannot hold")
	}
}

func TestArchivedSourceIsPermanent(t *testing.T) {
	e := newEnv(t, "")
	e.seed(t, "cold", 10, emulator.Meta{StorageClass: storage.ClassArchive})
	c, _ := transfer.New(transfer.Options{})
	_, err := c.Copy(context.Background(), transfer.Request{Src: e.src, SrcKey: "cold", Dst: e.dst})
	if storage.KindOf(err) != storage.KindArchived || storage.IsRetryable(err) {
		t.Fatalf("err = %v, want permanent KindArchived", err)
	}
	if err := e.srv.Backend.UpdateObject(srcBucket, "cold", func(o *emulator.Object) { o.Restored = true }); err != nil {
		t.Fatal(err)
	}
	res, err := c.Copy(context.Background(), transfer.Request{Src: e.src, SrcKey: "cold", Dst: e.dst})
	if err != nil {
		t.Fatalf("restored object: %v", err)
	}
	e.checkCopied(t, "cold", res)
}

func TestStorageClassForced(t *testing.T) {
	e := newEnv(t, "")
	e.seed(t, "k", 10, emulator.Meta{StorageClass: storage.ClassStandard})
	c, _ := transfer.New(transfer.Options{StorageClass: storage.ClassArchive})
	if _, err := c.Copy(context.Background(), transfer.Request{Src: e.src, SrcKey: "k", Dst: e.dst}); err != nil {
		t.Fatal(err)
	}
	d, _ := e.srv.Backend.Object(dstBucket, "k")
	if d.Meta.StorageClass != storage.ClassArchive {
		t.Errorf("destination class %q, want %q", d.Meta.StorageClass, storage.ClassArchive)
	}
}

func TestSourceWithoutCRCIsVerifiedByStreaming(t *testing.T) {
	e := newEnv(t, "")
	for _, k := range []struct {
		key  string
		size int64
	}{{"small-nocrc", 3000}, {"big-nocrc", 20 * mib}} {
		e.seed(t, k.key, k.size, emulator.Meta{})
		if err := e.srv.Backend.UpdateObject(srcBucket, k.key, func(o *emulator.Object) { o.NoCRC = true }); err != nil {
			t.Fatal(err)
		}
	}
	c, _ := transfer.New(transfer.Options{MultipartThreshold: 8 * mib, PartSize: 4 * mib})
	for _, key := range []string{"small-nocrc", "big-nocrc"} {
		res, err := c.Copy(context.Background(), transfer.Request{Src: e.src, SrcKey: key, Dst: e.dst})
		if err != nil {
			t.Fatal(err)
		}
		e.checkCopied(t, key, res)
	}
}

// TestMultipartMemoryIsBounded copies a large object to an on-disk
// destination and samples the heap: it must stay within parts in flight x
// part size plus a small constant, whatever the object size.
func TestMultipartMemoryIsBounded(t *testing.T) {
	e := newEnv(t, t.TempDir())
	const size = 256 * mib
	const partSize, inFlight = 8 * mib, 4
	e.seed(t, "huge", size, emulator.Meta{})
	c, _ := transfer.New(transfer.Options{MultipartThreshold: 16 * mib, PartSize: partSize, PartsInFlight: inFlight, MemoryBudget: partSize * inFlight})
	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	var peak atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var m runtime.MemStats
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			runtime.ReadMemStats(&m)
			if m.HeapInuse > peak.Load() {
				peak.Store(m.HeapInuse)
			}
		}
	}()
	res, err := c.Copy(context.Background(), transfer.Request{Src: e.src, SrcKey: "huge", Dst: e.dst})
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	e.checkCopied(t, "huge", res)
	grew := int64(peak.Load()) - int64(base.HeapInuse)
	limit := int64(partSize*inFlight) + 48*mib
	t.Logf("heap grew by %.1f MiB at most while copying %d MiB (budget %d MiB)", float64(grew)/mib, size/mib, partSize*inFlight/mib)
	if grew > limit {
		t.Errorf("heap grew by %d MiB, over the %d MiB bound", grew/mib, limit/mib)
	}
}

// TestPartsSpreadOverCallsResume: an upload begun by BeginMultipart is
// filled by CopyParts calls over runs of its parts (as activities on
// several workers do); a call over parts already uploaded sends nothing
// again, and a Copy resuming the upload completes it verified, uploading
// only the parts still missing.
func TestPartsSpreadOverCallsResume(t *testing.T) {
	e := newEnv(t, "")
	const size = 40 * mib // 10 parts of 4 MiB
	e.seed(t, "huge", size, richMeta())
	c, err := transfer.New(transfer.Options{MultipartThreshold: 8 * mib, PartSize: 4 * mib, PartsInFlight: 2})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	req := transfer.Request{Src: e.src, SrcKey: "huge", Dst: e.dst}
	u, err := c.BeginMultipart(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if u.Parts != 10 || u.UploadID == "" {
		t.Fatalf("upload %+v, want 10 parts", u)
	}
	first, err := c.CopyParts(ctx, req, u, 0, 6)
	if err != nil {
		t.Fatal(err)
	}
	if len(first.Parts) != 6 || first.BytesWritten != 6*4*mib {
		t.Fatalf("first run: %d parts, %d bytes", len(first.Parts), first.BytesWritten)
	}
	// A retried call over the same run finds its parts uploaded.
	again, err := c.CopyParts(ctx, req, u, 2, 6)
	if err != nil {
		t.Fatal(err)
	}
	if again.BytesWritten != 0 || len(again.Parts) != 4 {
		t.Errorf("retried run sent %d bytes for %d parts, want nothing", again.BytesWritten, len(again.Parts))
	}
	if _, err := c.CopyParts(ctx, req, u, 0, 11); err == nil {
		t.Error("a run past the last part was accepted")
	}
	cp := u.Checkpoint
	req.Resume = &cp
	res, err := c.Copy(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if res.PartsReused != 6 || res.BytesWritten != 4*4*mib {
		t.Errorf("completing copy reused %d parts and sent %d bytes, want 6 and the 4 missing parts", res.PartsReused, res.BytesWritten)
	}
	e.checkCopied(t, "huge", res)
}
