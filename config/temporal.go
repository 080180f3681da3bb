package config

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"

	"github.com/bucketferry/bucketferry/fleet"
)

// ErrNoAddress is returned by ClientOptions when temporal.address is empty.
var ErrNoAddress = errors.New("temporal.address is empty: the embedded server comes with `starter`; set it to host:port")

// maxPart is the largest part OSS and COS accept.
const maxPart = 5 * GiB

// Validate checks every value, returning all the problems found, one a
// line, each naming its key. Load calls it; call it on a Config built by
// hand.
func (c *Config) Validate() error {
	var p problems
	c.Temporal.check(&p)
	c.checkServer(&p)
	c.Worker.check(&p)
	c.Transfer.check(&p)
	c.Log.check(&p)
	for _, name := range sortedKeys(c.Stores) {
		p = append(p, c.Stores[name].validate(name)...)
	}
	if len(p) == 0 {
		if err := c.TransferOptions().Validate(); err != nil {
			p.add("transfer: %v", err)
		}
	}
	// Some checks walk maps: sort for deterministic messages.
	slices.Sort(p)
	return joinProblems(p)
}

// problems are what Validate found wrong, one message each.
type problems []string

func (p *problems) add(format string, args ...any) { *p = append(*p, fmt.Sprintf(format, args...)) }

func (t Temporal) check(p *problems) {
	add := p.add
	if t.Address != "" {
		if msg := checkHostPort(t.Address); msg != "" {
			add("temporal.address %q %s", t.Address, msg)
		}
	}
	if t.Namespace == "" {
		add("temporal.namespace is required (%q unless your server says otherwise)", DefaultNamespace)
	}
	if strings.TrimSpace(string(t.APIKey)) != string(t.APIKey) {
		add("temporal.apiKey must not start or end with white space")
	}
	if t.TLS.Enabled {
		if _, err := t.TLS.config(); err != nil {
			add("%v", err)
		}
	} else {
		for key, set := range map[string]bool{"caFile": t.TLS.CAFile != "", "certFile": t.TLS.CertFile != "",
			"keyFile": t.TLS.KeyFile != "", "serverName": t.TLS.ServerName != "", "insecureSkipVerify": t.TLS.InsecureSkipVerify} {
			if set {
				add("temporal.tls.%s is set but temporal.tls.enabled is false: enable TLS or remove it", key)
			}
		}
	}
}

// checkServer checks the embedded server's keys and the console's.
func (c *Config) checkServer(p *problems) {
	add := p.add
	if c.Server.StateDir == "" {
		add("server.stateDir is required (%q unless you want it elsewhere)", DefaultStateDir)
	}
	if msg := checkListen(c.Server.Address); msg != "" {
		add("server.address %q %s", c.Server.Address, msg)
	}
	if c.Server.UIAddress != "-" {
		if msg := checkListen(c.Server.UIAddress); msg != "" {
			add("server.uiAddress %q %s, or \"-\" for no Web UI", c.Server.UIAddress, msg)
		}
	}

	if a := c.Console.Address; a != "-" {
		host, _, err := net.SplitHostPort(a)
		switch ip := net.ParseIP(host); {
		case err != nil:
			add("console.address %q is not HOST:PORT, or \"-\" for no console", a)
		case host != "localhost" && (ip == nil || !ip.IsLoopback()):
			add("console.address %q is beyond loopback: the console serves plain HTTP and listens on loopback only (127.0.0.1:PORT; reach it through an SSH tunnel or a TLS proxy), or \"-\" for no console", a)
		}
	}

	if st := c.Server.TLS; st.Enabled() {
		for key, v := range map[string]string{"certFile": st.CertFile, "keyFile": st.KeyFile, "caFile": st.CAFile} {
			if v == "" {
				add("server.tls.%s is required with the other server.tls files (certificate, key and client CA together; `starter certs` makes them)", key)
			}
		}
	}
	if c.Server.UIUser == "" {
		add("server.uiUser must not be empty (%q unless you want another name)", DefaultUIUser)
	}
	if pw := string(c.Server.UIPassword); strings.TrimSpace(pw) != pw {
		add("server.uiPassword must not start or end with white space")
	}

	if dsn := c.Server.PostgresDSN.Value(); dsn != "" {
		// The DSN holds a password: say what is wrong, never what it is.
		if u, err := url.Parse(dsn); err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Host == "" {
			add("server.postgresDSN must look like postgres://USER:PASSWORD@HOST:5432/DATABASE?sslmode=disable")
		}
	}
}

func (w Worker) check(p *problems) {
	add := p.add
	if w.MaxConcurrentActivities < 0 {
		add("worker.maxConcurrentActivities %d must not be negative", w.MaxConcurrentActivities)
	}
	if w.MaxConcurrentWorkflowTasks < 0 || w.MaxConcurrentWorkflowTasks == 1 {
		add("worker.maxConcurrentWorkflowTasks %d must be 0 (the SDK default) or at least 2 (the SDK cannot run with 1)", w.MaxConcurrentWorkflowTasks)
	}
	for key, r := range map[string]float64{"activitiesPerSecond": w.ActivitiesPerSecond,
		"taskQueueActivitiesPerSecond": w.TaskQueueActivitiesPerSecond, "maxRequestsPerSecond": w.MaxRequestsPerSecond} {
		if r < 0 || math.IsNaN(r) || math.IsInf(r, 0) {
			add("worker.%s %v must be a rate of at least 0 (0 means unlimited)", key, r)
		}
	}
	if w.MetricsAddress != "" {
		if msg := checkListen(w.MetricsAddress); msg != "" {
			add("worker.metricsAddress %q %s, e.g. 0.0.0.0:9090", w.MetricsAddress, msg)
		}
	}
	if w.GCPercent < 0 {
		add("worker.gcPercent %d must not be negative (0 means %d)", w.GCPercent, DefaultGCPercent)
	}
	if w.MemoryLimit < 0 {
		add("worker.memoryLimit %d must not be negative (0 means transfer.memoryBudget + 512MiB)", w.MemoryLimit)
	}
	if w.MaxBytesPerSecond < 0 {
		add("worker.maxBytesPerSecond %d must not be negative (0 means unlimited)", w.MaxBytesPerSecond)
	}
	if w.ShutdownTimeout < 0 {
		add("worker.shutdownTimeout %v must not be negative", w.ShutdownTimeout)
	}
}

func (x Transfer) check(p *problems) {
	add := p.add
	for key, v := range map[string]int64{"multipartThreshold": int64(x.MultipartThreshold), "partSize": int64(x.PartSize),
		"memoryBudget": int64(x.MemoryBudget), "partsInFlight": int64(x.PartsInFlight), "partAttempts": int64(x.PartAttempts)} {
		if v < 0 {
			add("transfer.%s %d must not be negative", key, v)
		}
	}
	if x.PartSize > maxPart {
		add("transfer.partSize %v is over the 5GiB part limit of OSS and COS", x.PartSize)
	}
}

func (l Log) check(p *problems) {
	add := p.add
	if _, ok := parseLevel(l.Level); !ok {
		add("log.level %q is not a level: use debug, info, warn or error", l.Level)
	}
	switch strings.ToLower(l.Format) {
	case "", "text", "json":
	default:
		add("log.format %q is not a format: use text or json", l.Format)
	}
}

// checkHostPort returns what is wrong with a host:port address, or "".
func checkHostPort(addr string) string {
	if strings.Contains(addr, "://") {
		return "must be host:port without a scheme, e.g. temporal.example.com:7233"
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "must be host:port, e.g. temporal.example.com:7233"
	}
	if host == "" {
		return "has no host: write host:port, e.g. localhost:7233"
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "has an invalid port"
	}
	return ""
}

// checkListen is checkHostPort for a listen address, where port 0 picks
// a free port.
func checkListen(addr string) string {
	if host, port, err := net.SplitHostPort(addr); err == nil && host != "" && port == "0" {
		return ""
	}
	return checkHostPort(addr)
}

// config builds the TLS configuration from the files, naming the key of a
// file that cannot be used.
func (t TLS) config() (*tls.Config, error) {
	cfg := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		ServerName:         t.ServerName,
		InsecureSkipVerify: t.InsecureSkipVerify, //nolint:gosec // the operator asked for it
	}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("temporal.tls.caFile: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("temporal.tls.caFile %q holds no PEM certificate", t.CAFile)
		}
		cfg.RootCAs = pool
	}
	switch {
	case t.CertFile != "" && t.KeyFile != "":
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("temporal.tls.certFile and keyFile: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	case t.CertFile != "":
		return nil, errors.New("temporal.tls.keyFile is required with temporal.tls.certFile")
	case t.KeyFile != "":
		return nil, errors.New("temporal.tls.certFile is required with temporal.tls.keyFile")
	}
	return cfg, nil
}

// ClientOptions returns the options to dial Temporal with: address,
// namespace, TLS (read from the files now), API key credentials, and
// logger (bridged to the SDK's logger; nil keeps the SDK's default). An
// empty temporal.address is ErrNoAddress.
func (c *Config) ClientOptions(logger *slog.Logger) (client.Options, error) {
	t := c.Temporal
	if t.Address == "" {
		return client.Options{}, ErrNoAddress
	}
	opts := client.Options{
		HostPort: t.Address, Namespace: t.Namespace,
		// Jobs size their work by the slots the workers heartbeat.
		WorkerHeartbeatInterval: fleet.HeartbeatInterval,
	}
	if logger != nil {
		opts.Logger = sdklog.NewStructuredLogger(logger)
	}
	if t.TLS.Enabled {
		cfg, err := t.TLS.config()
		if err != nil {
			return client.Options{}, err
		}
		opts.ConnectionOptions.TLS = cfg
	}
	if t.APIKey != "" {
		// The SDK then turns TLS on with the system roots when tls.enabled
		// is false: API keys are only accepted over TLS.
		opts.Credentials = client.NewAPIKeyStaticCredentials(t.APIKey.Value())
	}
	return opts, nil
}

// WorkerOptions returns the options of the worker.
func (c *Config) WorkerOptions() worker.Options {
	w := c.Worker
	return worker.Options{
		MaxConcurrentActivityExecutionSize:     w.MaxConcurrentActivities,
		MaxConcurrentWorkflowTaskExecutionSize: w.MaxConcurrentWorkflowTasks,
		WorkerActivitiesPerSecond:              w.ActivitiesPerSecond,
		TaskQueueActivitiesPerSecond:           w.TaskQueueActivitiesPerSecond,
		Identity:                               w.Identity,
		WorkerStopTimeout:                      w.ShutdownTimeout,
		// A cancel or pause reaches a running copy with the answer to its
		// next heartbeat: send them every few seconds rather than at 80 %
		// of the heartbeat timeout, so that a cancelled job aborts its
		// multipart uploads within seconds.
		MaxHeartbeatThrottleInterval: heartbeatThrottle,
		// More pollers than the SDK's two: a job starts 16 shards at once,
		// and with two pollers their first workflow tasks and pages were
		// taken one after another over half a second.
		MaxConcurrentWorkflowTaskPollers: taskPollers,
		MaxConcurrentActivityTaskPollers: taskPollers,
	}
}

// taskPollers is how many long polls a worker keeps open per task type.
const taskPollers = 8

// heartbeatThrottle bounds the interval between heartbeats sent to the
// server by a running activity: their details are the live progress of a
// page or a large object under way, which the console refreshes every 2s.
const heartbeatThrottle = 2 * time.Second

// ExplainDialError adds to a failed connection what TLS has to say about
// it. With TLS 1.3 a server that refuses a client certificate says why in
// an alert sent after the handshake, which gRPC often misses (it reports a
// broken pipe): a probe connection reads that alert. A client certificate
// that has expired or is not valid yet is named from the file itself.
func (c *Config) ExplainDialError(ctx context.Context, err error) error {
	t := c.Temporal.TLS
	if err == nil || c.Temporal.Address == "" {
		return err
	}
	if !t.Enabled {
		if strings.Contains(err.Error(), "server preface") && c.Temporal.APIKey == "" {
			// A TLS server drops a plaintext client without a word.
			return fmt.Errorf("%w (the server closed the connection: if it requires TLS, set temporal.tls.enabled with caFile, certFile and keyFile)", err)
		}
		return err
	}
	var reasons []string
	if t.CertFile != "" {
		if pair, lerr := tls.LoadX509KeyPair(t.CertFile, t.KeyFile); lerr == nil {
			if cert, perr := x509.ParseCertificate(pair.Certificate[0]); perr == nil {
				now := time.Now()
				switch {
				case now.After(cert.NotAfter):
					reasons = append(reasons, fmt.Sprintf("temporal.tls.certFile %s expired on %s: make a new one (starter certs -renew)", t.CertFile, cert.NotAfter.UTC().Format(time.RFC3339)))
				case now.Before(cert.NotBefore):
					reasons = append(reasons, fmt.Sprintf("temporal.tls.certFile %s is valid only from %s (is this host's clock right?)", t.CertFile, cert.NotBefore.UTC().Format(time.RFC3339)))
				}
			}
		}
	} else {
		reasons = append(reasons, "no client certificate is configured (temporal.tls.certFile and keyFile): a server with mutual TLS refuses it")
	}
	cfg, cerr := t.config()
	if cerr == nil {
		cfg.NextProtos = []string{"h2"}
		if probe := probeTLS(ctx, c.Temporal.Address, cfg); probe != nil {
			reasons = append(reasons, "the server's TLS answer: "+probe.Error())
		}
	}
	if len(reasons) == 0 {
		return err
	}
	return fmt.Errorf("%w (%s)", err, strings.Join(reasons, "; "))
}

// probeTLS connects with cfg and reads: a server that refuses the client's
// certificate answers with an alert, returned here; nil when the server
// accepts the connection or says nothing within a few seconds.
func probeTLS(ctx context.Context, address string, cfg *tls.Config) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	d := tls.Dialer{Config: cfg}
	conn, err := d.DialContext(ctx, "tcp", address)
	if err != nil {
		return err
	}
	defer conn.Close()
	deadline, _ := ctx.Deadline()
	_ = conn.SetReadDeadline(deadline)
	// An HTTP/2 server speaks first (its SETTINGS frame) once it accepted
	// the client: any bytes mean yes.
	var b [1]byte
	if _, err := conn.Read(b[:]); err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return nil
		}
		return err
	}
	return nil
}
