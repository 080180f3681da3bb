package activities_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"

	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/bucketferry/bucketferry/activities"
	"github.com/bucketferry/bucketferry/emulator"
	"github.com/bucketferry/bucketferry/migration"
	"github.com/bucketferry/bucketferry/storage"
	"github.com/bucketferry/bucketferry/storage/cos"
	"github.com/bucketferry/bucketferry/storage/local"
	"github.com/bucketferry/bucketferry/storage/oss"
	"github.com/bucketferry/bucketferry/transfer"
)

const (
	srcBucket = "source"
	dstBucket = "destination-1250000000"
	mib       = 1 << 20
)

// resolver maps store names to stores, as the worker configuration does.
type resolver map[string]storage.Store

func (r resolver) Store(name string) (storage.Store, error) {
	st, ok := r[name]
	if !ok {
		return nil, fmt.Errorf("unknown store %q", name)
	}
	return st, nil
}

// countingStore counts List calls.
type countingStore struct {
	storage.Store
	lists atomic.Int64
}

func (c *countingStore) List(ctx context.Context, opts storage.ListOptions) (storage.Page, error) {
	c.lists.Add(1)
	return c.Store.List(ctx, opts)
}

// localTree makes a local store holding keys (empty objects; the planner
// only looks at keys).
func localTree(t testing.TB, keys []string) *countingStore {
	t.Helper()
	dir := t.TempDir()
	for _, k := range keys {
		p := filepath.Join(dir, filepath.FromSlash(k))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	st, err := local.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	return &countingStore{Store: st}
}

func newActivityEnv(a *activities.Activities) *testsuite.TestActivityEnvironment {
	var s testsuite.WorkflowTestSuite
	s.SetLogger(tlog.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	env := s.NewTestActivityEnvironment()
	activities.Register(env, a)
	return env
}

func newActivities(t testing.TB, stores resolver, opts transfer.Options) *activities.Activities {
	t.Helper()
	c, err := transfer.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return &activities.Activities{Stores: stores, Copier: c}
}

// appError returns the application error in err's chain.
func appError(t testing.TB, err error) *temporal.ApplicationError {
	t.Helper()
	var ae *temporal.ApplicationError
	if !errors.As(err, &ae) {
		t.Fatalf("error %v is not an application error", err)
	}
	return ae
}

// checkShards asserts that shards are a contiguous partition of the key
// space, that each key falls in exactly one, and that the store lists each
// shard's keys from its bounds. It returns the keys per shard.
func checkShards(t testing.TB, st storage.Store, prefix string, shards []migration.Shard, keys []string) []int {
	t.Helper()
	if len(shards) == 0 {
		t.Fatal("no shards")
	}
	if shards[0].After != "" || shards[len(shards)-1].Before != "" {
		t.Fatalf("first shard after %q, last before %q: the ends must be unbounded", shards[0].After, shards[len(shards)-1].Before)
	}
	for i, s := range shards {
		if s.Index != i {
			t.Fatalf("shard %d has index %d", i, s.Index)
		}
		if i+1 < len(shards) {
			next := shards[i+1]
			if s.Before != storage.JustAfter(next.After) {
				t.Fatalf("shard %d ends before %q, shard %d starts after %q: not contiguous", i, s.Before, i+1, next.After)
			}
			if i > 0 && next.After <= s.After {
				t.Fatalf("shard %d starts after %q, not after shard %d's %q", i+1, next.After, i, s.After)
			}
		}
	}
	counts := make([]int, len(shards))
	for _, k := range keys {
		n := 0
		for i, s := range shards {
			if k > s.After && (s.Before == "" || k < s.Before) {
				n++
				counts[i]++
			}
		}
		if n != 1 {
			t.Fatalf("key %q is in %d shards", k, n)
		}
	}
	// The store agrees: listing each shard's range yields its keys.
	total := 0
	for i, s := range shards {
		got := 0
		opts := storage.ListOptions{Prefix: prefix, After: s.After, Before: s.Before}
		for {
			page, err := st.List(context.Background(), opts)
			if err != nil {
				t.Fatal(err)
			}
			got += len(page.Objects)
			if page.Done {
				break
			}
			opts.After = page.Next
		}
		if got != counts[i] {
			t.Fatalf("shard %d: store lists %d keys, expected %d", i, got, counts[i])
		}
		total += got
	}
	if total != len(keys) {
		t.Fatalf("shards hold %d keys, the source %d", total, len(keys))
	}
	return counts
}

// emuEnv is an emulator with an OSS source and a COS destination reached
// through the official SDKs.
type emuEnv struct {
	srv      *emulator.Server
	src, dst storage.Store
	stores   resolver
}

func newEmuEnv(t testing.TB) *emuEnv {
	t.Helper()
	srv, err := emulator.Start(emulator.Config{
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
	bad, err := cos.New(cos.Config{Bucket: dstBucket, Region: "ap-guangzhou", Endpoint: srv.COSURL(), SecretID: "cos-id", SecretKey: "wrong"})
	if err != nil {
		t.Fatal(err)
	}
	return &emuEnv{srv: srv, src: src, dst: dst, stores: resolver{"src": src, "dst": dst, "baddst": bad}}
}

func (e *emuEnv) seed(t testing.TB, key string, size int64, meta emulator.Meta) {
	t.Helper()
	if _, err := e.srv.Backend.AddObject(srcBucket, key, emulator.GeneratedBlob(uint64(size)*31+uint64(len(key)), size), meta); err != nil {
		t.Fatal(err)
	}
}

// checkCopied asserts that the destination holds key with the source's
// bytes and metadata.
func (e *emuEnv) checkCopied(t testing.TB, srcKey, dstKey string) {
	t.Helper()
	s, err := e.srv.Backend.Object(srcBucket, srcKey)
	if err != nil {
		t.Fatal(err)
	}
	d, err := e.srv.Backend.Object(dstBucket, dstKey)
	if err != nil {
		t.Fatalf("%q not at the destination: %v", dstKey, err)
	}
	if p := emulator.CompareObjects(s, d); p != "" {
		t.Errorf("%q: %s", dstKey, p)
	}
}

// dstKeys lists the destination keys outside the failure log.
func (e *emuEnv) dstKeys() []string {
	var out []string
	for _, k := range e.srv.Backend.Keys(dstBucket) {
		if len(k) < len("bucketferry-reports/") || k[:len("bucketferry-reports/")] != "bucketferry-reports/" {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}
