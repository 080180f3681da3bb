package embedded

import (
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"time"

	"go.temporal.io/server/common/rpc/encryption"

	"github.com/bucketferry/bucketferry/pki"
)

// internalName is the server name of the embedded server's own
// connections: between its services, and from its in-process clients and
// Web UI to the frontend. A client asking for it (TLS SNI) is served the
// internal certificate and must present one signed by the internal CA.
const internalName = "bucketferry-internal"

// Common names of the internal client certificates, which the claim mapper
// trusts only when signed by the internal CA.
const (
	internalSystem = "temporal-system" // the server's services and in-process clients: everything
	internalWebUI  = "temporal-web"    // the Web UI: an operator of the namespace
)

// internalPKI is a CA made at start and kept in memory only: it signs the
// certificates of the connections that never leave the process (over
// loopback ports that other local users could otherwise reach). Nothing
// outside the process can get a certificate from it.
type internalPKI struct {
	ca                    *pki.Authority
	server, system, web   tls.Certificate
	webCertPEM, webKeyPEM []byte
}

func newInternalPKI() (*internalPKI, error) {
	// Longer than any server runs between restarts.
	const lifetime = 10 * 365 * 24 * time.Hour
	ca, err := pki.NewAuthority("bucketferry embedded server internal CA", lifetime)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	p := &internalPKI{ca: ca}
	srv, err := ca.ServerCert(internalName, []string{internalName, "localhost", "127.0.0.1", "::1"}, now, lifetime)
	if err != nil {
		return nil, err
	}
	client := func(cn string) (pki.Leaf, error) {
		return ca.Sign(&x509.Certificate{
			Subject:     pkix.Name{Organization: []string{pki.Organization}, CommonName: cn},
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth},
		}, now, lifetime)
	}
	sys, err := client(internalSystem)
	if err != nil {
		return nil, err
	}
	web, err := client(internalWebUI)
	if err != nil {
		return nil, err
	}
	if p.server, err = srv.TLS(); err != nil {
		return nil, err
	}
	if p.system, err = sys.TLS(); err != nil {
		return nil, err
	}
	if p.web, err = web.TLS(); err != nil {
		return nil, err
	}
	p.webCertPEM, p.webKeyPEM = web.CertPEM, web.KeyPEM
	return p, nil
}

// isInternal reports whether a verified chain ends at the internal CA.
func (p *internalPKI) isInternal(chains [][]*x509.Certificate) bool {
	for _, chain := range chains {
		if len(chain) > 0 && chain[len(chain)-1].Equal(p.ca.Cert) {
			return true
		}
	}
	return false
}

// serverConfig serves the internal certificate and requires an internal
// client certificate.
func (p *internalPKI) serverConfig() *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		NextProtos:   []string{"h2"}, // gRPC requires ALPN
		Certificates: []tls.Certificate{p.server},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    p.ca.Pool(),
	}
}

// clientConfig connects to the internal name with cert.
func (p *internalPKI) clientConfig(cert tls.Certificate) *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		ServerName:   internalName,
		RootCAs:      p.ca.Pool(),
		Certificates: []tls.Certificate{cert},
	}
}

// uiTLS is the Web UI's connection to the frontend, in the form the UI
// server takes (base64 PEM).
func (p *internalPKI) uiTLS() (caData, certData, keyData string) {
	enc := base64.StdEncoding.EncodeToString
	return enc(p.ca.CertPEM), enc(p.webCertPEM), enc(p.webKeyPEM)
}

// tlsProvider gives the Temporal server its TLS configurations: the
// frontend serves the operator's certificate (re-read from its files when
// they change) to everyone but its own in-process clients, and requires a
// client certificate signed by the operator's CA; every connection between
// the embedded services uses the internal PKI.
type tlsProvider struct {
	files    *pki.Files
	internal *internalPKI
}

var _ encryption.TLSConfigProvider = (*tlsProvider)(nil)

func (t *tlsProvider) GetFrontendServerConfig() (*tls.Config, error) {
	internal := t.internal.serverConfig()
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		// Chosen per connection, so that replaced certificate files take
		// effect at the next handshake.
		GetConfigForClient: func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
			if hello.ServerName == internalName {
				return internal, nil
			}
			cert, pool, err := t.files.Current()
			if err != nil {
				return nil, err
			}
			return &tls.Config{
				MinVersion:   tls.VersionTLS12,
				Certificates: []tls.Certificate{*cert},
				ClientAuth:   tls.RequireAndVerifyClientCert,
				ClientCAs:    pool,
				NextProtos:   []string{"h2"}, // gRPC requires ALPN
			}, nil
		},
	}, nil
}

func (t *tlsProvider) GetFrontendClientConfig() (*tls.Config, error) {
	return t.internal.clientConfig(t.internal.system), nil
}

func (t *tlsProvider) GetInternodeServerConfig() (*tls.Config, error) {
	return t.internal.serverConfig(), nil
}

func (t *tlsProvider) GetInternodeClientConfig() (*tls.Config, error) {
	return t.internal.clientConfig(t.internal.system), nil
}

// GetRemoteClusterClientConfig: the only cluster is this one, whose
// frontend the server may reach as a "remote" one.
func (t *tlsProvider) GetRemoteClusterClientConfig(string) (*tls.Config, error) {
	return t.internal.clientConfig(t.internal.system), nil
}

func (t *tlsProvider) GetExpiringCerts(time.Duration) (encryption.CertExpirationMap, encryption.CertExpirationMap, error) {
	return encryption.CertExpirationMap{}, encryption.CertExpirationMap{}, nil
}
