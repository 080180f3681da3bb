package transfer_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/bucketferry/bucketferry/emulator"
	"github.com/bucketferry/bucketferry/storage"
	"github.com/bucketferry/bucketferry/transfer"
	"golang.org/x/sync/errgroup"
)

// BenchmarkCopyLarge copies one 1 GiB object from the OSS emulator to the COS
// emulator through both SDKs with the default options; MB/s is the figure.
func BenchmarkCopyLarge(b *testing.B) {
	e := newEnv(b, "")
	const size = 1 << 30
	e.seed(b, "large", size, emulator.Meta{ContentType: "application/octet-stream"})
	c, err := transfer.New(transfer.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(size)
	b.ResetTimer()
	for b.Loop() {
		res, err := c.Copy(context.Background(), transfer.Request{Src: e.src, SrcKey: "large", Dst: e.dst})
		if err != nil {
			b.Fatal(err)
		}
		if res.Size != size {
			b.Fatalf("copied %d bytes", res.Size)
		}
	}
}

// BenchmarkCopySmall copies 4 KiB objects, 1,000 per batch as a shard's
// activity does, and reports objects/s.
func BenchmarkCopySmall(b *testing.B) {
	e := newEnv(b, "")
	const n = 1000
	objs := make([]storage.ObjectInfo, n)
	for i := range objs {
		key := fmt.Sprintf("small/%05d", i)
		e.seed(b, key, 4096, emulator.Meta{ContentType: "text/plain"})
		objs[i] = storage.ObjectInfo{Key: key, Size: 4096}
	}
	c, err := transfer.New(transfer.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	total := 0
	for b.Loop() {
		var g errgroup.Group
		g.SetLimit(64)
		for _, obj := range objs {
			g.Go(func() error {
				_, err := c.Copy(context.Background(), transfer.Request{Src: e.src, SrcKey: obj.Key, Dst: e.dst, Listed: &obj})
				return err
			})
		}
		if err := g.Wait(); err != nil {
			b.Fatal(err)
		}
		total += n
	}
	b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "objects/s")
	b.SetBytes(n * 4096)
}
