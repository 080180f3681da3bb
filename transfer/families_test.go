package transfer_test

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/bucketferry/bucketferry/emulator"
	"github.com/bucketferry/bucketferry/storage"
	"github.com/bucketferry/bucketferry/storage/cos"
	"github.com/bucketferry/bucketferry/storage/oss"
	"github.com/bucketferry/bucketferry/storage/s3"
	"github.com/bucketferry/bucketferry/transfer"
)

// familyEnv is one emulator backend behind its OSS, COS and S3 front ends,
// so that any pair of checksum families can be copied between.
type familyEnv struct {
	srv            *emulator.Server
	ossSrc, cosDst storage.Store
	s3Src, s3Dst   storage.Store
}

func newFamilyEnv(t *testing.T, s3Faults emulator.FaultConfig) *familyEnv {
	t.Helper()
	srv, err := emulator.Start(emulator.Config{
		OSSCredentials: map[string]string{"oss-ak": "oss-secret"},
		COSCredentials: map[string]string{"cos-id": "cos-key"},
		S3Addr:         "127.0.0.1:0",
		S3Faults:       s3Faults,
		Buckets:        []string{srcBucket, dstBucket},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	e := &familyEnv{srv: srv}
	if e.ossSrc, err = oss.New(oss.Config{Endpoint: srv.OSSURL(), Bucket: srcBucket, AccessKeyID: "oss-ak", AccessKeySecret: "oss-secret"}); err != nil {
		t.Fatal(err)
	}
	if e.cosDst, err = cos.New(cos.Config{Bucket: dstBucket, Region: "ap-guangzhou", Endpoint: srv.COSURL(), SecretID: "cos-id", SecretKey: "cos-key"}); err != nil {
		t.Fatal(err)
	}
	for bucket, st := range map[string]*storage.Store{srcBucket: &e.s3Src, dstBucket: &e.s3Dst} {
		if *st, err = s3.New(s3.Config{Bucket: bucket, Region: "us-east-1", Endpoint: srv.S3URL(), PathStyle: true,
			AccessKeyID: emulator.DefaultS3AccessKeyID, SecretAccessKey: emulator.DefaultS3SecretAccessKey}); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

func (e *familyEnv) seed(t *testing.T, key string, size int64) {
	t.Helper()
	if _, err := e.srv.Backend.AddObject(srcBucket, key, emulator.GeneratedBlob(uint64(size)*7+uint64(len(key)), size),
		emulator.Meta{ContentType: "application/x-test", User: map[string]string{"k": "v"}}); err != nil {
		t.Fatal(err)
	}
}

func (e *familyEnv) checkCopied(t *testing.T, key string) { sameAtDestination(t, e.srv.Backend, key) }

// Every pair of families is verified twice where the source reports a
// checksum (Checked names both families) and once, counted, where it
// does not: an S3 multipart object has no MD5 of its own.
func TestCopyAcrossChecksumFamilies(t *testing.T) {
	e := newFamilyEnv(t, emulator.FaultConfig{})
	c, err := transfer.New(transfer.Options{MultipartThreshold: 8 * mib, PartSize: 5 * mib})
	if err != nil {
		t.Fatal(err)
	}
	// A multipart object at the S3 source, made through the S3 API.
	ctx := context.Background()
	mp := "multipart/at-s3.bin"
	if _, err := c.Copy(ctx, transfer.Request{Src: e.ossSrc, SrcKey: "seed", Dst: e.s3Src, DstKey: mp}); err == nil || !storage.IsNotFound(err) {
		t.Fatalf("copy of a missing object: %v", err)
	}
	e.seed(t, "seed-big", 12*mib)
	if _, err := c.Copy(ctx, transfer.Request{Src: e.ossSrc, SrcKey: "seed-big", Dst: e.s3Src, DstKey: mp}); err != nil {
		t.Fatal(err)
	}
	for _, k := range []struct {
		key  string
		size int64
	}{{"small.bin", 3000}, {"empty", 0}, {"big.bin", 13 * mib}, {"dir/ünï cödé+%2F.txt", 100}} {
		e.seed(t, k.key, k.size)
	}
	type want struct {
		checked  []storage.Algorithm
		destOnly bool
	}
	cases := []struct {
		name     string
		src, dst storage.Store
		key      string
		want     want
	}{
		{"oss->s3 single", e.ossSrc, e.s3Dst, "small.bin", want{[]storage.Algorithm{storage.CRC64ECMA, storage.MD5}, false}},
		{"oss->s3 empty", e.ossSrc, e.s3Dst, "empty", want{[]storage.Algorithm{storage.CRC64ECMA, storage.MD5}, false}},
		{"oss->s3 hostile key", e.ossSrc, e.s3Dst, "dir/ünï cödé+%2F.txt", want{[]storage.Algorithm{storage.CRC64ECMA, storage.MD5}, false}},
		{"oss->s3 multipart", e.ossSrc, e.s3Dst, "big.bin", want{[]storage.Algorithm{storage.CRC64ECMA, storage.MD5}, false}},
		// S3 reports a full-object CRC64NVME for every object, multipart
		// ones included: checked before the MD5, and combined from parts.
		{"s3->cos single", e.s3Src, e.cosDst, "small.bin", want{[]storage.Algorithm{storage.CRC64NVME, storage.CRC64ECMA}, false}},
		{"s3->cos multipart source", e.s3Src, e.cosDst, mp, want{[]storage.Algorithm{storage.CRC64NVME, storage.CRC64ECMA}, false}},
		{"s3->s3 single", e.s3Src, e.s3Dst, "dir/ünï cödé+%2F.txt", want{[]storage.Algorithm{storage.CRC64NVME, storage.MD5}, false}},
		{"s3->s3 multipart", e.s3Src, e.s3Dst, mp, want{[]storage.Algorithm{storage.CRC64NVME, storage.MD5}, false}},
		{"s3->s3 big single-part source", e.s3Src, e.s3Dst, "big.bin", want{[]storage.Algorithm{storage.CRC64NVME, storage.MD5}, false}},
		// An S3-compatible store that reports only MD5 ETags: checked by
		// MD5 in one piece, at the destination only in parts.
		{"md5-only s3->cos single", md5Only{e.s3Src}, e.cosDst, "small.bin", want{[]storage.Algorithm{storage.MD5, storage.CRC64ECMA}, false}},
		{"md5-only s3->cos multipart source", md5Only{e.s3Src}, e.cosDst, mp, want{[]storage.Algorithm{storage.CRC64ECMA}, true}},
		{"md5-only s3->s3 big single-part source", md5Only{e.s3Src}, e.s3Dst, "big.bin", want{[]storage.Algorithm{storage.MD5}, true}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_ = e.srv.Backend.DeleteObject(dstBucket, tc.key)
			res, err := c.Copy(ctx, transfer.Request{Src: tc.src, SrcKey: tc.key, Dst: tc.dst})
			if err != nil {
				t.Fatal(err)
			}
			e.checkCopied(t, tc.key)
			if !slices.Equal(res.Checked, tc.want.checked) || res.DestinationOnly != tc.want.destOnly {
				t.Errorf("checked %v, destination only %v; want %v, %v", res.Checked, res.DestinationOnly, tc.want.checked, tc.want.destOnly)
			}
		})
	}
}

// md5Only is an S3-compatible store that reports no full-object checksum
// (older MinIO, many other clouds): only its single-part MD5 ETags.
type md5Only struct{ storage.Store }

func onlyMD5(info storage.ObjectInfo) storage.ObjectInfo {
	info.Checksums = slices.DeleteFunc(slices.Clone(info.Checksums), func(c storage.Checksum) bool { return c.Alg != storage.MD5 })
	return info
}

func (m md5Only) Head(ctx context.Context, key string) (storage.ObjectInfo, error) {
	info, err := m.Store.Head(ctx, key)
	return onlyMD5(info), err
}

func (m md5Only) Get(ctx context.Context, key string, rng storage.Range) (io.ReadCloser, storage.ObjectInfo, error) {
	rc, info, err := m.Store.Get(ctx, key, rng)
	return rc, onlyMD5(info), err
}

// A source whose MD5 (ETag) is not its data's is caught, and nothing is
// left at the destination.
func TestS3SourceMD5MismatchIsCorrupt(t *testing.T) {
	e := newFamilyEnv(t, emulator.FaultConfig{})
	e.seed(t, "liar", 1000)
	if err := e.srv.Backend.UpdateObject(srcBucket, "liar", func(o *emulator.Object) { o.ETag = "0123456789ABCDEF0123456789ABCDEF" }); err != nil {
		t.Fatal(err)
	}
	c, _ := transfer.New(transfer.Options{})
	_, err := c.Copy(context.Background(), transfer.Request{Src: md5Only{e.s3Src}, SrcKey: "liar", Dst: e.cosDst})
	if storage.KindOf(err) != storage.KindCorrupt || !strings.Contains(err.Error(), "md5") {
		t.Fatalf("err = %v, want KindCorrupt naming md5", err)
	}
	if _, err := e.srv.Backend.Object(dstBucket, "liar"); err == nil {
		t.Error("an object that failed verification was left at the destination")
	}
}

// lyingETags makes an S3 destination answer writes with a wrong ETag, as
// a store that damaged the data would.
type lyingETags struct {
	storage.Store
	parts bool
}

func (l lyingETags) Put(ctx context.Context, key string, r io.Reader, size int64, meta storage.Metadata) (storage.PutResult, error) {
	res, err := l.Store.Put(ctx, key, r, size, meta)
	if err == nil && !l.parts {
		res.ETag = "00000000000000000000000000000000"
		res.Checksums = []storage.Checksum{{Alg: storage.MD5, Value: res.ETag}}
	}
	return res, err
}

func (l lyingETags) UploadPart(ctx context.Context, key, id string, n int, r io.Reader, size int64) (storage.Part, error) {
	p, err := l.Store.UploadPart(ctx, key, id, n, r, size)
	if err == nil && l.parts && n == 2 {
		p.Checksums = []storage.Checksum{{Alg: storage.MD5, Value: "00000000000000000000000000000000"}}
	}
	return p, err
}

func TestS3DestinationMismatchIsCorrupt(t *testing.T) {
	e := newFamilyEnv(t, emulator.FaultConfig{})
	e.seed(t, "small", 1000)
	e.seed(t, "big", 11*mib)
	c, _ := transfer.New(transfer.Options{MultipartThreshold: 8 * mib, PartSize: 5 * mib})
	for key, dst := range map[string]storage.Store{"small": lyingETags{Store: e.s3Dst}, "big": lyingETags{Store: e.s3Dst, parts: true}} {
		_, err := c.Copy(context.Background(), transfer.Request{Src: e.ossSrc, SrcKey: key, Dst: dst})
		if storage.KindOf(err) != storage.KindCorrupt {
			t.Errorf("%s: err = %v, want KindCorrupt", key, err)
		}
		if _, err := e.srv.Backend.Object(dstBucket, key); err == nil {
			t.Errorf("%s: an object that failed verification was left at the destination", key)
		}
	}
}

// A single-part copy checks a full-object checksum before the MD5.
func TestS3FullObjectChecksumIsChecked(t *testing.T) {
	e := newFamilyEnv(t, emulator.FaultConfig{})
	e.seed(t, "good", 5000)
	e.seed(t, "bad", 5000)
	src := &fullObjectSumStore{fullObjectSum: fullObjectSum{Store: md5Only{e.s3Src}, alg: storage.CRC32C, b: e.srv.Backend, bad: map[string]bool{"bad": true}}, t: t}
	c, _ := transfer.New(transfer.Options{})
	res, err := c.Copy(context.Background(), transfer.Request{Src: src, SrcKey: "good", Dst: e.cosDst})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Checked, []storage.Algorithm{storage.CRC32C, storage.CRC64ECMA}) {
		t.Errorf("checked %v, want the full-object CRC32C before the MD5", res.Checked)
	}
	if _, err := c.Copy(context.Background(), transfer.Request{Src: src, SrcKey: "bad", Dst: e.cosDst}); storage.KindOf(err) != storage.KindCorrupt {
		t.Errorf("a wrong full-object CRC32C: %v, want KindCorrupt", err)
	}
}

// Through faults of the S3 front end (5xx, cut bodies), copies retried as
// jobs retry them end verified.
func TestCopyFromS3WithFaults(t *testing.T) {
	e := newFamilyEnv(t, emulator.FaultConfig{ErrorRate: 0.05, ResetRate: 0.02})
	c, _ := transfer.New(transfer.Options{MultipartThreshold: 8 * mib, PartSize: 5 * mib})
	for i, size := range []int64{1, 4000, 300 << 10, 11 * mib} {
		key := fmt.Sprintf("faulty/%d", i)
		e.seed(t, key, size)
		if _, _, err := copyWithRetry(context.Background(), c, transfer.Request{Src: e.s3Src, SrcKey: key, Dst: e.cosDst}); err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		e.checkCopied(t, key)
	}
}

// fullObjectSum reports, as S3 does for new objects, a full-object
// checksum of a family on HEADs and whole reads; bad names the keys it
// reports a wrong one for.
type fullObjectSum struct {
	storage.Store
	alg storage.Algorithm
	b   *emulator.Backend
	bad map[string]bool
}

func (f fullObjectSum) sum(t *testing.T, key string) storage.Checksum {
	obj, err := f.b.Object(srcBucket, key)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := obj.Open(0, obj.Size)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	h, _ := storage.NewHash(f.alg)
	if _, err := io.Copy(h, rc); err != nil {
		t.Fatal(err)
	}
	v := storage.HashValue(h)
	if f.bad[key] {
		v = strings.Repeat("0", len(v))
	}
	return storage.Checksum{Alg: f.alg, Value: v}
}

// A copy in parts checks a source's full-object CRC (here CRC64NVME, which
// S3 gives every new object) by combining the parts' CRCs: verified twice,
// not at the destination only; a wrong one is caught before the upload is
// completed, and the upload is aborted.
func TestMultipartChecksSourceCRCFamily(t *testing.T) {
	e := newFamilyEnv(t, emulator.FaultConfig{})
	e.seed(t, "good.bin", 13*mib+3)
	e.seed(t, "bad.bin", 13*mib+3)
	c, _ := transfer.New(transfer.Options{MultipartThreshold: 8 * mib, PartSize: 5 * mib})
	for _, alg := range []storage.Algorithm{storage.CRC64NVME, storage.CRC32C, storage.CRC32} {
		for _, dst := range []storage.Store{e.cosDst, e.s3Dst} {
			t.Run(string(alg)+" to "+dst.Name(), func(t *testing.T) {
				src := &fullObjectSumStore{fullObjectSum: fullObjectSum{Store: md5Only{e.s3Src}, alg: alg, b: e.srv.Backend, bad: map[string]bool{"bad.bin": true}}, t: t}
				res, err := c.Copy(context.Background(), transfer.Request{Src: src, SrcKey: "good.bin", Dst: dst})
				if err != nil {
					t.Fatal(err)
				}
				e.checkCopied(t, "good.bin")
				if res.DestinationOnly || len(res.Checked) != 2 || res.Checked[0] != alg {
					t.Errorf("checked %v, destination only %v; want %s first, verified twice", res.Checked, res.DestinationOnly, alg)
				}
				_, err = c.Copy(context.Background(), transfer.Request{Src: src, SrcKey: "bad.bin", Dst: dst})
				if storage.KindOf(err) != storage.KindCorrupt || !strings.Contains(err.Error(), string(alg)) {
					t.Errorf("a wrong source %s: %v, want KindCorrupt", alg, err)
				}
				if _, err := e.srv.Backend.Object(dstBucket, "bad.bin"); err == nil {
					t.Error("a copy that failed verification is at the destination")
				}
				if n := e.srv.Backend.UploadCount(dstBucket); n != 0 {
					t.Errorf("%d uploads left open", n)
				}
			})
		}
	}
}

type fullObjectSumStore struct {
	fullObjectSum
	t *testing.T
}

func (f *fullObjectSumStore) Head(ctx context.Context, key string) (storage.ObjectInfo, error) {
	info, err := f.Store.Head(ctx, key)
	if err == nil {
		info.Checksums = append(info.Checksums, f.sum(f.t, key))
	}
	return info, err
}

func (f *fullObjectSumStore) Get(ctx context.Context, key string, rng storage.Range) (io.ReadCloser, storage.ObjectInfo, error) {
	rc, info, err := f.Store.Get(ctx, key, rng)
	if err == nil && rng.IsWhole() {
		info.Checksums = append(info.Checksums, f.sum(f.t, key))
	}
	return rc, info, err
}
