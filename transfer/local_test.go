package transfer_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/bucketferry/bucketferry/emulator"
	"github.com/bucketferry/bucketferry/storage"
	"github.com/bucketferry/bucketferry/storage/local"
	"github.com/bucketferry/bucketferry/transfer"
)

// TestCopyAnyToAny moves objects disk -> COS -> disk and OSS -> disk: the
// engine works between any two stores, verifying each hop.
func TestCopyAnyToAny(t *testing.T) {
	e := newEnv(t, "")
	dir := t.TempDir()
	files := map[string][]byte{
		"plain.txt":            []byte("hello"),
		"nested/dir/empty":     nil,
		"nested/数据 & more.bin": bytes.Repeat([]byte{1, 2, 3}, 3*mib), // multipart at a 4 MiB threshold
	}
	for name, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	disk, err := local.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	back, err := local.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c, _ := transfer.New(transfer.Options{MultipartThreshold: 4 * mib, PartSize: mib})
	ctx := context.Background()
	for name, data := range files {
		if _, err := c.Copy(ctx, transfer.Request{Src: disk, SrcKey: name, Dst: e.dst}); err != nil {
			t.Fatalf("disk -> cos %q: %v", name, err)
		}
		res, err := c.Copy(ctx, transfer.Request{Src: e.dst, SrcKey: name, Dst: back})
		if err != nil {
			t.Fatalf("cos -> disk %q: %v", name, err)
		}
		if res.CRC64 != storage.CRC64(data) {
			t.Errorf("%q: CRC %d after two hops, want %d", name, res.CRC64, storage.CRC64(data))
		}
		rc, _, err := back.Get(ctx, name, storage.Range{})
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(rc)
		rc.Close()
		if !bytes.Equal(got, data) {
			t.Errorf("%q: content differs after disk -> cos -> disk", name)
		}
	}
	e.seed(t, "from-oss", 5*mib+3, emulator.Meta{ContentType: "text/csv", User: map[string]string{"k": "v"}})
	res, err := c.Copy(ctx, transfer.Request{Src: e.src, SrcKey: "from-oss", Dst: back})
	if err != nil {
		t.Fatal(err)
	}
	h, err := back.Head(ctx, "from-oss")
	if err != nil {
		t.Fatal(err)
	}
	if h.CRC64 != res.CRC64 || h.Meta.ContentType != "text/csv" || h.Meta.User["k"] != "v" {
		t.Errorf("oss -> disk: head %+v", h)
	}
}
