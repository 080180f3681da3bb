package config

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/bucketferry/bucketferry/emulator"
	"github.com/bucketferry/bucketferry/storage"
)

// TestStoresReachEmulators: stores configured in a file (with a secret
// from the environment) talk to the OSS and COS emulators through the
// official SDKs, with V1 and V4 OSS signatures; a wrong secret from the
// environment is a fatal error of the store.
func TestStoresReachEmulators(t *testing.T) {
	emu, err := emulator.Start(emulator.Config{
		OSSAddr:        "127.0.0.1:0",
		COSAddr:        "127.0.0.1:0",
		OSSCredentials: map[string]string{"oss-ak": "oss-secret"},
		COSCredentials: map[string]string{"cos-id": "cos-key"},
		Buckets:        []string{"source", "target-1250000000"},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer emu.Close()
	yaml := fmt.Sprintf(`stores:
  src:
    type: oss
    endpoint: %s
    bucket: source
    accessKeyId: oss-ak
  srcv4:
    type: oss
    endpoint: %[1]s
    bucket: source
    accessKeyId: oss-ak
    accessKeySecret: oss-secret
    authVersion: 4
    region: cn-hangzhou
  dst:
    type: cos
    endpoint: %s
    bucket: target-1250000000
    region: ap-guangzhou
    secretId: cos-id
    secretKey: cos-key
    readWriteTimeout: 5s
  bad:
    type: cos
    endpoint: %[2]s
    bucket: target-1250000000
    region: ap-guangzhou
    secretId: cos-id
    secretKey: cos-key
`, emu.OSSURL(), emu.COSURL())
	t.Setenv("BUCKETFERRY_STORES_SRC_ACCESSKEYSECRET", "oss-secret")
	t.Setenv("BUCKETFERRY_STORES_BAD_SECRETKEY", "not-the-key")
	c, err := Load(writeFile(t, "stores.yaml", yaml))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	src, err := c.Store("src")
	if err != nil {
		t.Fatal(err)
	}
	body := "hello from the config package"
	if _, err := src.Put(ctx, "a/b.txt", strings.NewReader(body), int64(len(body)), storage.Metadata{ContentType: "text/plain"}); err != nil {
		t.Fatalf("put through the oss store: %v", err)
	}
	v4, err := c.Store("srcv4")
	if err != nil {
		t.Fatal(err)
	}
	page, err := v4.List(ctx, storage.ListOptions{})
	if err != nil {
		t.Fatalf("list with V4 signatures: %v", err)
	}
	if len(page.Objects) != 1 || page.Objects[0].Key != "a/b.txt" {
		t.Fatalf("listing %+v", page.Objects)
	}
	dst, err := c.Store("dst")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dst.Put(ctx, "copy.txt", strings.NewReader(body), int64(len(body)), storage.Metadata{}); err != nil {
		t.Fatalf("put through the cos store: %v", err)
	}
	rc, info, err := dst.Get(ctx, "copy.txt", storage.Range{})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if string(got) != body || !info.HasCRC64 {
		t.Errorf("cos read back %q (crc %v)", got, info.HasCRC64)
	}
	bad, err := c.Store("bad")
	if err != nil {
		t.Fatal(err)
	}
	_, err = bad.List(ctx, storage.ListOptions{MaxKeys: 1})
	if !storage.IsFatal(err) {
		t.Errorf("wrong secret from the environment: %v, want a fatal error", err)
	}
	if err != nil && strings.Contains(err.Error(), "not-the-key") {
		t.Errorf("store error reveals the secret: %v", err)
	}
}
