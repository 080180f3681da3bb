package integration

import (
	"bytes"
	"context"
	"crypto/md5"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bucketferry/bucketferry/emulator"
	"github.com/bucketferry/bucketferry/migration"
	"github.com/bucketferry/bucketferry/storage"
	"github.com/bucketferry/bucketferry/verify"
)

// Buckets of the other sources and destinations, in the same emulator.
const (
	cosSrcBucket = "cossource-1250000000"
	ossDstBucket = "ossdestination"
)

// sourceStores are the stores of this file's jobs: the S3 front end over
// the source bucket, a COS source and an OSS destination.
func sourceStores(emu *emulator.Server) string {
	return fmt.Sprintf(`  s3src:
    type: s3
    endpoint: %q
    region: us-east-1
    pathStyle: true
    bucket: %s
    accessKeyId: %s
    secretAccessKey: %s
  cossrc:
    type: cos
    endpoint: %q
    bucket: %s
    region: ap-guangzhou
    secretId: cos-id
    secretKey: cos-key
  ossdst:
    type: oss
    endpoint: %q
    bucket: %s
    accessKeyId: oss-ak
    accessKeySecret: oss-secret
`, emu.S3URL(), srcBucket, emulator.DefaultS3AccessKeyID, emulator.DefaultS3SecretAccessKey,
		emu.COSURL(), cosSrcBucket, emu.OSSURL(), ossDstBucket)
}

// verifyStores runs what `starter verify` runs, deep, and wants every
// object equal.
func (h *harness) verifyStores(t *testing.T, src, srcPrefix, dst, dstPrefix string, want int64) verify.Report {
	t.Helper()
	s, err := h.cfg.Store(src)
	if err != nil {
		t.Fatal(err)
	}
	d, err := h.cfg.Store(dst)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var diffs []verify.Diff
	rep, err := verify.Run(ctx, verify.Options{Source: s, Destination: d, SourcePrefix: srcPrefix, DestPrefix: dstPrefix,
		Deep: true, IgnoreDest: []string{"bucketferry-reports/"}}, func(d verify.Diff) error {
		diffs = append(diffs, d)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Equal != want || rep.Differences() != 0 {
		t.Errorf("verify %s -> %s: %+v, want %d equal and no differences; first diffs %+v", src, dst, rep, want, diffs[:min(len(diffs), 5)])
	}
	return rep
}

// TestJobS3ToCOS: a bucket behind the S3 front end, with hostile keys,
// multipart-sized objects and objects uploaded in parts through the S3
// API, to COS: succeeded, every object verified twice (the multipart ones,
// whose ETags are no MD5s, by their full-object CRC64NVME).
func TestJobS3ToCOS(t *testing.T) {
	h := newHarnessStores(t, sourceStores)
	st, err := emulator.Generate(h.emu.Backend, srcBucket, emulator.DataSet{
		Objects: 400, MaxSize: 64 << 10, Large: 2, LargeSize: 12*mib + 5, Seed: 17,
	})
	if err != nil {
		t.Fatal(err)
	}
	// Objects uploaded in parts through S3 itself: their ETags are MD5s of
	// MD5s, not of their data.
	s3src, err := h.cfg.Store("s3src")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	multipart := []string{"multipart/über 100%/parts & more.bin", "multipart/照片+1.bin"}
	for i, key := range multipart {
		id, err := s3src.InitMultipart(ctx, key, storage.Metadata{ContentType: "application/x-parts", User: map[string]string{"n": fmt.Sprint(i)}})
		if err != nil {
			t.Fatal(err)
		}
		var parts []storage.Part
		for n, size := range []int64{5 * mib, 5 * mib, 3*mib + int64(i)} {
			data := bytes.Repeat([]byte{byte(n + i*7)}, int(size))
			p, err := s3src.UploadPart(ctx, key, id, n+1, bytes.NewReader(data), size)
			if err != nil {
				t.Fatal(err)
			}
			parts = append(parts, p)
			st.Bytes += size
		}
		if _, err := s3src.CompleteMultipart(ctx, key, id, parts); err != nil {
			t.Fatal(err)
		}
		st.Objects++
	}
	h.startWorker(t)
	spec := baseSpec()
	spec.Source.Store = "s3src"
	spec.Shards = 6
	res, err := h.wait(t, h.startJob(t, "job-s3-cos", spec), 5*time.Minute)
	if err != nil {
		t.Fatalf("job failed: %v", err)
	}
	t.Logf("result: %+v", res.Counts)
	if res.Status != migration.StatusSucceeded || res.Counts.Copied != int64(st.Objects) || res.Counts.BytesCopied != st.Bytes {
		t.Fatalf("status %q, copied %d objects / %d bytes; want %q, %d / %d (sample %+v)", res.Status,
			res.Counts.Copied, res.Counts.BytesCopied, migration.StatusSucceeded, st.Objects, st.Bytes, res.FailureSample)
	}
	// S3 gives every object a full-object CRC64NVME, multipart ones
	// included, and copies in parts combine their parts' CRCs to check it:
	// every object is verified twice.
	if res.Counts.DestinationOnlyVerified != 0 {
		t.Errorf("%d objects verified at the destination only, want none", res.Counts.DestinationOnlyVerified)
	}
	if n := h.verifyAll(t, nil); n != st.Objects {
		t.Errorf("verified %d of %d objects", n, st.Objects)
	}
	if n := h.emu.Backend.UploadCount(dstBucket); n != 0 {
		t.Errorf("%d multipart uploads left open", n)
	}
	h.verifyStores(t, "s3src", "", "dst", "", int64(st.Objects))
}

// TestJobCOSToOSS: COS as a source, OSS as a destination, both in the
// CRC64 family.
func TestJobCOSToOSS(t *testing.T) {
	h := newHarnessStores(t, sourceStores)
	st, err := emulator.Generate(h.emu.Backend, cosSrcBucket, emulator.DataSet{
		Objects: 300, MaxSize: 32 << 10, Large: 1, LargeSize: 10*mib + 3, Seed: 23,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.emu.Backend.CreateBucket(ossDstBucket); err != nil {
		t.Fatal(err)
	}
	h.startWorker(t)
	spec := baseSpec()
	spec.Source.Store, spec.Destination.Store = "cossrc", "ossdst"
	spec.Shards = 4
	res, err := h.wait(t, h.startJob(t, "job-cos-oss", spec), 5*time.Minute)
	if err != nil {
		t.Fatalf("job failed: %v", err)
	}
	if res.Status != migration.StatusSucceeded || res.Counts.Copied != int64(st.Objects) || res.Counts.DestinationOnlyVerified != 0 {
		t.Fatalf("status %q, counts %+v; want %q with %d copied, all verified twice", res.Status, res.Counts, migration.StatusSucceeded, st.Objects)
	}
	if n := h.verifyBuckets(t, cosSrcBucket, ossDstBucket, nil); n != st.Objects {
		t.Errorf("verified %d of %d objects", n, st.Objects)
	}
	h.verifyStores(t, "cossrc", "", "ossdst", "", int64(st.Objects))
}

// webSite serves a URL list's objects: plain files (by http.ServeContent,
// which answers ranges), a redirect, a slow file and a large one; it
// counts ranged requests.
type webSite struct {
	files  map[string][]byte
	ranged atomic.Int64
	heal   atomic.Bool // serve /gone.txt from now on
}

func (w *webSite) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Range") != "" {
		w.ranged.Add(1)
	}
	switch r.URL.Path {
	case "/old/location.txt":
		http.Redirect(rw, r, "/files/moved.txt", http.StatusMovedPermanently)
		return
	case "/gone.txt":
		if !w.heal.Load() {
			http.NotFound(rw, r)
			return
		}
	case "/slow.bin":
		// Dribbles its body out, well within the stall timeout.
		body := w.files[r.URL.Path]
		rw.Header().Set("Content-Length", fmt.Sprint(len(body)))
		if r.Method == http.MethodHead {
			return
		}
		for off := 0; off < len(body); off += 4 << 10 {
			if _, err := rw.Write(body[off:min(off+4<<10, len(body))]); err != nil {
				return
			}
			rw.(http.Flusher).Flush()
			time.Sleep(20 * time.Millisecond)
		}
		return
	}
	body, ok := w.files[r.URL.Path]
	if !ok {
		http.NotFound(rw, r)
		return
	}
	rw.Header().Set("Content-Type", "application/x-web")
	http.ServeContent(rw, r, "", time.Unix(1700000000, 0), bytes.NewReader(body))
}

// TestJobURLListToCOS: a URL list served by a local HTTP server to COS: a
// redirect followed, a slow server waited for, an object over the
// multipart threshold copied with ranged GETs, a 404 recorded as a
// failure with its status; then retried once the URL is served.
func TestJobURLListToCOS(t *testing.T) {
	site := &webSite{files: map[string][]byte{
		"/files/a.txt":        []byte("alpha"),
		"/files/moved.txt":    []byte("moved here"),
		"/files/ünï code.txt": []byte("unicode"),
		"/files/empty":        {},
		"/slow.bin":           bytes.Repeat([]byte("slow"), 40<<10/4),
		"/big/large.bin":      emulatorBytes(t, 11*mib+7),
		"/gone.txt":           []byte("back again"),
	}}
	srv := httptest.NewServer(site)
	t.Cleanup(srv.Close)
	md5a := md5.Sum(site.files["/files/a.txt"])
	manifest := filepath.Join(t.TempDir(), "urls.csv")
	lines := []string{
		"url,size,md5",
		fmt.Sprintf("%s/files/a.txt,5,%x", srv.URL, md5a),
		srv.URL + "/old/location.txt",
		srv.URL + "/files/%C3%BCn%C3%AF%20code.txt",
		srv.URL + "/files/empty,0",
		srv.URL + "/slow.bin",
		fmt.Sprintf("%s/big/large.bin,%d", srv.URL, 11*mib+7),
		srv.URL + "/gone.txt",
	}
	if err := os.WriteFile(manifest, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	h := newHarnessStores(t, func(emu *emulator.Server) string {
		return sourceStores(emu) + fmt.Sprintf("  urls:\n    type: urllist\n    manifest: %q\n", manifest)
	})
	h.startWorker(t)
	spec := baseSpec()
	spec.Source.Store = "urls"
	spec.Destination.Prefix = "web/"
	spec.Shards = 3
	spec.MaxAttempts = 2
	res, err := h.wait(t, h.startJob(t, "job-urls", spec), 5*time.Minute)
	if err != nil {
		t.Fatalf("job failed: %v", err)
	}
	t.Logf("result: %+v", res.Counts)
	if res.Status != migration.StatusCompletedWithFailures || res.Counts.Copied != 6 || res.Counts.Failed != 1 {
		t.Fatalf("status %q, counts %+v; want %q with 6 copied and the 404 failed", res.Status, res.Counts, migration.StatusCompletedWithFailures)
	}
	// Only a.txt came with an MD5: every other URL is verified at COS only.
	if res.Counts.DestinationOnlyVerified != 5 {
		t.Errorf("%d verified at the destination only, want 5", res.Counts.DestinationOnlyVerified)
	}
	fails := h.failureLog(t, res.FailureLog)
	if len(fails) != 1 || fails[0].Key != "gone.txt" || !strings.Contains(fails[0].Reason, "HTTP 404") || fails[0].Kind != storage.KindNotFound.String() {
		t.Fatalf("failure log %+v, want gone.txt with HTTP 404 (not found)", fails)
	}
	if site.ranged.Load() == 0 {
		t.Error("the large object was not read with ranged GETs")
	}
	// Keys are the manifest URLs' paths (the redirect's too).
	want := map[string]string{"files/a.txt": "/files/a.txt", "old/location.txt": "/files/moved.txt",
		"files/ünï code.txt": "/files/ünï code.txt", "files/empty": "/files/empty", "slow.bin": "/slow.bin",
		"big/large.bin": "/big/large.bin"}
	check := func() {
		t.Helper()
		for key, path := range want {
			d, err := h.emu.Backend.Object(dstBucket, "web/"+key)
			if err != nil {
				t.Errorf("web/%s missing at the destination: %v", key, err)
				continue
			}
			if d.CRC64 != storage.CRC64(site.files[path]) || d.Size != int64(len(site.files[path])) {
				t.Errorf("web/%s differs from %s", key, path)
			}
		}
	}
	check()

	// The URL is served again: a retry of the failures copies it, as for
	// any job.
	site.heal.Store(true)
	retry := spec
	retry.Filters.Manifest = &migration.ManifestRef{Store: res.FailureLog.Store, Format: migration.ManifestFailures,
		Prefix: res.FailureLog.Prefix + "failures/"}
	res, err = h.wait(t, h.startJob(t, "job-urls-retry-1", retry), 3*time.Minute)
	if err != nil {
		t.Fatalf("retry failed: %v", err)
	}
	if res.Status != migration.StatusSucceeded || res.Counts.Copied != 1 || res.Counts.Objects() != 1 {
		t.Fatalf("retry: status %q, counts %+v; want the one URL copied", res.Status, res.Counts)
	}
	want["gone.txt"] = "/gone.txt"
	check()
	h.verifyStores(t, "urls", "", "dst", "web/", int64(len(want)))

	// A URL list is no destination: the job fails at once, saying so.
	bad := baseSpec()
	bad.Destination.Store = "urls"
	_, err = h.wait(t, h.startJob(t, "job-into-urls", bad), time.Minute)
	if err == nil || !strings.Contains(err.Error(), "read-only") || appErrorType(err) != migration.ErrFatal {
		t.Errorf("job into a URL list: %v, want a fatal read-only error", err)
	}
}

// emulatorBytes is a deterministic body of n bytes.
func emulatorBytes(t *testing.T, n int64) []byte {
	t.Helper()
	rc, err := emulator.GeneratedBlob(uint64(n), n).Open(0, n)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
