package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/bucketferry/bucketferry/config"
	"github.com/bucketferry/bucketferry/emulator"
	"github.com/bucketferry/bucketferry/pki"
	"github.com/bucketferry/bucketferry/runner"
)

// secureEnv is `starter server` with mutual TLS and a Web UI login, in
// its own process, and the certificates of its clients.
type secureEnv struct {
	emu             *emulator.Server
	certs, otherCA  string
	address, ui     string
	objects         int
	srv             interface{ Output() string }
	clientTemplates string
}

const uiTestPassword = "correct horse battery staple"

func newSecureEnv(t *testing.T) *secureEnv {
	t.Helper()
	base := newEmbeddedEnv(t, emulator.DataSet{Objects: 300, MaxSize: 32 << 10, Seed: 15}, true)
	e := &secureEnv{emu: base.emu, address: base.address, ui: base.uiAddress, objects: base.objects}
	dir := t.TempDir()
	e.certs, e.otherCA = filepath.Join(dir, "certs"), filepath.Join(dir, "other")
	var out bytes.Buffer
	if err := runCerts(context.Background(), []string{"-dir", e.certs, "-host", "127.0.0.1"}, &out); err != nil {
		t.Fatalf("certs: %v\n%s", err, out.String())
	}
	// A worker certificate from a CA the server does not trust.
	if err := runCerts(context.Background(), []string{"-dir", e.otherCA, "-host", "127.0.0.1", "-client", "worker:worker"}, &out); err != nil {
		t.Fatal(err)
	}
	// A worker certificate of the right CA that expired yesterday.
	ca, err := pki.LoadAuthority(filepath.Join(e.certs, "ca.pem"), filepath.Join(e.certs, "ca-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	expired, err := ca.ClientCert("expired-worker", pki.RoleWorker, time.Now().Add(-48*time.Hour), 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := writeLeaf(filesOf(e.certs, "expired"), expired); err != nil {
		t.Fatal(err)
	}

	cfg, err := os.ReadFile(base.cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	serverCfg := strings.Replace(string(cfg), "server:\n", fmt.Sprintf("server:\n  uiPassword: %q\n  tls: {certFile: %q, keyFile: %q, caFile: %q}\n",
		uiTestPassword, filepath.Join(e.certs, "server.pem"), filepath.Join(e.certs, "server-key.pem"), filepath.Join(e.certs, "ca.pem")), 1)
	serverPath := filepath.Join(dir, "server.yaml")
	if err := os.WriteFile(serverPath, []byte(serverCfg), 0o600); err != nil {
		t.Fatal(err)
	}
	e.clientTemplates = string(cfg)
	srv := startChild(t, "server", "-config", serverPath)
	srv.WaitFor(t, "Temporal server ready", 2*time.Minute)
	srv.WaitFor(t, "Web UI:", 10*time.Second)
	e.srv = srv
	return e
}

// clientConfig writes the configuration of a client of the server with
// the certificate name in dir ("" for none), and returns its path.
func (e *secureEnv) clientConfig(t *testing.T, dir, name string, useTLS bool) string {
	t.Helper()
	tlsYAML := "  tls: {enabled: false}\n"
	if useTLS {
		tlsYAML = fmt.Sprintf("  tls: {enabled: true, caFile: %q", filepath.Join(e.certs, "ca.pem"))
		if name != "" {
			tlsYAML += fmt.Sprintf(", certFile: %q, keyFile: %q", filepath.Join(dir, name+".pem"), filepath.Join(dir, name+"-key.pem"))
		}
		tlsYAML += "}\n"
	}
	cfg := fmt.Sprintf("temporal:\n  address: %q\n%s", e.address, tlsYAML) + e.clientTemplates
	path := filepath.Join(t.TempDir(), "client.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// cmd runs a starter sub-command with the configuration at cfgPath.
func secureCmd(t *testing.T, fn func(context.Context, []string, io.Writer) error, cfgPath string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out bytes.Buffer
	err := fn(ctx, append([]string{"-config", cfgPath}, args...), &out)
	if ctx.Err() != nil {
		t.Fatalf("%v did not return in time:\n%s", args, out.String())
	}
	return out.String(), err
}

// dialWorker connects as the worker command does.
func dialWorker(t *testing.T, cfgPath string) (*config.Config, client.Client, error) {
	t.Helper()
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	opts, err := cfg.ClientOptions(slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := client.DialContext(ctx, opts)
	return cfg, c, err
}

// TestSecureServer runs `starter server` with mutual TLS in its own process:
// a worker with a valid certificate runs a job to success; workers with no
// certificate, one from another CA or an expired one are refused and do
// nothing; an operator starts and cancels jobs; a reader reads status but
// can neither start nor cancel; a plaintext client is refused; Temporal Web
// answers only to a signed-in user, over HTTPS; replaced certificate files
// are served without a restart.
func TestSecureServer(t *testing.T) {
	e := newSecureEnv(t)
	operator := e.clientConfig(t, e.certs, "operator", true)
	reader := e.clientConfig(t, e.certs, "reader", true)

	// The job is started before any worker polls: what the refused
	// workers could do, they would do to it.
	out, err := secureCmd(t, runStart, operator, "-source", "src", "-destination", "dst", "-job-id", "tls-job", "-detach")
	if err != nil || !strings.Contains(out, "started job tls-job") {
		t.Fatalf("operator start: %v\n%s", err, out)
	}

	t.Run("refused workers", func(t *testing.T) {
		for _, c := range []struct {
			name, dir, cert string
			want            string
		}{
			{"no certificate", "", "", "certificate required"},
			{"another CA", e.otherCA, "worker", "unknown certificate authority"},
			{"expired", e.certs, "expired", "expired certificate"},
		} {
			cfg, c2, err := dialWorker(t, e.clientConfig(t, c.dir, c.cert, true))
			err = cfg.ExplainDialError(context.Background(), err) // as the worker command reports it
			if err == nil {
				// Were the connection to get through, the worker must
				// still not start.
				w, werr := runner.NewWorker(c2, cfg, nil)
				if werr == nil {
					werr = w.Start()
					if werr == nil {
						w.Stop()
					}
				}
				c2.Close()
				t.Errorf("%s: the worker connected (start: %v)", c.name, werr)
				continue
			}
			t.Logf("%s: %v", c.name, err)
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("%s: error %q does not say %q", c.name, err, c.want)
			}
		}
		if n := len(e.emu.Backend.Keys("dst-1250000000")); n != 0 {
			t.Fatalf("%d objects copied with no valid worker", n)
		}
		out, err := secureCmd(t, runStatus, reader, "tls-job")
		if err != nil || !strings.Contains(out, "job tls-job: running") {
			t.Errorf("status with no valid worker: %v\n%s", err, out)
		}
	})

	t.Run("plaintext client", func(t *testing.T) {
		cfg, c, err := dialWorker(t, e.clientConfig(t, "", "", false))
		if err == nil {
			c.Close()
			t.Fatal("a plaintext client connected")
		}
		err = cfg.ExplainDialError(context.Background(), err)
		if !strings.Contains(err.Error(), "temporal.tls.enabled") {
			t.Errorf("the plaintext client's error does not point at TLS: %v", err)
		}
		t.Logf("plaintext: %v", err)
	})

	// A worker with a valid certificate runs the job to success.
	cfg, wc, err := dialWorker(t, e.clientConfig(t, e.certs, "worker", true))
	if err != nil {
		t.Fatalf("worker: %v", err)
	}
	defer wc.Close()
	w, err := runner.NewWorker(wc, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(); err != nil {
		t.Fatalf("worker start: %v", err)
	}
	stopped := false
	stopWorker := func() {
		if !stopped {
			stopped = true
			w.Stop()
		}
	}
	defer stopWorker()
	out, err = secureCmd(t, runWait, reader, "tls-job")
	if err != nil || !strings.Contains(out, "job tls-job: succeeded") {
		t.Fatalf("wait (reader): %v\n%s", err, out)
	}
	if verified, problems := compareBuckets(e.emu.Backend, "src", "dst-1250000000"); verified != e.objects {
		t.Fatalf("verified %d of %d: %v", verified, e.objects, problems)
	}

	t.Run("reader reads but neither starts nor cancels", func(t *testing.T) {
		out, err := secureCmd(t, runStatus, reader, "tls-job")
		if err != nil || !strings.Contains(out, "job tls-job: succeeded") {
			t.Errorf("reader status: %v\n%s", err, out)
		}
		out, err = secureCmd(t, runStart, reader, "-source", "src", "-destination", "dst", "-job-id", "reader-job", "-detach")
		if err == nil || !strings.Contains(err.Error(), `certificate "reader" has the reader role`) || !strings.Contains(err.Error(), "needs the operator role") {
			t.Errorf("reader start: %v\n%s", err, out)
		}
		t.Logf("reader start: %v", err)
	})

	t.Run("a worker certificate cannot start a job", func(t *testing.T) {
		out, err := secureCmd(t, runStart, e.clientConfig(t, e.certs, "worker", true), "-source", "src", "-destination", "dst", "-job-id", "worker-job", "-detach")
		if err == nil || !strings.Contains(err.Error(), "needs the operator role") {
			t.Errorf("worker start: %v\n%s", err, out)
		}
	})

	t.Run("operator cancels, reader cannot", func(t *testing.T) {
		// Slow copies keep the second job running while it is canceled.
		e.emu.COSFaults.Set(emulator.FaultConfig{Latency: 200 * time.Millisecond})
		defer e.emu.COSFaults.Set(emulator.FaultConfig{})
		out, err := secureCmd(t, runStart, operator, "-source", "src", "-destination", "dst", "-job-id", "tls-cancel",
			"-conflict", "overwrite", "-detach")
		if err != nil {
			t.Fatalf("operator start: %v\n%s", err, out)
		}
		out, err = secureCmd(t, runCancel, reader, "tls-cancel")
		if err == nil || !strings.Contains(err.Error(), "needs the operator role") {
			t.Errorf("reader cancel: %v\n%s", err, out)
		}
		out, err = secureCmd(t, runCancel, operator, "tls-cancel")
		if err != nil || !strings.Contains(out, "cancellation of job tls-cancel requested") {
			t.Fatalf("operator cancel: %v\n%s", err, out)
		}
		out, _ = secureCmd(t, runWait, reader, "tls-cancel")
		if !strings.Contains(out, "job tls-cancel was canceled") {
			t.Errorf("wait after cancel:\n%s", out)
		}
	})
	stopWorker()

	t.Run("Temporal Web needs a login, over HTTPS", func(t *testing.T) {
		pool := x509.NewCertPool()
		caPEM, err := os.ReadFile(filepath.Join(e.certs, "ca.pem"))
		if err != nil || !pool.AppendCertsFromPEM(caPEM) {
			t.Fatalf("CA: %v", err)
		}
		hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
		defer hc.CloseIdleConnections()
		base := "https://" + e.ui
		for _, c := range []struct {
			name, user, password string
			want                 int
		}{
			{"anonymous", "", "", http.StatusUnauthorized},
			{"wrong password", "admin", "guess", http.StatusUnauthorized},
			{"signed in", "admin", uiTestPassword, http.StatusOK},
		} {
			for _, path := range []string{"/", "/api/v1/namespaces/default/workflows", "/healthz"} {
				req, _ := http.NewRequest(http.MethodGet, base+path, nil)
				if c.user != "" {
					req.SetBasicAuth(c.user, c.password)
				}
				resp, err := hc.Do(req)
				if err != nil {
					t.Fatalf("%s %s: %v", c.name, path, err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != c.want {
					t.Errorf("%s GET %s: %s, want %d", c.name, path, resp.Status, c.want)
				}
				if c.want == http.StatusOK && strings.Contains(path, "workflows") && !strings.Contains(string(body), "tls-job") {
					t.Errorf("signed in, the UI's API does not list the job: %.300s", body)
				}
			}
		}
		// Plain HTTP gets nothing of the UI.
		if resp, err := http.Get("http://" + e.ui + "/"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				t.Error("the UI answers plain HTTP")
			}
		}
	})

	t.Run("rotation without a restart", func(t *testing.T) {
		before := servedSerial(t, e)
		var out bytes.Buffer
		if err := runCerts(context.Background(), []string{"-dir", e.certs, "-host", "127.0.0.1", "-renew"}, &out); err != nil {
			t.Fatalf("renew: %v\n%s", err, out.String())
		}
		leaf, err := tls.LoadX509KeyPair(filepath.Join(e.certs, "server.pem"), filepath.Join(e.certs, "server-key.pem"))
		if err != nil {
			t.Fatal(err)
		}
		want, _ := x509.ParseCertificate(leaf.Certificate[0])
		deadline := time.Now().Add(10 * time.Second)
		for {
			got := servedSerial(t, e)
			if got == want.SerialNumber.String() && got != before {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the frontend still serves %s, not the renewed %s", got, want.SerialNumber)
			}
			time.Sleep(200 * time.Millisecond)
		}
		// A client connects with the renewed certificate in use.
		_, c, err := dialWorker(t, reader)
		if err != nil {
			t.Fatalf("after rotation: %v", err)
		}
		defer c.Close()
		if _, err := c.WorkflowService().DescribeNamespace(context.Background(), &workflowservice.DescribeNamespaceRequest{Namespace: "default"}); err != nil {
			t.Errorf("describe namespace after rotation: %v", err)
		}
	})
}

// servedSerial is the serial number of the certificate the frontend
// serves to a new connection.
func servedSerial(t *testing.T, e *secureEnv) string {
	t.Helper()
	pair, err := tls.LoadX509KeyPair(filepath.Join(e.certs, "reader.pem"), filepath.Join(e.certs, "reader-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	conn, err := tls.Dial("tcp", e.address, &tls.Config{InsecureSkipVerify: true, Certificates: []tls.Certificate{pair}, NextProtos: []string{"h2"}}) //nolint:gosec // only reads the served certificate
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].SerialNumber.String()
}
