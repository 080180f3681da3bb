package verify_test

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bucketferry/bucketferry/emulator"
	"github.com/bucketferry/bucketferry/migration"
	"github.com/bucketferry/bucketferry/storage"
	"github.com/bucketferry/bucketferry/storage/cos"
	"github.com/bucketferry/bucketferry/storage/local"
	"github.com/bucketferry/bucketferry/storage/oss"
	"github.com/bucketferry/bucketferry/verify"
)

const (
	srcBucket = "source"
	dstBucket = "destination-1250000000"
)

type env struct {
	emu      *emulator.Server
	src, dst storage.Store
	keys     []string // source keys under data/
}

// newEnv seeds the OSS emulator bucket under data/ and copies it to the
// COS emulator bucket under moved/, plus keys outside both prefixes that
// verification must never look at.
func newEnv(t *testing.T) *env {
	t.Helper()
	emu, err := emulator.Start(emulator.Config{
		OSSCredentials: map[string]string{"ak": "secret"},
		COSCredentials: map[string]string{"id": "key"},
		Buckets:        []string{srcBucket, dstBucket},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emu.Close() })
	b := emu.Backend
	if _, err := emulator.Generate(b, srcBucket, emulator.DataSet{Objects: 120, MaxSize: 3000, Prefix: "data/", Seed: 7}); err != nil {
		t.Fatal(err)
	}
	e := &env{emu: emu}
	for _, k := range b.Keys(srcBucket) {
		o, _ := b.Object(srcBucket, k)
		if _, err := b.AddObject(dstBucket, "moved/"+strings.TrimPrefix(k, "data/"), o.Body, o.Meta); err != nil {
			t.Fatal(err)
		}
		e.keys = append(e.keys, k)
	}
	for _, k := range []string{"dat", "data", "datb/x", "other/y"} {
		add(t, b, srcBucket, k, "outside the source prefix")
	}
	for _, k := range []string{"moveb/x", "zzz"} {
		add(t, b, dstBucket, k, "outside the destination prefix")
	}
	e.src, err = oss.New(oss.Config{Endpoint: emu.OSSURL(), Bucket: srcBucket, AccessKeyID: "ak", AccessKeySecret: "secret"})
	if err != nil {
		t.Fatal(err)
	}
	e.dst, err = cos.New(cos.Config{Endpoint: emu.COSURL(), Bucket: dstBucket, Region: "ap-guangzhou", SecretID: "id", SecretKey: "key"})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func add(t *testing.T, b *emulator.Backend, bucket, key, body string) {
	t.Helper()
	if _, err := b.PutObject(bucket, key, strings.NewReader(body), int64(len(body)), emulator.Meta{}, nil); err != nil {
		t.Fatal(err)
	}
}

func (e *env) options(match func(string) bool) verify.Options {
	return verify.Options{Source: e.src, Destination: e.dst, SourcePrefix: "data/", DestPrefix: "moved/",
		Match: match, Workers: 4, PageSize: 7}
}

func run(t *testing.T, o verify.Options) (verify.Report, []verify.Diff) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var diffs []verify.Diff
	rep, err := verify.Run(ctx, o, func(d verify.Diff) error {
		diffs = append(diffs, d)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.IsSortedFunc(diffs, func(a, b verify.Diff) int { return strings.Compare(a.Key, b.Key) }) {
		t.Error("diffs not emitted in key order")
	}
	return rep, diffs
}

func byKind(diffs []verify.Diff) map[verify.Kind][]string {
	m := map[verify.Kind][]string{}
	for _, d := range diffs {
		m[d.Kind] = append(m[d.Kind], d.Key)
	}
	return m
}

// nonLog picks the i-th source key that the "*.log" exclusion keeps.
func (e *env) nonLog(t *testing.T, i int) string {
	t.Helper()
	for _, k := range e.keys {
		if !strings.HasSuffix(k, ".log") {
			if i == 0 {
				return k
			}
			i--
		}
	}
	t.Fatal("not enough keys")
	return ""
}

func dstOf(k string) string { return "moved/" + strings.TrimPrefix(k, "data/") }

// TestRunEmulators compares an OSS source with a COS destination through
// the SDKs: a corrupted object (same size, other bytes) is differing, a
// deleted one missing, an added one extra, a truncated one differing by
// size, an object without CRC64 unverifiable until -deep reads it; filters
// and prefixes are respected and the listings are merged page by page.
func TestRunEmulators(t *testing.T) {
	e := newEnv(t)
	b := e.emu.Backend
	match, err := migration.Filters{Exclude: []string{"*.log"}}.Matcher("data/")
	if err != nil {
		t.Fatal(err)
	}
	clean, diffs := run(t, e.options(match))
	if len(diffs) != 0 || clean.Equal == 0 || clean.Equal != clean.SourceObjects || clean.SourceObjects != clean.DestObjects ||
		clean.SourceBytes != clean.DestBytes {
		t.Fatalf("clean copy: %v, diffs %v", clean, diffs)
	}

	corrupt, deleted, truncated, noCRC, noCRCCorrupt := e.nonLog(t, 1), e.nonLog(t, 5), e.nonLog(t, 9), e.nonLog(t, 20), e.nonLog(t, 30)
	for _, k := range []string{corrupt, noCRCCorrupt} {
		o, _ := b.Object(dstBucket, dstOf(k))
		if o.Size == 0 {
			t.Fatalf("%q is empty: pick another", k)
		}
		if _, err := b.AddObject(dstBucket, dstOf(k), emulator.GeneratedBlob(99, o.Size), o.Meta); err != nil {
			t.Fatal(err)
		}
	}
	for _, k := range []string{noCRC, noCRCCorrupt} {
		if err := b.UpdateObject(dstBucket, dstOf(k), func(o *emulator.Object) { o.NoCRC = true }); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.DeleteObject(dstBucket, dstOf(deleted)); err != nil {
		t.Fatal(err)
	}
	add(t, b, dstBucket, dstOf(truncated), "short")
	add(t, b, dstBucket, "moved/extra/new.bin", "only at the destination")
	add(t, b, dstBucket, "moved/extra/ignored.log", "excluded by the filter")
	// A source-side .log change is out of scope too.
	var logKey string
	for _, k := range e.keys {
		if strings.HasSuffix(k, ".log") {
			logKey = k
			break
		}
	}
	if logKey != "" {
		if err := b.DeleteObject(dstBucket, dstOf(logKey)); err != nil {
			t.Fatal(err)
		}
	}

	heads := func() (int64, int64) {
		return e.emu.OSSFaults.Stats().ByMethod["HEAD"], e.emu.COSFaults.Stats().ByMethod["HEAD"]
	}
	srcHeads, dstHeads := heads()
	rep, diffs := run(t, e.options(match))
	got := byKind(diffs)
	// Listings of OSS and COS carry no CRC64: a HEAD each side for every
	// pair of equal sizes, none for the missing, extra or truncated ones.
	srcHeads2, dstHeads2 := heads()
	if want := rep.SourceObjects - rep.Missing - 1; srcHeads2-srcHeads != want || dstHeads2-dstHeads != want {
		t.Errorf("HEADs: %d at source, %d at destination, want %d each", srcHeads2-srcHeads, dstHeads2-dstHeads, want)
	}
	want := map[verify.Kind][]string{
		verify.Missing:      {deleted},
		verify.Extra:        {"data/extra/new.bin"},
		verify.Unverifiable: sorted(noCRC, noCRCCorrupt),
		verify.Differing:    sorted(corrupt, truncated),
	}
	for k, w := range want {
		if !slices.Equal(got[k], w) {
			t.Errorf("%v: got %q, want %q", k, got[k], w)
		}
	}
	if rep.Missing != 1 || rep.Extra != 1 || rep.Differing != 2 || rep.Unverifiable != 2 || rep.Equal != clean.Equal-5 {
		t.Errorf("report %v (clean %v)", rep, clean)
	}
	for _, d := range diffs {
		switch d.Key {
		case deleted:
			if d.DestKey != dstOf(deleted) || d.DestSize != -1 || d.SourceSize < 0 {
				t.Errorf("missing diff %+v", d)
			}
		case truncated:
			if d.DestSize != 5 || !strings.Contains(d.Reason, "size") {
				t.Errorf("truncated diff %+v", d)
			}
		case corrupt:
			if d.SourceSize != d.DestSize || !strings.Contains(d.Reason, "crc64") {
				t.Errorf("corrupt diff %+v", d)
			}
		case "data/extra/new.bin":
			if d.DestKey != "moved/extra/new.bin" || d.SourceSize != -1 {
				t.Errorf("extra diff %+v", d)
			}
		}
	}

	// Deep reads what has no CRC64: the intact one is equal, the corrupted
	// one differs.
	o := e.options(match)
	o.Deep = true
	rep, diffs = run(t, o)
	got = byKind(diffs)
	if len(got[verify.Unverifiable]) != 0 || !slices.Equal(got[verify.Differing], sorted(corrupt, truncated, noCRCCorrupt)) ||
		rep.Equal != clean.Equal-4 {
		t.Errorf("deep: %v %v", rep, got)
	}

	// Two halves of the key range add up to the whole.
	mid := e.keys[len(e.keys)/2]
	lo, hi := e.options(match), e.options(match)
	lo.Before = storage.JustAfter(mid)
	hi.After = mid
	whole, wholeDiffs := run(t, e.options(match))
	r1, d1 := run(t, lo)
	r2, d2 := run(t, hi)
	r1.Add(r2)
	if r1 != whole || len(d1)+len(d2) != len(wholeDiffs) || len(d1) == 0 || len(d2) == 0 {
		t.Errorf("halves %v (%d+%d diffs), whole %v (%d diffs)", r1, len(d1), len(d2), whole, len(wholeDiffs))
	}
	for _, d := range d1 {
		if d.Key > mid {
			t.Errorf("lower half reported %q", d.Key)
		}
	}
	for _, d := range d2 {
		if d.Key <= mid {
			t.Errorf("upper half reported %q", d.Key)
		}
	}

	// Count lists the source scope only.
	cnt, err := verify.Count(context.Background(), e.options(match))
	if err != nil || cnt.SourceObjects != rep.SourceObjects || cnt.SourceBytes != rep.SourceBytes {
		t.Errorf("count %v, want %d objects %d bytes: %v", cnt, rep.SourceObjects, rep.SourceBytes, err)
	}
}

func sorted(s ...string) []string {
	slices.Sort(s)
	return s
}

// TestRunFaults: errors the service answers now and then are retried;
// an object whose HEAD is denied is unverifiable, and the run goes on.
func TestRunFaults(t *testing.T) {
	e := newEnv(t)
	e.emu.OSSFaults.Set(emulator.FaultConfig{ErrorRate: 0.1})
	e.emu.COSFaults.Set(emulator.FaultConfig{ErrorRate: 0.1})
	rep, diffs := run(t, e.options(nil))
	if len(diffs) != 0 || rep.Equal != int64(len(e.keys)) {
		t.Fatalf("with transient errors: %v %v", rep, diffs)
	}
	if e.emu.OSSFaults.Stats().InjectedErrors == 0 || e.emu.COSFaults.Stats().InjectedErrors == 0 {
		t.Error("no errors injected")
	}

	denied := e.nonLog(t, 2)
	e.emu.COSFaults.Set(emulator.FaultConfig{Fail: func(r *http.Request) *emulator.APIError {
		if r.Method == http.MethodHead && strings.HasSuffix(r.URL.Path, "/"+dstOf(denied)) {
			return &emulator.APIError{Status: 403, Code: "AccessDenied", Message: "denied by the object ACL"}
		}
		return nil
	}})
	e.emu.OSSFaults.Set(emulator.FaultConfig{})
	rep, diffs = run(t, e.options(nil))
	if len(diffs) != 1 || diffs[0].Key != denied || diffs[0].Kind != verify.Unverifiable || !strings.Contains(diffs[0].Reason, "destination") ||
		rep.Equal != int64(len(e.keys))-1 {
		t.Errorf("denied HEAD: %v %+v", rep, diffs)
	}
}

// TestRunErrors: bad credentials stop the run with a classified error; an
// error of emit stops it too, wrapped.
func TestRunErrors(t *testing.T) {
	e := newEnv(t)
	bad, err := cos.New(cos.Config{Endpoint: e.emu.COSURL(), Bucket: dstBucket, Region: "ap-guangzhou", SecretID: "id", SecretKey: "wrong"})
	if err != nil {
		t.Fatal(err)
	}
	o := e.options(nil)
	o.Destination = bad
	_, err = verify.Run(context.Background(), o, nil)
	var se *storage.Error
	if !errors.As(err, &se) || se.Kind != storage.KindAccessDenied {
		t.Errorf("bad credentials: %v", err)
	}

	if err := e.emu.Backend.DeleteObject(dstBucket, dstOf(e.keys[3])); err != nil {
		t.Fatal(err)
	}
	stop := errors.New("stop here")
	_, err = verify.Run(context.Background(), e.options(nil), func(verify.Diff) error { return stop })
	if !errors.Is(err, stop) {
		t.Errorf("emit error: %v", err)
	}

	if _, err := verify.Run(context.Background(), verify.Options{Source: e.src}, nil); !errors.Is(err, verify.ErrOptions) {
		t.Errorf("no destination: %v", err)
	}
}

// TestRunLocal compares two local stores: there listings carry the CRC64,
// so no HEAD is needed; a file changed behind the store's back has no
// trustworthy CRC64 and is unverifiable until -deep hashes it.
func TestRunLocal(t *testing.T) {
	ctx := context.Background()
	srcDir, dstDir := t.TempDir(), t.TempDir()
	src, err := local.New(srcDir)
	if err != nil {
		t.Fatal(err)
	}
	dst, err := local.New(dstDir)
	if err != nil {
		t.Fatal(err)
	}
	put := func(st storage.Store, key, body string) {
		t.Helper()
		if _, err := st.Put(ctx, key, strings.NewReader(body), int64(len(body)), storage.Metadata{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, k := range []string{"a/1.txt", "a/2.txt", "a/3.txt", "a/b/4.txt", "a/b/5.tmp", "b/6.txt"} {
		put(src, k, "body of "+k)
		put(dst, k, "body of "+k)
	}
	put(dst, "a/2.txt", "BODY of a/2.txt")      // same size, other bytes
	put(dst, "a/7.txt", "extra")                // extra
	put(dst, "a/8.tmp", "extra but excluded")   // filtered
	put(src, "a/9.txt", "not copied yet")       // missing
	put(dst, "bucketferry-reports/x", "report") // ignored
	if err := os.WriteFile(filepath.Join(dstDir, "a", "3.txt"), []byte("BODY of a/3.txt"), 0o644); err != nil {
		t.Fatal(err)
	}
	match, err := migration.Filters{Exclude: []string{"*.tmp"}}.Matcher("")
	if err != nil {
		t.Fatal(err)
	}
	o := verify.Options{Source: src, Destination: dst, Match: match, IgnoreDest: []string{"bucketferry-reports/"}, PageSize: 2}
	rep, diffs := run(t, o)
	got := byKind(diffs)
	if !slices.Equal(got[verify.Differing], []string{"a/2.txt"}) || !slices.Equal(got[verify.Missing], []string{"a/9.txt"}) ||
		!slices.Equal(got[verify.Extra], []string{"a/7.txt"}) || !slices.Equal(got[verify.Unverifiable], []string{"a/3.txt"}) ||
		rep.Equal != 3 {
		t.Errorf("local: %v %v", rep, got)
	}
	o.Deep = true
	rep, diffs = run(t, o)
	got = byKind(diffs)
	if !slices.Equal(got[verify.Differing], []string{"a/2.txt", "a/3.txt"}) || rep.Unverifiable != 0 || rep.Equal != 3 {
		t.Errorf("local deep: %v %v", rep, got)
	}
}

func TestKindText(t *testing.T) {
	for k := verify.Equal; k <= verify.Unverifiable; k++ {
		b, _ := k.MarshalText()
		var back verify.Kind
		if err := back.UnmarshalText(b); err != nil || back != k {
			t.Errorf("%v: %q %v %v", k, b, back, err)
		}
	}
}
