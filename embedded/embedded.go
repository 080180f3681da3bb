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
	"context"
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
	"go.temporal.io/server/common/authorization"
	"go.temporal.io/server/common/cluster"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/dynamicconfig"
	"go.temporal.io/server/common/log"
	sqliteplugin "go.temporal.io/server/common/persistence/sql/sqlplugin/sqlite"
	"go.temporal.io/server/schema/sqlite"
	"go.temporal.io/server/temporal"
	"google.golang.org/protobuf/types/known/durationpb"

	uiserver "github.com/temporalio/ui-server/v2/server"
	uiconfig "github.com/temporalio/ui-server/v2/server/config"
	uioptions "github.com/temporalio/ui-server/v2/server/server_options"
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
}

// Server is a running embedded Temporal server.
type Server struct {
	temporal  temporal.Server
	ui        *uiserver.Server
	uiDone    chan struct{}
	frontend  string
	uiURL     string
	namespace string
	stopOnce  sync.Once
	stopErr   error
}

// Start runs the server and returns once its frontend answers for the
// namespace, or ctx ends, or starting fails.
func Start(ctx context.Context, opts Options) (*Server, error) {
	if opts.StateDir == "" {
		return nil, errors.New("embedded: a state directory is required")
	}
	host, port, err := listenAddress("address", opts.Address, DefaultAddress)
	if err != nil {
		return nil, err
	}
	if opts.Namespace == "" {
		opts.Namespace = DefaultNamespace
	}
	if opts.Retention == 0 {
		opts.Retention = DefaultRetention
	}
	if opts.LogLevel == "" {
		opts.LogLevel = "warn"
	}
	if err := os.MkdirAll(opts.StateDir, 0o755); err != nil {
		return nil, fmt.Errorf("embedded: state directory: %w", err)
	}
	uiHost, uiPort := "", 0
	if opts.UIAddress != NoUI {
		if uiHost, uiPort, err = listenAddress("UI address", opts.UIAddress, DefaultUIAddress); err != nil {
			return nil, err
		}
		// The UI server exits the process when it cannot bind, so find out
		// first, and settle a port of 0 now.
		if uiPort, err = checkFree(uiHost, uiPort); err != nil {
			return nil, fmt.Errorf("embedded: Web UI address %s: %w", net.JoinHostPort(uiHost, strconv.Itoa(uiPort)), err)
		}
	}
	if port, err = checkFree(host, port); err != nil {
		return nil, fmt.Errorf("embedded: frontend address %s: %w (is another server running on it? use another address, or connect to that one)",
			net.JoinHostPort(host, strconv.Itoa(port)), err)
	}

	logger := log.NewZapLogger(log.BuildZapLogger(log.Config{
		Level:      opts.LogLevel,
		OutputFile: filepath.Join(opts.StateDir, LogFile),
	}))
	var persistence config.Persistence
	if opts.PostgresDSN != "" {
		main, vis, err := postgresConfigs(opts.PostgresDSN)
		if err != nil {
			return nil, err
		}
		if err := setupPostgres(main, "postgresql/v12/temporal", logger); err != nil {
			return nil, err
		}
		if err := setupPostgres(vis, "postgresql/v12/visibility", logger); err != nil {
			return nil, err
		}
		persistence = config.Persistence{
			DefaultStore:    "default",
			VisibilityStore: "visibility",
			// Fixed for the life of the database.
			NumHistoryShards: 4,
			DataStores: map[string]config.DataStore{
				"default":    {SQL: main},
				"visibility": {SQL: vis},
			},
		}
	} else {
		sqlCfg, err := setupSQLite(opts)
		if err != nil {
			return nil, err
		}
		persistence = config.Persistence{
			DefaultStore:     sqliteplugin.PluginName,
			VisibilityStore:  sqliteplugin.PluginName,
			NumHistoryShards: 1,
			DataStores:       map[string]config.DataStore{sqliteplugin.PluginName: {SQL: sqlCfg}},
		}
	}

	cfg, err := serverConfig(host, port, persistence)
	if err != nil {
		return nil, err
	}
	authorizer, err := authorization.GetAuthorizerFromConfig(&cfg.Global.Authorization)
	if err != nil {
		return nil, fmt.Errorf("embedded: authorizer: %w", err)
	}
	claimMapper, err := authorization.GetClaimMapperFromConfig(&cfg.Global.Authorization, logger)
	if err != nil {
		return nil, fmt.Errorf("embedded: claim mapper: %w", err)
	}
	ts, err := temporal.NewServer(
		temporal.WithConfig(cfg),
		temporal.ForServices(temporal.DefaultServices),
		temporal.WithLogger(logger),
		temporal.WithAuthorizer(authorizer),
		temporal.WithClaimMapper(func(*config.Config) authorization.ClaimMapper { return claimMapper }),
		temporal.WithDynamicConfigClient(dynamicconfig.StaticClient{
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
		}),
	)
	if err != nil {
		return nil, fmt.Errorf("embedded: create the server: %w", err)
	}
	if err := ts.Start(); err != nil {
		return nil, fmt.Errorf("embedded: start the server: %w", err)
	}
	s := &Server{temporal: ts, frontend: cfg.PublicClient.HostPort, namespace: opts.Namespace}
	if err := s.waitReady(ctx, opts); err != nil {
		_ = ts.Stop()
		return nil, err
	}
	if uiPort != 0 {
		s.startUI(uiHost, uiPort)
	}
	return s, nil
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

// waitReady polls the frontend until it describes the namespace: the
// services start in the background and a client would otherwise meet a
// server that is not ready yet.
func (s *Server) waitReady(ctx context.Context, opts Options) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	c, err := client.DialContext(ctx, client.Options{HostPort: s.frontend, Namespace: s.namespace, Logger: quietLogger{}})
	for err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("embedded: the server did not answer at %s: %w", s.frontend, err)
		}
		time.Sleep(100 * time.Millisecond)
		c, err = client.DialContext(ctx, client.Options{HostPort: s.frontend, Namespace: s.namespace, Logger: quietLogger{}})
	}
	defer c.Close()
	for {
		_, err := c.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: s.namespace})
		if err == nil {
			return nil
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

func (s *Server) startUI(host string, port int) {
	cfg := &uiconfig.Config{
		Host:                host,
		Port:                port,
		TemporalGRPCAddress: s.frontend,
		EnableUI:            true,
		DefaultNamespace:    s.namespace,
		HideLogs:            true,
		DisableNewsFetch:    true, // no internet is assumed
		CORS:                uiconfig.CORS{CookieInsecure: true},
	}
	s.ui = uiserver.NewServer(uioptions.WithConfigProvider(cfg))
	s.uiDone = make(chan struct{})
	go func() {
		defer close(s.uiDone)
		_ = s.ui.Start() // returns when Stop closes it
	}()
	uiHost := host
	if uiHost == "0.0.0.0" || uiHost == "::" || uiHost == "" {
		uiHost = "127.0.0.1"
	}
	s.uiURL = "http://" + net.JoinHostPort(uiHost, strconv.Itoa(port))
}

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
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.uiURL+"/healthz", nil)
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
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
			s.ui.Stop()
			<-s.uiDone
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
