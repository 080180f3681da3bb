package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bucketferry/bucketferry/emulator"
)

// TestVerifyCommandAcrossFamilies: verify compares pairs whose stores
// report different checksum families. S3 to S3 shares MD5 and CRC64NVME;
// S3 to COS shares none, so without -deep every pair is unverifiable and
// with -deep the source bodies are hashed in the destination's CRC64,
// which finds a damaged copy.
func TestVerifyCommandAcrossFamilies(t *testing.T) {
	emu, err := emulator.Start(emulator.Config{
		OSSCredentials: map[string]string{"oss-ak": "oss-secret"},
		COSCredentials: map[string]string{"cos-id": "cos-key"},
		S3Addr:         "127.0.0.1:0",
		Buckets:        []string{verifySrcBucket, verifyDstBucket},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emu.Close() })
	b := emu.Backend
	if _, err := emulator.Generate(b, verifySrcBucket, emulator.DataSet{Objects: 40, MaxSize: 4000, Prefix: "data/", Seed: 5}); err != nil {
		t.Fatal(err)
	}
	keys := b.Keys(verifySrcBucket)
	for _, k := range keys {
		o, _ := b.Object(verifySrcBucket, k)
		if _, err := b.AddObject(verifyDstBucket, movedKey(k), o.Body, o.Meta); err != nil {
			t.Fatal(err)
		}
	}
	cfg := filepath.Join(t.TempDir(), "bucketferry.yaml")
	s3Store := func(bucket string) string {
		return fmt.Sprintf("    type: s3\n    endpoint: %q\n    region: us-east-1\n    pathStyle: true\n    bucket: %s\n    accessKeyId: %s\n    secretAccessKey: %s\n",
			emu.S3URL(), bucket, emulator.DefaultS3AccessKeyID, emulator.DefaultS3SecretAccessKey)
	}
	yaml := "stores:\n  s3src:\n" + s3Store(verifySrcBucket) + "  s3dst:\n" + s3Store(verifyDstBucket) +
		fmt.Sprintf("  dst:\n    type: cos\n    endpoint: %q\n    bucket: %s\n    region: ap-guangzhou\n    secretId: cos-id\n    secretKey: cos-key\n",
			emu.COSURL(), verifyDstBucket)
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	n := len(keys)
	equal := fmt.Sprintf("equal:        %d\n", n)

	// S3 to S3: by a family both report, no body read.
	_, stderr, code, err := runVerifyCmd(t, "-config", cfg, "-source", "s3src:data/", "-destination", "s3dst:moved/")
	if code != 0 || !strings.Contains(stderr, equal) {
		t.Fatalf("s3 -> s3: exit %d, %v\n%s", code, err, stderr)
	}
	// S3 to COS: no family in common.
	stdout, stderr, code, _ := runVerifyCmd(t, "-config", cfg, "-source", "s3src:data/", "-destination", "dst:moved/")
	if code != exitCompletedWithFailure || !strings.Contains(stderr, fmt.Sprintf("unverifiable: %d", n)) ||
		!strings.Contains(stdout, "no checksum family known on both sides") {
		t.Fatalf("s3 -> cos without -deep: exit %d\n%s\n%s", code, stdout, stderr)
	}
	_, stderr, code, err = runVerifyCmd(t, "-config", cfg, "-source", "s3src:data/", "-destination", "dst:moved/", "-deep")
	if code != 0 || !strings.Contains(stderr, equal) {
		t.Fatalf("s3 -> cos -deep: exit %d, %v\n%s", code, err, stderr)
	}
	// A damaged copy (same size, other bytes) is found either way it is
	// compared.
	var victim string
	for _, k := range keys {
		if o, _ := b.Object(verifySrcBucket, k); o.Size > 0 {
			victim = k
			break
		}
	}
	o, _ := b.Object(verifyDstBucket, movedKey(victim))
	if _, err := b.AddObject(verifyDstBucket, movedKey(victim), emulator.GeneratedBlob(999, o.Size), o.Meta); err != nil {
		t.Fatal(err)
	}
	for _, dst := range []string{"s3dst:moved/", "dst:moved/"} {
		stdout, stderr, code, _ := runVerifyCmd(t, "-config", cfg, "-source", "s3src:data/", "-destination", dst, "-deep")
		if code != exitCompletedWithFailure || !strings.Contains(stderr, "differing:    1 (") || !strings.Contains(stdout, victim) {
			t.Errorf("s3 -> %s, one damaged: exit %d\n%s\n%s", dst, code, stdout, stderr)
		}
	}
}
