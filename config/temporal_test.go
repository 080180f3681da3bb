package config

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestClientOptionsNeedsAddress(t *testing.T) {
	c := Defaults()
	_, err := c.ClientOptions(nil)
	if !errors.Is(err, ErrNoAddress) {
		t.Fatalf("got %v", err)
	}
	want := "temporal.address is empty: the embedded server comes with `starter`; set it to host:port"
	if err.Error() != want {
		t.Errorf("message %q, want %q", err, want)
	}
}

func TestClientOptionsPlain(t *testing.T) {
	c := Defaults()
	c.Temporal.Address = "temporal.internal:7233"
	c.Temporal.Namespace = "migrations"
	opts, err := c.ClientOptions(slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if opts.HostPort != "temporal.internal:7233" || opts.Namespace != "migrations" {
		t.Errorf("options %+v", opts)
	}
	if opts.Logger == nil {
		t.Error("no SDK logger")
	}
	if opts.ConnectionOptions.TLS != nil || opts.Credentials != nil {
		t.Errorf("TLS %v, credentials %v without asking", opts.ConnectionOptions.TLS, opts.Credentials)
	}
	c.Temporal.APIKey = "key"
	opts, err = c.ClientOptions(nil)
	if err != nil {
		t.Fatal(err)
	}
	if opts.Credentials == nil {
		t.Error("an API key gives no credentials")
	}
	if opts.Logger != nil {
		t.Error("a nil logger should keep the SDK's default")
	}
}

// TestClientOptionsMutualTLS builds the TLS configuration from files and
// completes a real mutual-TLS handshake with a server that requires a
// client certificate from the same CA.
func TestClientOptionsMutualTLS(t *testing.T) {
	dir := t.TempDir()
	ca, caKey, caPEM := newCA(t)
	serverCert := newLeaf(t, ca, caKey, "temporal.test", x509.ExtKeyUsageServerAuth)
	clientCertPEM, clientKeyPEM := leafPEM(t, newLeaf(t, ca, caKey, "worker", x509.ExtKeyUsageClientAuth))
	files := map[string][]byte{"ca.pem": caPEM, "client.pem": clientCertPEM, "client.key": clientKeyPEM}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{
		Certificates: []tls.Certificate{serverCert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pool,
		MinVersion:   tls.VersionTLS12,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	peers := make(chan string, 4)
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			tc := conn.(*tls.Conn)
			_ = tc.SetDeadline(time.Now().Add(5 * time.Second))
			if err := tc.Handshake(); err == nil {
				peers <- tc.ConnectionState().PeerCertificates[0].Subject.CommonName
			} else {
				peers <- "handshake failed"
			}
			tc.Close()
		}
	}()

	yaml := fmt.Sprintf(`temporal:
  address: %s
  tls:
    enabled: true
    caFile: %s
    certFile: %s
    keyFile: %s
    serverName: temporal.test
`, ln.Addr(), filepath.Join(dir, "ca.pem"), filepath.Join(dir, "client.pem"), filepath.Join(dir, "client.key"))
	c, err := Load(writeFile(t, "tls.yaml", yaml))
	if err != nil {
		t.Fatal(err)
	}
	opts, err := c.ClientOptions(nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg := opts.ConnectionOptions.TLS
	if cfg == nil || cfg.RootCAs == nil || len(cfg.Certificates) != 1 || cfg.ServerName != "temporal.test" {
		t.Fatalf("TLS config %+v", cfg)
	}
	handshake := func(cfg *tls.Config) error {
		conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", ln.Addr().String(), cfg)
		if err != nil {
			<-peers
			return err
		}
		defer conn.Close()
		if peer := <-peers; peer != "worker" {
			return fmt.Errorf("server saw client %q", peer)
		}
		return nil
	}
	if err := handshake(cfg); err != nil {
		t.Fatalf("mutual TLS handshake: %v", err)
	}
	// Without the CA file, the server's certificate is not trusted.
	c.Temporal.TLS.CAFile = ""
	opts, err = c.ClientOptions(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := handshake(opts.ConnectionOptions.TLS); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("handshake without the CA: %v", err)
	}
	// A file that is not PEM is named.
	c.Temporal.TLS.CAFile = filepath.Join(dir, "client.key")
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "holds no PEM certificate") {
		t.Errorf("validate with a key as CA: %v", err)
	}
}

func newCA(t *testing.T) (*x509.Certificate, *ecdsa.PrivateKey, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func newLeaf(t *testing.T, ca *x509.Certificate, caKey *ecdsa.PrivateKey, name string, usage x509.ExtKeyUsage) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: name},
		DNSNames:     []string{name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{usage},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func leafPEM(t *testing.T, c tls.Certificate) (certPEM, keyPEM []byte) {
	t.Helper()
	der, err := x509.MarshalECPrivateKey(c.PrivateKey.(*ecdsa.PrivateKey))
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Certificate[0]}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})
}
