package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bucketferry/bucketferry/pki"
)

// TestCerts: a CA, a server certificate for the hosts given (and
// loopback), client certificates with their roles; keys 0600 in a 0700
// directory; existing files kept unless -renew; the output says what goes
// where.
func TestCerts(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "certs")
	var out bytes.Buffer
	if err := runCerts(context.Background(), []string{"-dir", dir, "-host", "temporal.internal,10.0.0.5", "-days", "30"}, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	for _, want := range []string{"server host:", "a worker host:", "an operator (starter):", "keep the CA key offline", "certFile: worker.pem"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("directory mode: %v %v", fi.Mode(), err)
	}
	for _, name := range []string{"ca", "server", "worker", "operator", "reader"} {
		for file, mode := range map[string]os.FileMode{name + ".pem": 0o644, name + "-key.pem": 0o600} {
			fi, err := os.Stat(filepath.Join(dir, file))
			if err != nil || fi.Mode().Perm() != mode {
				t.Errorf("%s: %v, want mode %v (%v)", file, fi.Mode(), mode, err)
			}
		}
	}
	parse := func(name string) *x509.Certificate {
		b, err := os.ReadFile(filepath.Join(dir, name+".pem"))
		if err != nil {
			t.Fatal(err)
		}
		blk, _ := pem.Decode(b)
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	srv := parse("server")
	if err := srv.VerifyHostname("temporal.internal"); err != nil {
		t.Error(err)
	}
	for _, h := range []string{"10.0.0.5", "127.0.0.1", "localhost"} {
		if err := srv.VerifyHostname(h); err != nil {
			t.Error(err)
		}
	}
	if d := time.Until(srv.NotAfter); d > 31*24*time.Hour || d < 29*24*time.Hour {
		t.Errorf("server certificate lasts %v, want 30 days", d)
	}
	for _, role := range pki.Roles() {
		if got := pki.RoleOf(parse(role).Subject); got != role {
			t.Errorf("%s.pem carries role %q", role, got)
		}
	}

	// Again: existing certificates are not replaced without -renew, the CA
	// never; new clients are added with the same CA.
	before := parse("server").SerialNumber
	out.Reset()
	if err := runCerts(context.Background(), []string{"-dir", dir, "-host", "temporal.internal"}, &out); err == nil || !strings.Contains(err.Error(), "-renew") {
		t.Errorf("overwrite without -renew: %v", err)
	}
	if err := runCerts(context.Background(), []string{"-dir", dir, "-client", "host2:worker"}, &out); err != nil {
		t.Fatal(err)
	}
	if parse("server").SerialNumber.Cmp(before) != 0 {
		t.Error("adding a client replaced the server certificate")
	}
	pool := x509.NewCertPool()
	pool.AddCert(parse("ca"))
	if _, err := parse("host2").Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("host2 is not signed by the CA: %v", err)
	}
	if err := runCerts(context.Background(), []string{"-dir", dir, "-client", "x:admin"}, &out); err == nil {
		t.Error("an unknown role was accepted")
	}
}
