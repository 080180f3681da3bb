// Package embedded runs a complete Temporal server, and optionally the
// Temporal Web UI, inside the calling process, with its state in a SQLite
// file under a state directory. It is what makes bucketferry usable on one
// host with no Temporal cluster: every job's history lives in that file, so
// a process killed at any moment and started again on the same directory
// resumes its jobs from their histories. Other processes (workers on this
// host or others) connect to its frontend address like to any Temporal
// server.
package embedded

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/server/common"
	"go.temporal.io/server/common/authorization"
	"go.temporal.io/server/common/cluster"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/dynamicconfig"
	"go.temporal.io/server/common/log"
	"go.temporal.io/server/common/log/tag"
	sqliteplugin "go.temporal.io/server/common/persistence/sql/sqlplugin/sqlite"
	"go.temporal.io/server/schema/sqlite"
	"go.temporal.io/server/temporal"
	"google.golang.org/protobuf/types/known/durationpb"

	uiconfig "github.com/temporalio/ui-server/v2/server/config"

	"github.com/bucketferry/bucketferry/pki"
)

// Defaults of Options.
const (
	DefaultAddress   = "127.0.0.1:7233"
	DefaultUIAddress = "127.0.0.1:8233"
	DefaultNamespace = "default"
	// DefaultRetention keeps a finished job's history (its result, its
	// failures, what a retry of the failures needs) for a month.
	DefaultRetention = 30 * 24 * time.Hour
	// DatabaseFile is the SQLite file's name in the state directory.
	DatabaseFile = "temporal.db"
	// LogFile is where the server writes its own log in the state directory.
	LogFile = "server.log"
	// NoUI, as Options.UIAddress, runs the server without the Web UI.
	NoUI = "-"
)

// Options configure Start.
type Options struct {
	// StateDir holds the SQLite database and the server log; created if
	// missing. Required.
	StateDir string
	// Address is the frontend's gRPC host:port (DefaultAddress when empty).
	// A port of 0 picks a free one. Host 0.0.0.0 accepts workers from other
	// hosts.
	Address string
	// UIAddress is the Web UI's host:port (DefaultUIAddress when empty; NoUI
	// disables it; port 0 picks a free one).
	UIAddress string
	// Namespace is created, with SearchAttributes, if missing
	// (DefaultNamespace when empty).
	Namespace string
	// SearchAttributes are registered in the namespace when it is created.
	SearchAttributes map[string]enumspb.IndexedValueType
	// Retention of closed workflows in a namespace created here
	// (DefaultRetention when zero).
	Retention time.Duration
	// LogLevel of the server's log, written to LogFile in StateDir: debug,
	// info, warn (the default) or error.
	LogLevel string
	// PostgresDSN, when set, keeps the state in PostgreSQL instead of the
	// SQLite file: postgres://USER:PASSWORD@HOST:5432/DATABASE?sslmode=disable.
	// The database (and DATABASE_visibility) are created, and their schemas
	// set up or upgraded, at start.
	PostgresDSN string

	// TLS, when its files are set, makes the frontend serve TLS and require
	// client certificates signed by TLS.CAFile, grants each client by the
	// role in its certificate, serves the Web UI over HTTPS, and secures the
	// connections between the embedded services with an in-memory CA.
	TLS TLSFiles
	// InsecureNetwork lets the frontend listen beyond loopback without TLS,
	// on a network the operator trusts; Start refuses it otherwise.
	InsecureNetwork bool
	// UIUser and UIPassword are the Web UI's login (UIPassword a bcrypt
	// hash or the password itself). A UI listening beyond loopback needs
	// them; on loopback, a password set is asked for too. UIUser defaults
	// to DefaultUIUser.
	UIUser, UIPassword string
}

// TLSFiles are the server's certificate and key and the CA that signs its
// clients' certificates (PEM files), re-read when they change.
type TLSFiles struct {
	CertFile, KeyFile, CAFile string
}

// Enabled reports whether the files are set.
func (t TLSFiles) Enabled() bool { return t.CertFile != "" || t.KeyFile != "" || t.CAFile != "" }

// CheckExposure decides whether a frontend may listen on host: on loopback
// always; beyond it with TLS, or without when the operator declared the
// network trusted, which returns a warning to show loudly.
func CheckExposure(host string, tlsOn, insecureNetwork bool) (warning string, err error) {
	if tlsOn || IsLoopback(host) {
		return "", nil
	}
	if !insecureNetwork {
		return "", fmt.Errorf("embedded: the frontend would listen on %s, beyond loopback, without TLS: anyone who reaches the port could start, cancel and read every job. "+
			"Set server.tls.certFile, server.tls.keyFile and server.tls.caFile (`starter certs` makes them), "+
			"or server.insecureNetwork: true if only trusted hosts can reach this network", host)
	}
	return fmt.Sprintf("WARNING: the Temporal frontend listens on %s WITHOUT TLS OR CLIENT CERTIFICATES (server.insecureNetwork is true): "+
		"anyone who can reach this port can start, cancel and read every job", host), nil
}

// Server is a running embedded Temporal server.
type Server struct {
	temporal  temporal.Server
	ui        *uiServer
	internal  *internalPKI // nil without TLS
	warnings  []string
	frontend  string
	uiURL     string
	namespace string
	stopOnce  sync.Once
	stopErr   error
}

// Start runs the server and returns once its frontend answers for the
// namespace and its history service for workflows (waitShards), or ctx
// ends, or starting fails.
func Start(ctx context.Context, opts Options) (*Server, error) {
	if opts.StateDir == "" {
		return nil, errors.New("embedded: a state directory is required")
	}
	host, port, err := listenAddress("address", opts.Address, DefaultAddress)
	if err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	if err := os.MkdirAll(opts.StateDir, 0o755); err != nil {
		return nil, fmt.Errorf("embedded: state directory: %w", err)
	}
	tlsOn := opts.TLS.Enabled()
	warning, err := CheckExposure(host, tlsOn, opts.InsecureNetwork)
	if err != nil {
		return nil, err
	}
	var warnings []string
	if warning != "" {
		warnings = append(warnings, warning)
	}
	files, err := loadTLS(opts)
	if err != nil {
		return nil, err
	}
	uiLn, uiLogin, uiWarning, err := openUI(opts, tlsOn)
	if err != nil {
		return nil, err
	}
	if uiWarning != "" {
		warnings = append(warnings, uiWarning)
	}
	// Until the UI server takes it, the listener is ours to close.
	started := false
	defer func() {
		if uiLn != nil && !started {
			uiLn.Close()
		}
	}()
	if port, err = checkFree(host, port); err != nil {
		return nil, fmt.Errorf("embedded: frontend address %s: %w (is another server running on it? use another address, or connect to that one)",
			net.JoinHostPort(host, strconv.Itoa(port)), err)
	}

	logger := log.NewZapLogger(log.BuildZapLogger(log.Config{
		Level:      opts.LogLevel,
		OutputFile: filepath.Join(opts.StateDir, LogFile),
	}))
	for _, w := range warnings {
		logger.Warn(w)
	}
	persistence, err := setupPersistence(opts, logger)
	if err != nil {
		return nil, err
	}
	cfg, err := serverConfig(host, port, persistence)
	if err != nil {
		return nil, err
	}
	ts, internal, err := newTemporalServer(cfg, opts, files, logger)
	if err != nil {
		return nil, err
	}
	if err := ts.Start(); err != nil {
		return nil, fmt.Errorf("embedded: start the server: %w", err)
	}
	s := &Server{temporal: ts, frontend: cfg.PublicClient.HostPort, namespace: opts.Namespace, internal: internal, warnings: warnings}
	if err := s.waitReady(ctx, opts, persistence.NumHistoryShards); err != nil {
		_ = ts.Stop()
		return nil, err
	}
	if uiLn != nil {
		var gate *login
		if uiLogin {
			gate = &login{user: cmp.Or(opts.UIUser, DefaultUIUser), secret: opts.UIPassword}
		}
		if err := s.startUI(uiLn, gate, files); err != nil {
			_ = ts.Stop()
			return nil, err
		}
		started = true
	}
	return s, nil
}

// withDefaults fills the options left empty.
func (opts Options) withDefaults() Options {
	if opts.Namespace == "" {
		opts.Namespace = DefaultNamespace
	}
	if opts.Retention == 0 {
		opts.Retention = DefaultRetention
	}
	if opts.LogLevel == "" {
		opts.LogLevel = "warn"
	}
	return opts
}

// loadTLS reads the server's certificate files, when TLS is on (nil
// otherwise).
func loadTLS(opts Options) (*pki.Files, error) {
	if !opts.TLS.Enabled() {
		return nil, nil
	}
	if opts.TLS.CertFile == "" || opts.TLS.KeyFile == "" || opts.TLS.CAFile == "" {
		return nil, errors.New("embedded: TLS needs the server certificate, its key and the client CA together")
	}
	files := &pki.Files{CertFile: opts.TLS.CertFile, KeyFile: opts.TLS.KeyFile, CAFile: opts.TLS.CAFile}
	if err := files.Load(); err != nil {
		return nil, fmt.Errorf("embedded: %w", err)
	}
	return files, nil
}

// openUI listens on the Web UI's address, unless there is to be no UI
// (nil listener); login tells whether the UI asks for a password, warning
// what to tell about it.
func openUI(opts Options, tlsOn bool) (ln net.Listener, login bool, warning string, err error) {
	if opts.UIAddress == NoUI {
		return nil, false, "", nil
	}
	uiHost, uiPort, err := listenAddress("UI address", opts.UIAddress, DefaultUIAddress)
	if err != nil {
		return nil, false, "", err
	}
	if login, err = UILoginRequired(uiHost, opts.UIPassword != ""); err != nil {
		return nil, false, "", fmt.Errorf("embedded: %w", err)
	}
	if login && !tlsOn && !IsLoopback(uiHost) {
		warning = fmt.Sprintf("WARNING: the Web UI on %s asks for a password over plain HTTP: without server.tls, it crosses the network in clear", uiHost)
	}
	if ln, err = listenUI(uiHost, uiPort); err != nil {
		return nil, false, "", fmt.Errorf("embedded: Web UI address %s: %w", net.JoinHostPort(uiHost, strconv.Itoa(uiPort)), err)
	}
	return ln, login, warning, nil
}

// setupPersistence sets up the server's databases, PostgreSQL or a SQLite
// file, with their schemas.
func setupPersistence(opts Options, logger log.Logger) (config.Persistence, error) {
	if opts.PostgresDSN == "" {
		sqlCfg, err := setupSQLite(opts)
		if err != nil {
			return config.Persistence{}, err
		}
		return config.Persistence{
			DefaultStore:     sqliteplugin.PluginName,
			VisibilityStore:  sqliteplugin.PluginName,
			NumHistoryShards: 1,
			DataStores:       map[string]config.DataStore{sqliteplugin.PluginName: {SQL: sqlCfg}},
		}, nil
	}
	main, vis, err := postgresConfigs(opts.PostgresDSN)
	if err != nil {
		return config.Persistence{}, err
	}
	if err := setupPostgres(main, "postgresql/v12/temporal", logger); err != nil {
		return config.Persistence{}, err
	}
	if err := setupPostgres(vis, "postgresql/v12/visibility", logger); err != nil {
		return config.Persistence{}, err
	}
	return config.Persistence{
		DefaultStore:    "default",
		VisibilityStore: "visibility",
		// Fixed for the life of the database.
		NumHistoryShards: 4,
		DataStores: map[string]config.DataStore{
			"default":    {SQL: main},
			"visibility": {SQL: vis},
		},
	}, nil
}

// nonUserLockTimeout bounds how long the server's background tasks wait
// for a workflow's lock (history.cacheNonUserContextLockTimeout, 500 ms by
// default). The task that delivers a signal holds the sender's lock while
// it signals the receiver, so a job's window signal and a shard's report
// that cross wait for each other until one wait times out: at the end of a
// small-object job, when the job shares its window again as shards end and
// the shards send their last reports, that stalled everything for up to
// half a second (0.2 to 0.55 s of 4 to 5 s jobs, seen in the runs'
// histories and the server's execution trace). A lock is otherwise held for
// a write of a few milliseconds; a task whose wait times out is submitted
// again at once (ten times, then with the server's back-off).
// BenchmarkCrossedSignals: 229 ms a round at 500 ms, 143 at 50 ms.
const nonUserLockTimeout = 50 * time.Millisecond

// newTemporalServer makes the Temporal server of cfg: with TLS, its
// certificates, the authorizer of roles and the claim mapper; without,
// no authorization.
func newTemporalServer(cfg *config.Config, opts Options, files *pki.Files, logger log.Logger) (temporal.Server, *internalPKI, error) {
	var (
		authz      = authorization.NewNoopAuthorizer()
		mapper     = authorization.NewNoopClaimMapper()
		internal   *internalPKI
		serverOpts []temporal.ServerOption
	)
	if files != nil {
		var err error
		if internal, err = newInternalPKI(); err != nil {
			return nil, nil, fmt.Errorf("embedded: internal certificates: %w", err)
		}
		files.OnReload = func(err error) {
			if err != nil {
				logger.Warn("embedded: the certificate files changed but cannot be used yet; the previous ones stay in use", tag.Error(err))
				return
			}
			logger.Info("embedded: certificate files re-read")
		}
		authz = authorizer{namespace: opts.Namespace}
		mapper = claimMapper{internal: internal}
		serverOpts = append(serverOpts, temporal.WithTLSConfigFactory(&tlsProvider{files: files, internal: internal}))
	}
	ts, err := temporal.NewServer(append(serverOpts,
		temporal.WithConfig(cfg),
		temporal.ForServices(temporal.DefaultServices),
		temporal.WithLogger(logger),
		temporal.WithAuthorizer(authz),
		temporal.WithClaimMapper(func(*config.Config) authorization.ClaimMapper { return mapper }),
		temporal.WithDynamicConfigClient(dynamicconfig.StaticClient{
			// A refusal says which role was missing rather than "Request
			// unauthorized.": the authorizer's errors name no secret.
			dynamicconfig.ExposeAuthorizerErrors.Key(): []dynamicconfig.ConstrainedValue{{Value: true}},
			// Jobs list their workflows by search attribute right after
			// starting them; the default of a minute would hide them.
			dynamicconfig.ForceSearchAttributesCacheRefreshOnRead.Key(): []dynamicconfig.ConstrainedValue{{Value: true}},
			// The scanners are system workflows the server must start
			// within a deadline or exit the whole process: on a loaded
			// host (two cores busy copying) that killed the server at
			// start. What they sweep (stale task queue rows, old build
			// ids) stays small on a single-cluster migration server.
			dynamicconfig.TaskQueueScannerEnabled.Key(): []dynamicconfig.ConstrainedValue{{Value: false}},
			dynamicconfig.BuildIdScavengerEnabled.Key(): []dynamicconfig.ConstrainedValue{{Value: false}},
			// Task queue priorities hold within a partition, and a task
			// lands on a random one of four: a shard's listing, priority 1,
			// still waited behind the copies queued in the other three
			// (workflows.listPriority). One partition takes every new task
			// in priority order; reading all four still drains what a
			// server of an earlier release left in the others. One
			// partition of one matching host serves thousands of tasks a
			// second, far above a job's.
			dynamicconfig.MatchingNumTaskqueueWritePartitions.Key(): []dynamicconfig.ConstrainedValue{{Value: 1}},
			// See nonUserLockTimeout.
			dynamicconfig.HistoryCacheNonUserContextLockTimeout.Key(): []dynamicconfig.ConstrainedValue{{Value: nonUserLockTimeout}},
		}),
	)...)
	if err != nil {
		return nil, nil, fmt.Errorf("embedded: create the server: %w", err)
	}
	return ts, internal, nil
}

// setupSQLite creates the database file with its schema if missing, and the
// namespace with its search attributes.
func setupSQLite(opts Options) (*config.SQL, error) {
	dbPath := filepath.Join(opts.StateDir, DatabaseFile)
	sqlCfg := &config.SQL{
		PluginName:   sqliteplugin.PluginName,
		DatabaseName: dbPath,
		// WAL with synchronous=NORMAL commits with one append and no
		// fsync: the default rollback journal fsyncs twice per
		// transaction, which cost the server a third of its CPU in a
		// small-object job. The file stays consistent after any crash;
		// a power cut can lose the last commits, which the workers redo
		// (every copy is idempotent).
		ConnectAttributes: map[string]string{"mode": "rwc", "journal_mode": "wal", "synchronous": "normal"},
	}
	if _, err := os.Stat(dbPath); errors.Is(err, os.ErrNotExist) {
		if err := sqlite.SetupSchema(sqlCfg); err != nil {
			return nil, fmt.Errorf("embedded: create the database %s: %w", dbPath, err)
		}
	} else if err != nil {
		return nil, fmt.Errorf("embedded: database: %w", err)
	}
	ns, err := sqlite.NewNamespaceConfig("active", opts.Namespace, false, opts.SearchAttributes)
	if err != nil {
		return nil, fmt.Errorf("embedded: namespace %s: %w", opts.Namespace, err)
	}
	ns.Detail.Config.Retention = durationpb.New(opts.Retention)
	if err := sqlite.CreateNamespaces(sqlCfg, ns); err != nil {
		return nil, fmt.Errorf("embedded: namespace %s: %w", opts.Namespace, err)
	}
	return sqlCfg, nil
}

// serverConfig is a single-process cluster: all four services in this
// process on loopback ports, the frontend on host:port.
func serverConfig(host string, port int, persistence config.Persistence) (*config.Config, error) {
	ports, err := freePorts(7)
	if err != nil {
		return nil, fmt.Errorf("embedded: pick internal ports: %w", err)
	}
	service := func(grpc, membership int) config.Service {
		return config.Service{RPC: config.RPC{GRPCPort: grpc, MembershipPort: membership, BindOnLocalHost: true}}
	}
	frontend := service(port, ports[0])
	if host != "127.0.0.1" && host != "localhost" {
		frontend.RPC.BindOnLocalHost = false
		frontend.RPC.BindOnIP = host
	}
	// The server's own clients and the cluster metadata reach the frontend
	// on loopback whatever interface it listens on.
	self := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	return &config.Config{
		Global: config.Global{
			Membership: config.Membership{MaxJoinDuration: 30 * time.Second, BroadcastAddress: "127.0.0.1"},
		},
		Persistence: persistence,
		ClusterMetadata: &cluster.Config{
			FailoverVersionIncrement: 10,
			MasterClusterName:        "active",
			CurrentClusterName:       "active",
			ClusterInformation: map[string]cluster.ClusterInformation{
				"active": {Enabled: true, InitialFailoverVersion: 1, RPCAddress: self},
			},
		},
		DCRedirectionPolicy: config.DCRedirectionPolicy{Policy: "noop"},
		Services: map[string]config.Service{
			"frontend": frontend,
			"history":  service(ports[1], ports[2]),
			"matching": service(ports[3], ports[4]),
			"worker":   service(ports[5], ports[6]),
		},
		Archival: config.Archival{
			History:    config.HistoryArchival{State: "disabled"},
			Visibility: config.VisibilityArchival{State: "disabled"},
		},
		NamespaceDefaults: config.NamespaceDefaults{Archival: config.ArchivalNamespaceDefaults{
			History:    config.HistoryArchivalNamespaceDefaults{State: "disabled"},
			Visibility: config.VisibilityArchivalNamespaceDefaults{State: "disabled"},
		}},
		PublicClient: config.PublicClient{HostPort: self},
	}, nil
}

// waitReady polls the frontend until it describes the namespace, then
// each of the history service's shards (waitShards): the services start in
// the background and a client would otherwise meet a server that is not
// ready yet.
func (s *Server) waitReady(ctx context.Context, opts Options, shards int32) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	dial := client.Options{HostPort: s.frontend, Namespace: s.namespace, Logger: quietLogger{},
		ConnectionOptions: client.ConnectionOptions{TLS: s.ClientTLS()}}
	c, err := client.DialContext(ctx, dial)
	for err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("embedded: the server did not answer at %s: %w", s.frontend, err)
		}
		time.Sleep(100 * time.Millisecond)
		c, err = client.DialContext(ctx, dial)
	}
	defer c.Close()
	for {
		ns, err := c.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: s.namespace})
		if err == nil {
			return s.waitShards(ctx, c, ns.GetNamespaceInfo().GetId(), shards)
		}
		var nf *serviceerror.NamespaceNotFound
		if errors.As(err, &nf) {
			// Only a PostgreSQL store starts without it (SQLite's is created
			// in the file beforehand).
			if err := s.register(ctx, c, opts); err != nil {
				return err
			}
			continue
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("embedded: namespace %s not ready: %w", s.namespace, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// waitShards waits until the history service answers for a workflow of
// each of its shards. The frontend answers as soon as it is up, but the
// history service owns its shards some time later, after a restart longer:
// a job started meanwhile waits for its shard, and on a loaded host the
// client's deadline passed first ("start job: context deadline exceeded"
// from the second start on one database). The lookup of a workflow that
// does not exist answers NotFound only from the shard that owns its id, so
// one made-up id is looked up for each shard, found with the server's own
// mapping of ids to shards.
func (s *Server) waitShards(ctx context.Context, c client.Client, namespaceID string, shards int32) error {
	for shard := int32(1); shard <= shards; shard++ {
		id := probeID(namespaceID, shard, shards)
		for {
			_, err := c.DescribeWorkflowExecution(ctx, id, "")
			var nf *serviceerror.NotFound
			if err == nil || errors.As(err, &nf) {
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("embedded: history shard %d of %d did not answer: %w", shard, shards, err)
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	return nil
}

// probeID is a workflow id of the namespace that the server keeps in the
// given history shard (numbered from 1, as the server's).
func probeID(namespaceID string, shard, shards int32) string {
	for i := 0; ; i++ {
		id := fmt.Sprintf("bucketferry-ready-probe-%d", i)
		if common.WorkflowIDToHistoryShard(namespaceID, id, shards) == shard {
			return id
		}
	}
}

// register creates the namespace and its search attributes through the
// frontend.
func (s *Server) register(ctx context.Context, c client.Client, opts Options) error {
	_, err := c.WorkflowService().RegisterNamespace(ctx, &workflowservice.RegisterNamespaceRequest{
		Namespace:                        s.namespace,
		WorkflowExecutionRetentionPeriod: durationpb.New(opts.Retention),
	})
	var exists *serviceerror.NamespaceAlreadyExists
	if err != nil && !errors.As(err, &exists) {
		return fmt.Errorf("embedded: register namespace %s: %w", s.namespace, err)
	}
	if len(opts.SearchAttributes) == 0 {
		return nil
	}
	for {
		_, err = c.OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
			Namespace: s.namespace, SearchAttributes: opts.SearchAttributes,
		})
		var saExists *serviceerror.AlreadyExists
		if err == nil || errors.As(err, &saExists) {
			return nil
		}
		// The new namespace may take a moment to reach every service.
		select {
		case <-ctx.Done():
			return fmt.Errorf("embedded: search attributes in namespace %s: %w", s.namespace, err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// startUI serves the Web UI on ln: over HTTPS with the server's
// certificate when TLS is on, behind the login when one is set, talking to
// the frontend with the internal Web UI certificate (an operator).
func (s *Server) startUI(ln net.Listener, l *login, files *pki.Files) error {
	cfg := &uiconfig.Config{
		TemporalGRPCAddress: s.frontend,
		EnableUI:            true,
		DefaultNamespace:    s.namespace,
		HideLogs:            true,
		DisableNewsFetch:    true, // no internet is assumed
		CORS:                uiconfig.CORS{CookieInsecure: files == nil},
	}
	if s.internal != nil {
		ca, cert, key := s.internal.uiTLS()
		cfg.TLS = uiconfig.TLS{CaData: ca, CertData: cert, KeyData: key, ServerName: internalName, EnableHostVerification: true}
	}
	h, closeHandler, err := uiHandler(cfg)
	if err != nil {
		return err
	}
	if l != nil {
		l.next = h
		h = l
	}
	var tlsCfg *tls.Config
	scheme := "http"
	if files != nil {
		scheme = "https"
		tlsCfg = &tls.Config{
			MinVersion: tls.VersionTLS12,
			// Read per connection: replaced files take effect at once.
			GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
				cert, _, err := files.Current()
				return cert, err
			},
		}
	}
	s.ui = startUIServer(ln, h, tlsCfg, closeHandler)
	addr := ln.Addr().(*net.TCPAddr)
	host := addr.IP.String()
	if addr.IP.IsUnspecified() {
		host = "127.0.0.1"
	}
	if files != nil && IsLoopback(host) {
		// The certificates `starter certs` makes name localhost, not
		// always 127.0.0.1.
		host = "localhost"
	}
	s.uiURL = scheme + "://" + net.JoinHostPort(host, strconv.Itoa(addr.Port))
	return nil
}

// listenUI binds the Web UI's address (a port of 0 picks a free one).
func listenUI(host string, port int) (net.Listener, error) {
	if port == 0 {
		return listenLow(host)
	}
	return net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
}

// ClientTLS is the TLS configuration of a client in this process (the
// starter's own, an in-process worker): the server's internal identity,
// which may do everything. Nil when the server has no TLS.
func (s *Server) ClientTLS() *tls.Config {
	if s.internal == nil {
		return nil
	}
	return s.internal.clientConfig(s.internal.system)
}

// Warnings are what the caller must show loudly: the frontend or the Web
// UI exposed without protection on the operator's say-so.
func (s *Server) Warnings() []string { return s.warnings }

// FrontendAddress is the host:port clients and workers connect to.
func (s *Server) FrontendAddress() string { return s.frontend }

// Namespace is the namespace Start created or found.
func (s *Server) Namespace() string { return s.namespace }

// UIURL is the Web UI's base URL, "" when it is disabled.
func (s *Server) UIURL() string { return s.uiURL }

// WorkflowURL links to a workflow in the Web UI: its run's history, or
// with no run id the workflow list filtered to its id.
func (s *Server) WorkflowURL(workflowID, runID string) string {
	if s.uiURL == "" {
		return ""
	}
	base := s.uiURL + "/namespaces/" + url.PathEscape(s.namespace) + "/workflows"
	if runID != "" {
		return base + "/" + url.PathEscape(workflowID) + "/" + url.PathEscape(runID) + "/history"
	}
	return base + "?query=" + url.QueryEscape(fmt.Sprintf("WorkflowId=%q", workflowID))
}

// WaitUI waits until the Web UI answers HTTP, for callers that print its
// address and want it usable at once.
func (s *Server) WaitUI(ctx context.Context) error {
	if s.uiURL == "" {
		return nil
	}
	// Any answer will do (a login asked for included), and nothing secret
	// is sent: the probe need not verify the certificate, which may not
	// name the address it dials.
	probe := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // see above
	defer probe.CloseIdleConnections()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.uiURL+"/healthz", nil)
		if err != nil {
			return err
		}
		resp, err := probe.Do(req)
		if err == nil {
			resp.Body.Close()
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("embedded: Web UI at %s: %w", s.uiURL, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Stop stops the UI and the server; the state stays in the state
// directory for the next Start.
func (s *Server) Stop() error {
	s.stopOnce.Do(func() {
		if s.ui != nil {
			s.ui.stop()
		}
		s.stopErr = s.temporal.Stop()
	})
	return s.stopErr
}

// listenAddress splits addr (def when empty) into host and port.
func listenAddress(what, addr, def string) (string, int, error) {
	if addr == "" {
		addr = def
	}
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("embedded: %s %q: want HOST:PORT: %w", what, addr, err)
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("embedded: %s %q: port must be a number from 0 to 65535", what, addr)
	}
	if host == "" || host == "localhost" {
		host = "127.0.0.1"
	}
	return host, port, nil
}

// checkFree binds host:port and lets go of it, returning the port (the one
// the system picked when port is 0).
func checkFree(host string, port int) (int, error) {
	var (
		ln  net.Listener
		err error
	)
	if port == 0 {
		ln, err = listenLow(host)
	} else {
		ln, err = net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	}
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// freePorts picks n distinct free loopback ports by holding them all open
// at once, so that none is handed out twice.
func freePorts(n int) ([]int, error) {
	var ports []int
	for range n {
		ln, err := listenLow("127.0.0.1")
		if err != nil {
			return nil, err
		}
		defer ln.Close()
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// listenLow listens on a free port below 32768: the PostgreSQL schema keeps
// the services' ports in a smallint, which the system's ephemeral ports
// overflow.
func listenLow(host string) (net.Listener, error) {
	const lo, hi = 20000, 32767
	start := lo + rand.IntN(hi-lo)
	for i := range hi - lo {
		p := lo + (start-lo+i)%(hi-lo)
		if ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(p))); err == nil {
			return ln, nil
		}
	}
	return nil, fmt.Errorf("no free port from %d to %d on %s", lo, hi, host)
}

// quietLogger discards the SDK client's logs while polling for readiness.
type quietLogger struct{}

func (quietLogger) Debug(string, ...any) {}
func (quietLogger) Info(string, ...any)  {}
func (quietLogger) Warn(string, ...any)  {}
func (quietLogger) Error(string, ...any) {}
