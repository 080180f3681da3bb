// Package config loads the configuration of bucketferry's worker (and of the
// starter's Temporal client): the Temporal connection, worker limits, copy
// engine options, logging and the named stores with their credentials.
//
// A configuration is a YAML, TOML or JSON file (example.yaml documents every
// key); every key can be overridden by an environment variable named after
// its path: BUCKETFERRY_ + the path in upper case with "." (and "-") replaced
// by "_", e.g. BUCKETFERRY_TEMPORAL_ADDRESS or
// BUCKETFERRY_STORES_SRC_ACCESSKEYSECRET for stores.src.accessKeySecret.
// Environment variables override keys of the stores the file defines; a
// store cannot be defined by environment variables alone.
//
// Load rejects unknown keys and invalid values before anything starts, with
// messages naming the key. Credentials are of type Secret and never appear
// in String, errors or logs.
package config

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/viper"

	"github.com/bucketferry/bucketferry/storage"
	"github.com/bucketferry/bucketferry/transfer"
)

// EnvPrefix starts the name of every environment variable that overrides
// a configuration key.
const EnvPrefix = "BUCKETFERRY"

// Defaults of keys left unset.
const (
	DefaultNamespace               = "default"
	DefaultMaxConcurrentActivities = 16
	DefaultShutdownTimeout         = 30 * time.Second
	// DefaultGCPercent: a worker's live heap is small (tens of MiB: part
	// buffers are pooled), so collecting when it has grown fivefold rather
	// than twofold costs little memory and saves CPU on every small
	// object, whose copy allocates in the SDKs. The soft memory limit
	// bounds it (see Worker.MemoryLimit).
	DefaultGCPercent      = 400
	DefaultLogLevel       = "info"
	DefaultLogFormat      = "text"
	DefaultStateDir       = "bucketferry-state"
	DefaultServerAddress  = "127.0.0.1:7233"
	DefaultUIAddress      = "127.0.0.1:8233"
	DefaultUIUser         = "admin"
	DefaultConsoleAddress = "127.0.0.1:8234"
)

// Config is the whole configuration.
type Config struct {
	Temporal Temporal `mapstructure:"temporal"`
	Server   Server   `mapstructure:"server"`
	Console  Console  `mapstructure:"console"`
	Worker   Worker   `mapstructure:"worker"`
	Transfer Transfer `mapstructure:"transfer"`
	Log      Log      `mapstructure:"log"`
	// Stores maps the store names job specs use to their configuration.
	// Names are case-insensitive (kept in lower case).
	Stores map[string]StoreConfig `mapstructure:"stores"`

	// cache holds the stores made so far; copies of the Config share it.
	cache *storeCache
}

// Temporal is how to reach the Temporal service.
type Temporal struct {
	// Address is the frontend's host:port. Empty means the starter's
	// embedded server; a worker needs an address.
	Address   string `mapstructure:"address"`
	Namespace string `mapstructure:"namespace"`
	TLS       TLS    `mapstructure:"tls"`
	// APIKey authenticates to Temporal Cloud (sent as a bearer token). With
	// an API key, TLS is used even when tls.enabled is false.
	APIKey Secret `mapstructure:"apiKey"`
}

// Server configures the Temporal server embedded in the starter (`starter
// server`, and `starter start` when temporal.address is empty).
type Server struct {
	// StateDir holds the server's SQLite database: every job's history, so
	// that a restarted server resumes its jobs.
	StateDir string `mapstructure:"stateDir"`
	// Address is the frontend's host:port; 0.0.0.0:7233 accepts workers
	// from other hosts.
	Address string `mapstructure:"address"`
	// UIAddress is the Temporal Web UI's host:port; "-" turns it off.
	UIAddress string `mapstructure:"uiAddress"`
	// PostgresDSN keeps the server's state in PostgreSQL instead of the
	// SQLite file in StateDir:
	// postgres://USER:PASSWORD@HOST:5432/DATABASE?sslmode=disable (the
	// database and DATABASE_visibility are created with their schemas).
	PostgresDSN Secret `mapstructure:"postgresDSN"`
	// TLS makes the frontend serve TLS and require client certificates
	// signed by TLS.CAFile, each granted by the role in its subject; the
	// Web UI is then served over HTTPS.
	TLS ServerTLS `mapstructure:"tls"`
	// InsecureNetwork lets the frontend listen beyond loopback without TLS:
	// only on a network where every host that can reach it is trusted.
	InsecureNetwork bool `mapstructure:"insecureNetwork"`
	// UIUser and UIPassword are the Web UI's login, which a UI listening
	// beyond loopback requires. UIPassword is a bcrypt hash or the password
	// itself.
	UIUser     string `mapstructure:"uiUser"`
	UIPassword Secret `mapstructure:"uiPassword"`
}

// Console configures the web console (`starter console`, and beside the
// embedded server in `starter server`, `start` and `demo`).
type Console struct {
	// Address is the console's host:port, on loopback; "-" turns it off.
	Address string `mapstructure:"address"`
	// Users may sign in: NAME:ROLE:BCRYPT-HASH entries (role operator or
	// reader) separated by commas or white space. With none, an operator
	// token is made at the first start, printed once, and its hash kept in
	// TokenFile.
	Users string `mapstructure:"users"`
	// TokenFile keeps the hash of that token; default
	// <server.stateDir>/console-token.
	TokenFile string `mapstructure:"tokenFile"`
	// WebUIURL is Temporal Web's address, for the console's links to a job
	// when the console does not run beside the embedded server's Web UI.
	WebUIURL string `mapstructure:"webUIURL"`
}

// ServerTLS are the embedded server's certificate files (PEM), re-read
// when they change: replacing them rotates the certificates without a
// restart.
type ServerTLS struct {
	// CertFile and KeyFile are the server's certificate (naming the hosts
	// and addresses clients dial) and its key.
	CertFile string `mapstructure:"certFile"`
	KeyFile  string `mapstructure:"keyFile"`
	// CAFile holds the CA certificate(s) that sign the clients'
	// certificates; during a CA rotation, the old and the new one.
	CAFile string `mapstructure:"caFile"`
}

// Enabled reports whether any of the files is set.
func (t ServerTLS) Enabled() bool { return t.CertFile != "" || t.KeyFile != "" || t.CAFile != "" }

// TLS configures the connection to Temporal: server verification with a
// CA file, and mutual TLS with a client certificate and key.
type TLS struct {
	Enabled bool `mapstructure:"enabled"`
	// CAFile verifies the server; empty means the system roots.
	CAFile string `mapstructure:"caFile"`
	// CertFile and KeyFile are the client certificate and key (PEM) for
	// mutual TLS; both or neither.
	CertFile string `mapstructure:"certFile"`
	KeyFile  string `mapstructure:"keyFile"`
	// ServerName overrides the name checked against the server's
	// certificate (the host of the address by default).
	ServerName         string `mapstructure:"serverName"`
	InsecureSkipVerify bool   `mapstructure:"insecureSkipVerify"`
}

// Worker bounds what one worker process runs.
type Worker struct {
	// MaxConcurrentActivities bounds the activities running at once in
	// this worker (each copies a page of objects or one large object).
	MaxConcurrentActivities int `mapstructure:"maxConcurrentActivities"`
	// MaxConcurrentWorkflowTasks bounds the workflow tasks processed at
	// once; 0 means the SDK default. It cannot be 1.
	MaxConcurrentWorkflowTasks int `mapstructure:"maxConcurrentWorkflowTasks"`
	// ActivitiesPerSecond limits the activities this worker starts per
	// second; 0 means unlimited.
	ActivitiesPerSecond float64 `mapstructure:"activitiesPerSecond"`
	// TaskQueueActivitiesPerSecond limits the activities started per second
	// by all workers of the task queue together, enforced by the server;
	// 0 means unlimited.
	TaskQueueActivitiesPerSecond float64 `mapstructure:"taskQueueActivitiesPerSecond"`
	// Identity names this worker in the Temporal UI; empty means the SDK's
	// default (pid@host).
	Identity string `mapstructure:"identity"`
	// ShutdownTimeout is how long running activities get to finish when the
	// worker stops before they are cancelled (their heartbeats let the next
	// attempt resume).
	ShutdownTimeout time.Duration `mapstructure:"shutdownTimeout"`
	// MetricsAddress is the host:port where the worker serves Prometheus
	// metrics on /metrics; empty means none.
	MetricsAddress string `mapstructure:"metricsAddress"`
	// MaxRequestsPerSecond caps this worker's requests to all stores, over
	// all jobs, under the jobs' own limits; 0 means unlimited.
	MaxRequestsPerSecond float64 `mapstructure:"maxRequestsPerSecond"`
	// MaxBytesPerSecond caps the body bytes this worker reads from sources,
	// over all jobs; 0 means unlimited.
	MaxBytesPerSecond ByteSize `mapstructure:"maxBytesPerSecond"`
	// GCPercent is the worker's garbage collection target (Go's GOGC): the
	// heap may grow this many percent over what is live before a
	// collection; 0 means DefaultGCPercent. GOGC in the environment wins.
	GCPercent int `mapstructure:"gcPercent"`
	// MemoryLimit is the worker's soft memory limit (Go's GOMEMLIMIT):
	// nearing it, the garbage collector runs as often as it must, whatever
	// GCPercent; 0 means the transfer memory budget plus 512 MiB.
	// GOMEMLIMIT in the environment wins.
	MemoryLimit ByteSize `mapstructure:"memoryLimit"`
}

// GCSettings returns the garbage collection target and soft memory limit
// the worker runs with, defaults applied.
func (c *Config) GCSettings() (gcPercent int, memoryLimit int64) {
	gcPercent, memoryLimit = c.Worker.GCPercent, int64(c.Worker.MemoryLimit)
	if gcPercent == 0 {
		gcPercent = DefaultGCPercent
	}
	if memoryLimit == 0 {
		memoryLimit = c.TransferOptions().Budget() + 512<<20
	}
	return gcPercent, memoryLimit
}

// Transfer tunes the copy engine; zero values mean the engine's defaults.
type Transfer struct {
	MultipartThreshold ByteSize `mapstructure:"multipartThreshold"`
	PartSize           ByteSize `mapstructure:"partSize"`
	PartsInFlight      int      `mapstructure:"partsInFlight"`
	// MemoryBudget bounds the part buffers of all copies of the worker
	// together; 0 means partsInFlight x partSize x 4.
	MemoryBudget ByteSize `mapstructure:"memoryBudget"`
	PartAttempts int      `mapstructure:"partAttempts"`
}

// Log configures the worker's log.
type Log struct {
	Level  string `mapstructure:"level"`  // debug, info, warn or error
	Format string `mapstructure:"format"` // text or json
}

// Load reads the configuration file at path (YAML, TOML or JSON, by its
// extension; "" reads none), applies the environment overrides and
// validates the result.
func Load(path string) (*Config, error) {
	source := path
	if source == "" {
		source = "(environment only)"
	}
	c, err := load(path)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", source, err)
	}
	return c, nil
}

func load(path string) (*Config, error) {
	v := viper.New()
	v.SetEnvPrefix(EnvPrefix)
	v.SetEnvKeyReplacer(envReplacer())
	def := Defaults()
	for _, l := range leaves(reflect.ValueOf(def), "") {
		if l.field.Type.Kind() == reflect.Map {
			continue
		}
		// Every key is bound by name: viper's AutomaticEnv would not see
		// keys absent from the file when unmarshalling.
		if err := v.BindEnv(l.path); err != nil {
			return nil, err
		}
		if !l.value.IsZero() {
			v.SetDefault(l.path, l.value.Interface())
		}
	}
	if path != "" {
		switch ext := strings.TrimPrefix(filepath.Ext(path), "."); strings.ToLower(ext) {
		case "yaml", "yml", "toml", "json":
			v.SetConfigType(strings.ToLower(ext))
		default:
			return nil, fmt.Errorf("unsupported file type %q: use .yaml, .yml, .toml or .json", ext)
		}
		v.SetConfigFile(path)
		if err := v.ReadInConfig(); err != nil {
			return nil, fmt.Errorf("read: %w", err)
		}
	}
	// Stores are a map: bind the keys of each store the file names, so
	// that a secret can live in the environment only.
	for name := range v.GetStringMap("stores") {
		for _, l := range storeKeys() {
			if err := v.BindEnv("stores." + name + "." + l.path); err != nil {
				return nil, err
			}
		}
	}
	// Unknown keys and undecodable values are reported together; values
	// are validated once they all decode.
	problems := unknownKeys(v.AllSettings(), reflect.TypeFor[Config](), "")
	var c Config
	unmarshal := v.UnmarshalExact // a backstop for unknown keys the walk missed
	if len(problems) > 0 {
		unmarshal = v.Unmarshal
	}
	if err := unmarshal(&c, viper.DecodeHook(decodeHook())); err != nil {
		problems = append(problems, decodeProblems(err)...)
	}
	if len(problems) > 0 {
		return nil, joinProblems(problems)
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	c.cache = newStoreCache()
	return &c, nil
}

// Defaults returns the configuration used for keys left unset: the
// starting point of a Config built by hand.
func Defaults() Config {
	return Config{
		Temporal: Temporal{Namespace: DefaultNamespace},
		Server:   Server{StateDir: DefaultStateDir, Address: DefaultServerAddress, UIAddress: DefaultUIAddress, UIUser: DefaultUIUser},
		Console:  Console{Address: DefaultConsoleAddress},
		Worker: Worker{
			MaxConcurrentActivities: DefaultMaxConcurrentActivities,
			ShutdownTimeout:         DefaultShutdownTimeout,
		},
		Transfer: Transfer{
			MultipartThreshold: transfer.DefaultMultipartThreshold,
			PartSize:           transfer.DefaultPartSize,
			PartsInFlight:      transfer.DefaultPartsInFlight,
			PartAttempts:       transfer.DefaultPartAttempts,
		},
		Log:   Log{Level: DefaultLogLevel, Format: DefaultLogFormat},
		cache: newStoreCache(),
	}
}

// decodeHook converts the strings of files and environment variables:
// durations ("30s"), sizes ("64MiB"); it refuses bare numbers as durations,
// which would silently mean nanoseconds.
func decodeHook() mapstructure.DecodeHookFunc {
	durationType := reflect.TypeFor[time.Duration]()
	sizeType := reflect.TypeFor[ByteSize]()
	return func(from, to reflect.Type, data any) (any, error) {
		if from == to {
			return data, nil
		}
		switch to {
		case durationType:
			switch from.Kind() {
			case reflect.String:
				d, err := time.ParseDuration(strings.TrimSpace(data.(string)))
				if err != nil {
					return nil, fmt.Errorf("%q is not a duration such as 30s or 5m", data)
				}
				return d, nil
			case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
				reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
				reflect.Float32, reflect.Float64:
				if !reflect.ValueOf(data).IsZero() {
					return nil, fmt.Errorf("%v has no unit: write a duration such as 30s or 5m", data)
				}
			}
		case sizeType:
			switch from.Kind() {
			case reflect.String:
				return ParseByteSize(data.(string))
			case reflect.Float32, reflect.Float64:
				f := reflect.ValueOf(data).Float()
				if f != float64(int64(f)) {
					return nil, fmt.Errorf("%v is not a whole number of bytes", data)
				}
				return ByteSize(f), nil
			}
		}
		return data, nil
	}
}

// decodeProblems rewrites the decoder's errors as "key: problem" lines.
func decodeProblems(err error) []string {
	var out []string
	var walk func(error)
	walk = func(err error) {
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				walk(e)
			}
			return
		}
		var de *mapstructure.DecodeError
		if errors.As(err, &de) {
			cause := de.Unwrap()
			var pe *mapstructure.ParseError
			if errors.As(cause, &pe) {
				cause = fmt.Errorf("not a valid %s: %w", pe.Expected.Type(), pe.Err)
			}
			var ue *mapstructure.UnconvertibleTypeError
			if errors.As(cause, &ue) {
				cause = fmt.Errorf("expected a %s, not a %T", ue.Expected.Type(), ue.Value)
			}
			out = append(out, fmt.Sprintf("%s: %v", de.Name(), cause))
			return
		}
		out = append(out, err.Error())
	}
	walk(err)
	return out
}

// joinProblems makes one error of many problems, one a line.
func joinProblems(problems []string) error {
	if len(problems) == 0 {
		return nil
	}
	errs := make([]error, len(problems))
	for i, p := range problems {
		errs[i] = errors.New(p)
	}
	return errors.Join(errs...)
}

// Logger returns the logger the configuration asks for, writing to w.
func (c *Config) Logger(w io.Writer) *slog.Logger {
	level, _ := parseLevel(c.Log.Level)
	opts := &slog.HandlerOptions{Level: level}
	if strings.EqualFold(c.Log.Format, "json") {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func parseLevel(s string) (slog.Level, bool) {
	switch strings.ToLower(s) {
	case "debug":
		return slog.LevelDebug, true
	case "", "info":
		return slog.LevelInfo, true
	case "warn", "warning":
		return slog.LevelWarn, true
	case "error":
		return slog.LevelError, true
	}
	return slog.LevelInfo, false
}

// TransferOptions returns the copy engine's options.
func (c *Config) TransferOptions() transfer.Options {
	t := c.Transfer
	return transfer.Options{
		MultipartThreshold: int64(t.MultipartThreshold),
		PartSize:           int64(t.PartSize),
		PartsInFlight:      t.PartsInFlight,
		MemoryBudget:       int64(t.MemoryBudget),
		PartAttempts:       t.PartAttempts,
	}
}

// String lists every key with its value, one "key: value" a line, with
// secrets redacted; stores list only the keys that are set.
func (c *Config) String() string {
	var b strings.Builder
	write := func(path string, v reflect.Value) {
		fmt.Fprintf(&b, "%s: %v\n", path, v.Interface())
	}
	for _, l := range leaves(reflect.ValueOf(*c), "") {
		if l.field.Type.Kind() != reflect.Map {
			write(l.path, l.value)
		}
	}
	names := sortedKeys(c.Stores)
	for _, name := range names {
		for _, l := range leaves(reflect.ValueOf(c.Stores[name]), "") {
			if !l.value.IsZero() {
				write("stores."+name+"."+l.path, l.value)
			}
		}
	}
	return b.String()
}

// storeCache holds the stores made so far, so that every activity shares
// one client (and one connection pool) per store. Stores are keyed by their
// whole configuration, not their name, so that copies of a Config sharing
// the cache never get a store of another configuration.
type storeCache struct {
	mu     sync.Mutex
	stores map[StoreConfig]storage.Store
}

func newStoreCache() *storeCache { return &storeCache{stores: map[StoreConfig]storage.Store{}} }

// ErrUnknownStore is returned by Store for a name the configuration does
// not define.
var ErrUnknownStore = errors.New("unknown store")

// Store returns the store configured under name (case-insensitive),
// making it on first use; it is safe for concurrent use. A Config made by
// Load or Defaults (and its copies) makes each store once; a Config
// literal makes a new one on every call. A name the configuration
// does not define is an error wrapping ErrUnknownStore that lists the names
// it does define.
func (c *Config) Store(name string) (storage.Store, error) {
	key := strings.ToLower(name)
	sc, ok := c.Stores[key]
	if !ok {
		return nil, c.unknownStore(name)
	}
	if c.cache == nil {
		st, err := sc.Open()
		if err != nil {
			return nil, fmt.Errorf("store %q: %w", name, err)
		}
		return st, nil
	}
	c.cache.mu.Lock()
	defer c.cache.mu.Unlock()
	if st, ok := c.cache.stores[sc]; ok {
		return st, nil
	}
	st, err := sc.Open()
	if err != nil {
		return nil, fmt.Errorf("store %q: %w", name, err)
	}
	c.cache.stores[sc] = st
	return st, nil
}

func (c *Config) unknownStore(name string) error {
	names := sortedKeys(c.Stores)
	if len(names) == 0 {
		return fmt.Errorf("%w %q: this worker's configuration defines no stores (add them under \"stores\")", ErrUnknownStore, name)
	}
	return fmt.Errorf("%w %q: this worker's configuration defines %s", ErrUnknownStore, name, quoteAll(names))
}

func quoteAll(names []string) string {
	q := slices.Clone(names)
	for i, n := range q {
		q[i] = fmt.Sprintf("%q", n)
	}
	return strings.Join(q, ", ")
}
