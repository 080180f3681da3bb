package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/bucketferry/bucketferry/pki"
)

// listFlag is a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*l = append(*l, s)
		}
	}
	return nil
}

// certFile names the files of one certificate in the directory.
type certFile struct{ cert, key string }

func filesOf(dir, name string) certFile {
	return certFile{filepath.Join(dir, name+".pem"), filepath.Join(dir, name+"-key.pem")}
}

// runCerts makes (or adds to) the certificates of a control plane: a CA,
// the server's certificate, and client certificates for workers,
// operators and readers.
func runCerts(_ context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("certs", flag.ContinueOnError)
	setUsage(fs, "-host NAME [-host ADDR]... [flags]", `Make the certificates of a Temporal server with mutual TLS (server.tls.*) and of its
clients: a CA (ca.pem, ca-key.pem), the server's certificate for the names and addresses
workers dial (server.pem), and one client certificate per -client NAME:ROLE (NAME.pem),
whose role is worker, operator or reader. Keys are written with mode 0600, in a directory
of mode 0700. Run again on the same directory to add clients or, with -renew, to replace
certificates that exist (the server re-reads its files: no restart). The CA is never
replaced: keep ca-key.pem offline once the certificates are made.`)
	dir := fs.String("dir", "certs", "`DIR` for the files (created with mode 0700)")
	var hosts, clients listFlag
	fs.Var(&hosts, "host", "a DNS `name` or IP address workers dial the server by (repeatable, or comma-separated); localhost and 127.0.0.1 are always added")
	fs.Var(&clients, "client", "a client certificate `NAME:ROLE` (repeatable); ROLE is worker, operator or reader. Default for a new CA: worker:worker, operator:operator, reader:reader")
	days := fs.Int("days", int(pki.LeafLifetime/(24*time.Hour)), "lifetime of the server and client certificates, in `days`")
	renew := fs.Bool("renew", false, "replace the server and client certificates named that already exist (rotation)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("certs: unexpected arguments %q", fs.Args())
	}
	if *days < 1 {
		return fmt.Errorf("certs: -days %d must be at least 1", *days)
	}
	lifetime := time.Duration(*days) * 24 * time.Hour
	if err := os.MkdirAll(*dir, 0o700); err != nil {
		return fmt.Errorf("certs: %w", err)
	}

	caFiles := filesOf(*dir, "ca")
	ca, newCA, err := loadOrMakeCA(caFiles)
	if err != nil {
		return err
	}
	if newCA {
		fmt.Fprintf(stdout, "made a CA valid until %s: %s (key %s)\n", ca.Cert.NotAfter.Format(time.DateOnly), caFiles.cert, caFiles.key)
		if len(clients) == 0 {
			clients = listFlag{"worker:worker", "operator:operator", "reader:reader"}
		}
	} else {
		fmt.Fprintf(stdout, "signing with the existing CA %s\n", caFiles.cert)
	}

	type made struct{ name, role string }
	var madeClients []made
	now := time.Now()
	serverFiles := filesOf(*dir, "server")
	serverMade := false
	if len(hosts) > 0 || !exists(serverFiles.cert) {
		if len(hosts) == 0 {
			return errors.New("certs: name the server with -host (the DNS names and IP addresses workers dial, e.g. -host temporal.internal -host 10.0.0.5)")
		}
		if exists(serverFiles.cert) && !*renew {
			return fmt.Errorf("certs: %s exists: add -renew to replace it", serverFiles.cert)
		}
		all := slices.Clone(hosts)
		for _, h := range []string{"localhost", "127.0.0.1"} {
			if !slices.Contains(all, h) {
				all = append(all, h)
			}
		}
		leaf, err := ca.ServerCert(hosts[0], all, now, lifetime)
		if err != nil {
			return err
		}
		if err := writeLeaf(serverFiles, leaf); err != nil {
			return err
		}
		serverMade = true
		fmt.Fprintf(stdout, "made the server certificate for %s, valid until %s: %s\n", strings.Join(all, ", "), leaf.Cert.NotAfter.Format(time.DateOnly), serverFiles.cert)
	}
	for _, c := range clients {
		name, role, ok := strings.Cut(c, ":")
		if !ok || name == "" || !slices.Contains(pki.Roles(), role) {
			return fmt.Errorf("certs: -client %q: want NAME:ROLE with ROLE one of %s", c, strings.Join(pki.Roles(), ", "))
		}
		if name == "ca" || name == "server" || strings.ContainsAny(name, `/\`) {
			return fmt.Errorf("certs: -client %q: the name must be a plain file name other than ca and server", c)
		}
		f := filesOf(*dir, name)
		if exists(f.cert) && !*renew {
			return fmt.Errorf("certs: %s exists: add -renew to replace it", f.cert)
		}
		leaf, err := ca.ClientCert(name, role, now, lifetime)
		if err != nil {
			return err
		}
		if err := writeLeaf(f, leaf); err != nil {
			return err
		}
		madeClients = append(madeClients, made{name, role})
		fmt.Fprintf(stdout, "made client certificate %s (role %s), valid until %s: %s\n", name, role, leaf.Cert.NotAfter.Format(time.DateOnly), f.cert)
	}

	fmt.Fprintln(stdout, "\nwhat to copy where:")
	if serverMade || newCA {
		fmt.Fprintf(stdout, "  server host:  %s, %s, %s; in its config:\n", caFiles.cert, serverFiles.cert, serverFiles.key)
		fmt.Fprintf(stdout, "                  server: {tls: {certFile: server.pem, keyFile: server-key.pem, caFile: ca.pem}}\n")
	}
	for _, m := range madeClients {
		f := filesOf(*dir, m.name)
		what := map[string]string{pki.RoleWorker: "a worker host", pki.RoleOperator: "an operator (starter)", pki.RoleReader: "a read-only user (starter status)"}[m.role]
		fmt.Fprintf(stdout, "  %s: %s, %s, %s; in its config:\n", what, caFiles.cert, f.cert, f.key)
		fmt.Fprintf(stdout, "                  temporal: {tls: {enabled: true, caFile: ca.pem, certFile: %s.pem, keyFile: %s-key.pem}}\n", m.name, m.name)
	}
	fmt.Fprintf(stdout, "  nowhere:      %s: keep the CA key offline; it is needed only to sign more certificates\n", caFiles.key)
	fmt.Fprintln(stdout, "keys are mode 0600: copy them with their mode (scp -p, install -m 0600) to the user that runs the process")
	return nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return !errors.Is(err, fs.ErrNotExist)
}

// loadOrMakeCA loads the CA of the directory, or makes one when it has
// none.
func loadOrMakeCA(f certFile) (*pki.Authority, bool, error) {
	if exists(f.cert) || exists(f.key) {
		ca, err := pki.LoadAuthority(f.cert, f.key)
		return ca, false, err
	}
	ca, err := pki.NewAuthority("bucketferry CA", pki.CALifetime)
	if err != nil {
		return nil, false, err
	}
	key, err := ca.KeyPEM()
	if err != nil {
		return nil, false, err
	}
	// The key first: a CA certificate without its key would stop a rerun.
	if err := pki.WriteFile(f.key, key, 0o600); err != nil {
		return nil, false, err
	}
	if err := pki.WriteFile(f.cert, ca.CertPEM, 0o644); err != nil {
		return nil, false, err
	}
	return ca, true, nil
}

// writeLeaf writes a certificate and its key; the key first, so that a
// server re-reading the files never pairs a new certificate with an old
// key for longer than the next look (it keeps the previous pair until
// both match).
func writeLeaf(f certFile, leaf pki.Leaf) error {
	if err := pki.WriteFile(f.key, leaf.KeyPEM, 0o600); err != nil {
		return err
	}
	return pki.WriteFile(f.cert, leaf.CertPEM, 0o644)
}
