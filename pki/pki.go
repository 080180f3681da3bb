// Package pki makes the certificates of a bucketferry control plane: a CA,
// the Temporal server's certificate for the names and addresses workers
// dial, and client certificates whose subject carries a role (worker,
// operator, reader) that the embedded server's authorizer reads. It is
// what `starter certs` runs, and what the embedded server uses for the
// short-lived in-memory CA of its own internal connections.
package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"slices"
	"strings"
	"time"
)

// Roles a client certificate can carry, in its subject's
// OrganizationalUnit.
const (
	// RoleWorker may poll and complete the tasks of the namespace (and read
	// what an SDK worker reads: histories, queries, namespace).
	RoleWorker = "worker"
	// RoleOperator may do everything within the namespace: start, cancel,
	// pause, change limits, schedules, search attributes.
	RoleOperator = "operator"
	// RoleReader may only call read-only APIs: status, progress queries,
	// lists, histories.
	RoleReader = "reader"
)

// Roles lists the roles in order of increasing power over jobs.
func Roles() []string { return []string{RoleReader, RoleWorker, RoleOperator} }

// Organization is the subject organization of every certificate made here,
// so that a certificate's origin is plain when inspected.
const Organization = "bucketferry"

// Lifetimes of the certificates Init makes. A CA outlives every
// certificate it signs; leaf certificates are short enough that a lost
// one stops working within the year, long enough for a migration.
const (
	CALifetime     = 5 * 365 * 24 * time.Hour
	LeafLifetime   = 365 * 24 * time.Hour
	ClockSkewSlack = 5 * time.Minute
)

// Authority is a CA that can sign certificates.
type Authority struct {
	Cert *x509.Certificate
	Key  crypto.Signer
	// CertPEM is Cert in PEM.
	CertPEM []byte
}

// Leaf is a signed certificate with its key, in PEM.
type Leaf struct {
	CertPEM, KeyPEM []byte
	Cert            *x509.Certificate
}

// TLS returns the leaf as a tls.Certificate.
func (l Leaf) TLS() (tls.Certificate, error) { return tls.X509KeyPair(l.CertPEM, l.KeyPEM) }

// NewAuthority makes a self-signed CA named name valid from now for
// lifetime.
func NewAuthority(name string, lifetime time.Duration) (*Authority, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("pki: CA key: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{Organization: []string{Organization}, CommonName: name},
		NotBefore:             now.Add(-ClockSkewSlack),
		NotAfter:              now.Add(lifetime),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("pki: CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("pki: CA certificate: %w", err)
	}
	return &Authority{Cert: cert, Key: key, CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}, nil
}

// LoadAuthority reads a CA certificate and its key (PEM files), to sign
// more certificates with an existing CA.
func LoadAuthority(certFile, keyFile string) (*Authority, error) {
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("pki: CA %s: %w", certFile, err)
	}
	cert, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return nil, fmt.Errorf("pki: CA %s: %w", certFile, err)
	}
	if !cert.IsCA {
		return nil, fmt.Errorf("pki: %s is not a CA certificate", certFile)
	}
	signer, ok := pair.PrivateKey.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("pki: CA key %s cannot sign", keyFile)
	}
	pemBytes, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("pki: CA %s: %w", certFile, err)
	}
	return &Authority{Cert: cert, Key: signer, CertPEM: pemBytes}, nil
}

// KeyPEM is the CA's key in PEM (PKCS #8).
func (a *Authority) KeyPEM() ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(a.Key)
	if err != nil {
		return nil, fmt.Errorf("pki: CA key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// Pool is a pool holding the CA alone.
func (a *Authority) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(a.Cert)
	return p
}

// ServerCert signs a server certificate for hosts (DNS names or IP
// addresses), valid from notBefore for lifetime.
func (a *Authority) ServerCert(commonName string, hosts []string, notBefore time.Time, lifetime time.Duration) (Leaf, error) {
	if len(hosts) == 0 {
		return Leaf{}, errors.New("pki: a server certificate needs at least one host name or address")
	}
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{Organization: []string{Organization}, CommonName: commonName},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	return a.sign(tmpl, notBefore, lifetime)
}

// ClientCert signs a client certificate for name with role (one of
// Roles), valid from notBefore for lifetime.
func (a *Authority) ClientCert(name, role string, notBefore time.Time, lifetime time.Duration) (Leaf, error) {
	if !slices.Contains(Roles(), role) {
		return Leaf{}, fmt.Errorf("pki: unknown role %q: use %s", role, strings.Join(Roles(), ", "))
	}
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{Organization: []string{Organization}, OrganizationalUnit: []string{role}, CommonName: name},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	return a.sign(tmpl, notBefore, lifetime)
}

// Sign signs tmpl (its subject, names and usages) with a new key, valid
// from notBefore for lifetime.
func (a *Authority) Sign(tmpl *x509.Certificate, notBefore time.Time, lifetime time.Duration) (Leaf, error) {
	return a.sign(tmpl, notBefore, lifetime)
}

func (a *Authority) sign(tmpl *x509.Certificate, notBefore time.Time, lifetime time.Duration) (Leaf, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return Leaf{}, fmt.Errorf("pki: key: %w", err)
	}
	tmpl.SerialNumber = serial()
	tmpl.NotBefore = notBefore.Add(-ClockSkewSlack)
	tmpl.NotAfter = notBefore.Add(lifetime)
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	if tmpl.NotAfter.After(a.Cert.NotAfter) {
		// A certificate cannot be valid longer than its issuer.
		tmpl.NotAfter = a.Cert.NotAfter
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, a.Cert, key.Public(), a.Key)
	if err != nil {
		return Leaf{}, fmt.Errorf("pki: sign %s: %w", tmpl.Subject.CommonName, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return Leaf{}, fmt.Errorf("pki: sign %s: %w", tmpl.Subject.CommonName, err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return Leaf{}, fmt.Errorf("pki: key: %w", err)
	}
	return Leaf{
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
		Cert:    cert,
	}, nil
}

// RoleOf returns the role a verified client certificate carries: the
// first OrganizationalUnit of its subject that is a role, or "".
func RoleOf(subject pkix.Name) string {
	for _, ou := range subject.OrganizationalUnit {
		if slices.Contains(Roles(), ou) {
			return ou
		}
	}
	return ""
}

// serial is a random 128-bit serial number, as RFC 5280 recommends.
func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		// crypto/rand does not fail on supported platforms.
		panic(fmt.Sprintf("pki: random serial: %v", err))
	}
	return n
}
