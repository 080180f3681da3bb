package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bucketferry/bucketferry/storage"
)

// secret is a credential value that must never show in output.
const secret = "SUPER-s3cr3t-VALUE"

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// validStores is a stores section every bad-config case can extend.
const validStores = `stores:
  src:
    type: oss
    endpoint: oss-cn-hangzhou.aliyuncs.com
    bucket: src-bucket
    accessKeyId: ak
    accessKeySecret: ` + secret + `
  dst:
    type: cos
    bucket: dst-1250000000
    region: ap-guangzhou
    secretId: sid
    secretKey: ` + secret + `
`

func TestDefaults(t *testing.T) {
	c, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	want := Defaults()
	if c.Temporal != want.Temporal || c.Worker != want.Worker || c.Transfer != want.Transfer || c.Log != want.Log {
		t.Errorf("Load(\"\") = %+v, want %+v", c, want)
	}
	if c.Worker.MaxConcurrentActivities != 16 || c.Temporal.Namespace != "default" {
		t.Errorf("defaults: %+v", c.Worker)
	}
	if len(c.Stores) != 0 {
		t.Errorf("stores: %v", c.Stores)
	}
}

func TestEnvOverrides(t *testing.T) {
	base := `temporal:
  address: file-host:7233
worker:
  maxConcurrentActivities: 8
transfer:
  partSize: 8MiB
` + validStores + `  eu-src:
    type: oss
    endpoint: oss-eu-central-1.aliyuncs.com
    bucket: eu-bucket
    accessKeyId: ak
`
	cases := []struct {
		name  string
		file  string // "" = base
		ext   string // default yaml
		env   map[string]string
		check func(*Config) error
	}{
		{
			name: "file values without env",
			check: func(c *Config) error {
				if c.Temporal.Address != "file-host:7233" || c.Worker.MaxConcurrentActivities != 8 || c.Transfer.PartSize != 8*MiB {
					return fmt.Errorf("got %+v %+v %+v", c.Temporal, c.Worker, c.Transfer)
				}
				return nil
			},
			env: map[string]string{"BUCKETFERRY_STORES_EU_SRC_ACCESSKEYSECRET": "x"},
		},
		{
			name: "env overrides keys set in the file",
			env: map[string]string{
				"BUCKETFERRY_TEMPORAL_ADDRESS":                    "env-host:7234",
				"BUCKETFERRY_WORKER_MAXCONCURRENTACTIVITIES":      "64",
				"BUCKETFERRY_TRANSFER_PARTSIZE":                   "32MiB",
				"BUCKETFERRY_STORES_SRC_BUCKET":                   "env-bucket",
				"BUCKETFERRY_STORES_EU_SRC_ACCESSKEYSECRET":       "x",
				"BUCKETFERRY_STORES_DST_REGION":                   "ap-shanghai",
				"BUCKETFERRY_STORES_SRC_ACCESSKEYSECRET":          "from-env",
				"BUCKETFERRY_WORKER_TASKQUEUEACTIVITIESPERSECOND": "0.5",
			},
			check: func(c *Config) error {
				switch {
				case c.Temporal.Address != "env-host:7234":
					return fmt.Errorf("address %q", c.Temporal.Address)
				case c.Worker.MaxConcurrentActivities != 64:
					return fmt.Errorf("maxConcurrentActivities %d", c.Worker.MaxConcurrentActivities)
				case c.Transfer.PartSize != 32*MiB:
					return fmt.Errorf("partSize %v", c.Transfer.PartSize)
				case c.Stores["src"].Bucket != "env-bucket":
					return fmt.Errorf("src bucket %q", c.Stores["src"].Bucket)
				case c.Stores["src"].AccessKeySecret.Value() != "from-env":
					return errors.New("src secret not overridden")
				case c.Stores["dst"].Region != "ap-shanghai":
					return fmt.Errorf("dst region %q", c.Stores["dst"].Region)
				case c.Worker.TaskQueueActivitiesPerSecond != 0.5:
					return fmt.Errorf("taskQueueActivitiesPerSecond %v", c.Worker.TaskQueueActivitiesPerSecond)
				}
				return nil
			},
		},
		{
			name: "env sets keys absent from the file",
			env: map[string]string{
				"BUCKETFERRY_STORES_EU_SRC_ACCESSKEYSECRET":  "eu-secret",
				"BUCKETFERRY_STORES_EU_SRC_REGION":           "eu-central-1",
				"BUCKETFERRY_STORES_EU_SRC_AUTHVERSION":      "4",
				"BUCKETFERRY_STORES_EU_SRC_USEINTERNAL":      "true",
				"BUCKETFERRY_STORES_EU_SRC_INTERNALENDPOINT": "oss-eu-central-1-internal.aliyuncs.com",
				"BUCKETFERRY_STORES_EU_SRC_CONNECTTIMEOUT":   "3s",
				"BUCKETFERRY_WORKER_SHUTDOWNTIMEOUT":         "2m",
				"BUCKETFERRY_WORKER_IDENTITY":                "worker-7",
				"BUCKETFERRY_TRANSFER_MEMORYBUDGET":          "1GiB",
				"BUCKETFERRY_TEMPORAL_TLS_ENABLED":           "true",
				"BUCKETFERRY_TEMPORAL_TLS_SERVERNAME":        "temporal.example.com",
				"BUCKETFERRY_TEMPORAL_APIKEY":                "api-key",
				"BUCKETFERRY_LOG_FORMAT":                     "json",
			},
			check: func(c *Config) error {
				eu := c.Stores["eu-src"]
				switch {
				case eu.AccessKeySecret.Value() != "eu-secret" || eu.Region != "eu-central-1" || eu.AuthVersion != 4:
					return fmt.Errorf("eu-src %+v", eu)
				case !eu.UseInternal || eu.InternalEndpoint == "" || eu.ConnectTimeout != 3*time.Second:
					return fmt.Errorf("eu-src %+v", eu)
				case c.Worker.ShutdownTimeout != 2*time.Minute || c.Worker.Identity != "worker-7":
					return fmt.Errorf("worker %+v", c.Worker)
				case c.Transfer.MemoryBudget != GiB:
					return fmt.Errorf("memoryBudget %v", c.Transfer.MemoryBudget)
				case !c.Temporal.TLS.Enabled || c.Temporal.TLS.ServerName != "temporal.example.com" || c.Temporal.APIKey.Value() != "api-key":
					return fmt.Errorf("temporal %+v", c.Temporal)
				case c.Log.Format != "json":
					return fmt.Errorf("log %+v", c.Log)
				}
				return nil
			},
		},
		{
			name: "toml file with env override",
			ext:  "toml",
			file: `[temporal]
address = "toml-host:7233"
namespace = "migrations"

[worker]
shutdownTimeout = "5s"

[transfer]
memoryBudget = 268435456

[stores.src]
type = "local"
path = "/data/src"
`,
			env: map[string]string{"BUCKETFERRY_STORES_SRC_PATH": "/data/other", "BUCKETFERRY_TEMPORAL_NAMESPACE": "env-ns"},
			check: func(c *Config) error {
				switch {
				case c.Temporal.Address != "toml-host:7233" || c.Temporal.Namespace != "env-ns":
					return fmt.Errorf("temporal %+v", c.Temporal)
				case c.Worker.ShutdownTimeout != 5*time.Second || c.Transfer.MemoryBudget != 256*MiB:
					return fmt.Errorf("%+v %+v", c.Worker, c.Transfer)
				case c.Stores["src"].Path != "/data/other":
					return fmt.Errorf("src path %q", c.Stores["src"].Path)
				}
				return nil
			},
		},
		{
			name: "json file, store names case-insensitive",
			ext:  "json",
			file: `{"stores": {"Archive": {"type": "local", "path": "/a"}}, "log": {"level": "DEBUG"}}`,
			check: func(c *Config) error {
				st, err := c.Store("ARCHIVE")
				if err != nil {
					return err
				}
				if !strings.HasSuffix(st.Name(), "/a") {
					return fmt.Errorf("store %q", st.Name())
				}
				return nil
			},
		},
		{
			name: "empty env values are ignored",
			env:  map[string]string{"BUCKETFERRY_TEMPORAL_ADDRESS": "", "BUCKETFERRY_STORES_EU_SRC_ACCESSKEYSECRET": "x"},
			check: func(c *Config) error {
				if c.Temporal.Address != "file-host:7233" {
					return fmt.Errorf("address %q", c.Temporal.Address)
				}
				return nil
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			file, ext := tc.file, tc.ext
			if file == "" {
				file = base
			}
			if ext == "" {
				ext = "yaml"
			}
			c, err := Load(writeFile(t, "c."+ext, file))
			if err != nil {
				t.Fatal(err)
			}
			if err := tc.check(c); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestBadConfigs(t *testing.T) {
	cases := []struct {
		name string
		file string
		ext  string
		env  map[string]string
		want []string // substrings of the error, each
	}{
		{name: "unknown top-level key", file: "temporl:\n  address: x:1\n",
			want: []string{`unknown key "temporl"`}},
		{name: "unknown nested key", file: "temporal:\n  tls:\n    cafle: /x\n",
			want: []string{`unknown key "temporal.tls.cafle"`, "caFile"}},
		{name: "unknown store key", file: validStores + "    acessKeySecret: x\n",
			want: []string{`unknown key "stores.dst.acesskeysecret"`}},
		{name: "key of another store type", file: validStores + "    accessKeyId: x\n",
			want: []string{"stores.dst.accessKeyId is not a key of cos stores"}},
		{name: "unknown store type", file: "stores:\n  gcs:\n    type: gcs\n    bucket: b\n",
			want: []string{`stores.gcs.type "gcs" is not a store type`}},
		{name: "s3 half keys", file: "stores:\n  a:\n    type: s3\n    bucket: b\n    region: us-east-1\n    accessKeyId: AK\n",
			want: []string{"stores.a.accessKeyId and secretAccessKey go together"}},
		{name: "s3 no region", file: "stores:\n  a:\n    type: s3\n    bucket: b\n",
			want: []string{"stores.a.region is required"}},
		{name: "urllist no manifest", file: "stores:\n  a:\n    type: urllist\n",
			want: []string{"stores.a.manifest is required"}},
		{name: "urllist bucket", file: "stores:\n  a:\n    type: urllist\n    manifest: m.txt\n    bucket: b\n",
			want: []string{"stores.a.bucket is not a key of urllist stores"}},
		{name: "missing store type", file: "stores:\n  x:\n    path: /a\n",
			want: []string{"stores.x.type is required"}},
		{name: "oss missing bucket and credentials", file: "stores:\n  src:\n    type: oss\n    endpoint: oss-cn-hangzhou.aliyuncs.com\n",
			want: []string{"stores.src.bucket is required", "stores.src.accessKeyId is required",
				"stores.src.accessKeySecret is required (in the file or in BUCKETFERRY_STORES_SRC_ACCESSKEYSECRET)"}},
		{name: "oss missing endpoint", file: strings.Replace(validStores, "    endpoint: oss-cn-hangzhou.aliyuncs.com\n", "", 1),
			want: []string{"stores.src.endpoint is required"}},
		{name: "oss internal endpoint required", file: validStores, env: map[string]string{"BUCKETFERRY_STORES_SRC_USEINTERNAL": "true"},
			want: []string{"stores.src.internalEndpoint is required"}},
		{name: "malformed endpoint scheme", file: validStores, env: map[string]string{"BUCKETFERRY_STORES_SRC_ENDPOINT": "ftp://oss.example.com"},
			want: []string{`stores.src.endpoint "ftp://oss.example.com" must use http or https`}},
		{name: "endpoint with a path", file: validStores, env: map[string]string{"BUCKETFERRY_STORES_SRC_ENDPOINT": "https://oss.example.com/bucket"},
			want: []string{"stores.src.endpoint", "must have no path"}},
		{name: "endpoint with a bad port", file: validStores, env: map[string]string{"BUCKETFERRY_STORES_SRC_ENDPOINT": "http://127.0.0.1:99999"},
			want: []string{"stores.src.endpoint", "invalid port"}},
		{name: "endpoint with credentials", file: validStores, env: map[string]string{"BUCKETFERRY_STORES_SRC_ENDPOINT": "https://ak:" + secret + "@oss.example.com"},
			want: []string{"stores.src.endpoint must not contain user:password@"}},
		{name: "endpoint naming the bucket", file: validStores, env: map[string]string{"BUCKETFERRY_STORES_SRC_ENDPOINT": "src-bucket.oss-cn-hangzhou.aliyuncs.com"},
			want: []string{"stores.src.endpoint", "without the bucket name"}},
		{name: "oss bucket name", file: validStores, env: map[string]string{"BUCKETFERRY_STORES_SRC_BUCKET": "Bad_Bucket"},
			want: []string{`stores.src.bucket "Bad_Bucket" is not an OSS bucket name`}},
		{name: "oss v4 without region", file: validStores, env: map[string]string{"BUCKETFERRY_STORES_SRC_AUTHVERSION": "4"},
			want: []string{"stores.src.region is required with authVersion 4"}},
		{name: "oss auth version 3", file: validStores, env: map[string]string{"BUCKETFERRY_STORES_SRC_AUTHVERSION": "3"},
			want: []string{"stores.src.authVersion 3 is not supported"}},
		{name: "oss region given as endpoint name", file: validStores, env: map[string]string{"BUCKETFERRY_STORES_SRC_REGION": "oss-cn-hangzhou"},
			want: []string{`stores.src.region "oss-cn-hangzhou" is not an OSS region ID`}},
		{name: "cos bucket without APPID", file: validStores, env: map[string]string{"BUCKETFERRY_STORES_DST_BUCKET": "dst"},
			want: []string{`stores.dst.bucket "dst" must be the full COS bucket name with its APPID`}},
		{name: "cos without region", file: strings.Replace(validStores, "    region: ap-guangzhou\n", "", 1),
			want: []string{"stores.dst.region is required"}},
		{name: "cos endpoint without scheme", file: validStores, env: map[string]string{"BUCKETFERRY_STORES_DST_ENDPOINT": "cos.ap-guangzhou.myqcloud.com"},
			want: []string{"stores.dst.endpoint", "must be a base URL with a scheme"}},
		{name: "cos missing secret key", file: strings.Replace(validStores, "    secretKey: "+secret+"\n", "", 1),
			want: []string{"stores.dst.secretKey is required (in the file or in BUCKETFERRY_STORES_DST_SECRETKEY)"}},
		{name: "secret with spaces", file: validStores, env: map[string]string{"BUCKETFERRY_STORES_DST_SECRETKEY": " " + secret},
			want: []string{"stores.dst.secretKey must not start or end with white space"}},
		{name: "local without path", file: "stores:\n  disk:\n    type: local\n",
			want: []string{"stores.disk.path is required"}},
		{name: "bad store name", file: "stores:\n  \"a b\":\n    type: local\n    path: /x\n",
			want: []string{`store name "a b" must be lower-case letters`}},
		{name: "negative store timeout", file: validStores, env: map[string]string{"BUCKETFERRY_STORES_DST_CONNECTTIMEOUT": "-1s"},
			want: []string{"stores.dst.connectTimeout -1s must not be negative"}},
		{name: "negative concurrency", file: "worker:\n  maxConcurrentActivities: -1\n",
			want: []string{"worker.maxConcurrentActivities -1 must not be negative"}},
		{name: "negative gc settings", file: "worker:\n  gcPercent: -1\n  memoryLimit: -5\n",
			want: []string{"worker.gcPercent -1 must not be negative", "worker.memoryLimit -5 must not be negative"}},
		{name: "workflow tasks 1", file: "worker:\n  maxConcurrentWorkflowTasks: 1\n",
			want: []string{"worker.maxConcurrentWorkflowTasks 1 must be 0"}},
		{name: "negative rates", file: "worker:\n  activitiesPerSecond: -2\n  taskQueueActivitiesPerSecond: -0.5\n",
			want: []string{"worker.activitiesPerSecond -2", "worker.taskQueueActivitiesPerSecond -0.5"}},
		{name: "not a number", file: "worker:\n  maxConcurrentActivities: many\n",
			want: []string{"worker.maxConcurrentActivities: not a valid int"}},
		{name: "duration without unit", file: "worker:\n  shutdownTimeout: 30\n",
			want: []string{"worker.shutdownTimeout: 30 has no unit"}},
		{name: "bad duration", file: "", env: map[string]string{"BUCKETFERRY_WORKER_SHUTDOWNTIMEOUT": "soon"},
			want: []string{`worker.shutdownTimeout: "soon" is not a duration`}},
		{name: "negative duration", file: "worker:\n  shutdownTimeout: -5s\n",
			want: []string{"worker.shutdownTimeout -5s must not be negative"}},
		{name: "bad size unit", file: "transfer:\n  memoryBudget: 64XB\n",
			want: []string{"transfer.memoryBudget", `unknown unit "XB"`}},
		{name: "negative size", file: "transfer:\n  partSize: -1\n  partsInFlight: -2\n",
			want: []string{"transfer.partSize -1 must not be negative", "transfer.partsInFlight -2 must not be negative"}},
		{name: "negative size from env", env: map[string]string{"BUCKETFERRY_TRANSFER_MULTIPARTTHRESHOLD": "-5MiB"},
			want: []string{"transfer.multipartThreshold", "negative"}},
		{name: "part too large", file: "transfer:\n  partSize: 6GiB\n",
			want: []string{"transfer.partSize 6GiB is over the 5GiB part limit"}},
		{name: "address with scheme", file: "temporal:\n  address: http://temporal:7233\n",
			want: []string{`temporal.address "http://temporal:7233" must be host:port without a scheme`}},
		{name: "address without port", file: "temporal:\n  address: temporal\n",
			want: []string{`temporal.address "temporal" must be host:port`}},
		{name: "empty namespace", env: map[string]string{}, file: "temporal:\n  namespace: \"\"\n",
			want: []string{"temporal.namespace is required"}},
		{name: "tls file without tls", file: "temporal:\n  tls:\n    caFile: /etc/ca.pem\n",
			want: []string{"temporal.tls.caFile is set but temporal.tls.enabled is false"}},
		{name: "tls missing ca file", file: "temporal:\n  tls:\n    enabled: true\n    caFile: /nonexistent/ca.pem\n",
			want: []string{"temporal.tls.caFile", "no such file"}},
		{name: "tls cert without key", file: "temporal:\n  tls:\n    enabled: true\n    certFile: /x.pem\n",
			want: []string{"temporal.tls.keyFile is required with temporal.tls.certFile"}},
		{name: "bad log level and format", file: "log:\n  level: verbose\n  format: xml\n",
			want: []string{`log.level "verbose" is not a level`, `log.format "xml" is not a format`}},
		{name: "scalar where a section belongs", file: "worker: 5\n",
			want: []string{"worker"}},
		{name: "unsupported extension", ext: "ini", file: "[temporal]\n",
			want: []string{`unsupported file type "ini"`}},
		{name: "malformed yaml", file: "temporal:\n  address: [x\n",
			want: []string{"read:"}},
		{name: "several problems at once", file: "worker:\n  maxConcurrentActivities: -1\nlog:\n  level: loud\n",
			want: []string{"worker.maxConcurrentActivities", "log.level"}},
		{name: "unknown keys and bad values at once", file: "worker:\n  maxConcurrentActivites: 3\n  shutdownTimeout: never\n",
			want: []string{`unknown key "worker.maxconcurrentactivites"`, "worker.shutdownTimeout: \"never\" is not a duration"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			ext := tc.ext
			if ext == "" {
				ext = "yaml"
			}
			path := ""
			if tc.file != "" {
				path = writeFile(t, "bad."+ext, tc.file)
			}
			c, err := Load(path)
			if err == nil {
				t.Fatalf("Load accepted it: %v", c)
			}
			msg := err.Error()
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error does not mention %q:\n%s", w, msg)
				}
			}
			if strings.Contains(msg, secret) {
				t.Errorf("error reveals a secret:\n%s", msg)
			}
		})
	}
}

func TestSecretsNeverShown(t *testing.T) {
	t.Setenv("BUCKETFERRY_TEMPORAL_APIKEY", secret)
	t.Setenv("BUCKETFERRY_STORES_SRC_SECURITYTOKEN", secret)
	c, err := Load(writeFile(t, "c.yaml", validStores))
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, nil))
	logger.Info("config", "stores", c.Stores, "temporal", c.Temporal, "src", c.Stores["src"])
	slog.New(slog.NewTextHandler(&logs, nil)).Info("config", "temporal", c.Temporal, "key", c.Temporal.APIKey)
	js, err := json.Marshal(c.Stores)
	if err != nil {
		t.Fatal(err)
	}
	outputs := map[string]string{
		"String":   c.String(),
		"%v":       fmt.Sprintf("%v", c),
		"%+v":      fmt.Sprintf("%+v", *c),
		"%#v":      fmt.Sprintf("%#v", *c),
		"%v store": fmt.Sprintf("%v", c.Stores["src"]),
		"%q":       fmt.Sprintf("%q", c.Temporal.APIKey),
		"json":     string(js),
		"slog":     logs.String(),
	}
	for what, out := range outputs {
		if strings.Contains(out, secret) {
			t.Errorf("%s reveals a secret: %s", what, out)
		}
		if !strings.Contains(out, redacted) {
			t.Errorf("%s shows no redaction marker: %s", what, out)
		}
	}
	for _, want := range []string{"temporal.address: \n", "temporal.apiKey: [redacted]\n", "stores.src.accessKeySecret: [redacted]\n",
		"stores.src.bucket: src-bucket\n", "transfer.partSize: 16MiB\n", "worker.shutdownTimeout: 30s\n"} {
		if !strings.Contains(c.String(), want) {
			t.Errorf("String() lacks %q:\n%s", want, c.String())
		}
	}
	if c.Stores["src"].AccessKeySecret.Value() != secret {
		t.Error("Value() must return the secret itself")
	}
}

func TestStoreResolver(t *testing.T) {
	dir := t.TempDir()
	c, err := Load(writeFile(t, "c.yaml", validStores+"  disk:\n    type: local\n    path: "+dir+"\n"))
	if err != nil {
		t.Fatal(err)
	}
	// Concurrent first use makes one store.
	const n = 16
	got := make([]storage.Store, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, err := c.Store("src")
			if err != nil {
				t.Error(err)
			}
			got[i] = st
		}()
	}
	wg.Wait()
	for i := range got {
		if got[i] != got[0] {
			t.Fatalf("Store returned different stores: %p and %p", got[0], got[i])
		}
	}
	// Copies of the Config share the stores made, unless they change them.
	cp := *c
	if st, _ := cp.Store("SRC"); st != got[0] {
		t.Error("a copy of the Config made a second store")
	}
	cp.Stores = map[string]StoreConfig{"src": c.Stores["src"]}
	changed := cp.Stores["src"]
	changed.Bucket = "other-bucket"
	cp.Stores["src"] = changed
	if st, err := cp.Store("src"); err != nil || st == got[0] || st.Name() != "oss://other-bucket" {
		t.Errorf("a copy with another src store got %v, %v", st.Name(), err)
	}
	_, err = c.Store("nowhere")
	if !errors.Is(err, ErrUnknownStore) {
		t.Fatalf("unknown store: %v", err)
	}
	for _, name := range []string{`"nowhere"`, `"disk"`, `"dst"`, `"src"`} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error %q does not name %s", err, name)
		}
	}
	if _, err := (&Config{}).Store("x"); !errors.Is(err, ErrUnknownStore) || !strings.Contains(err.Error(), "defines no stores") {
		t.Errorf("no stores: %v", err)
	}
	// A local store works through the resolver.
	st, err := c.Store("disk")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Put(t.Context(), "k", strings.NewReader("abc"), 3, storage.Metadata{}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "k")); err != nil {
		t.Errorf("object not under the configured path: %v", err)
	}
	// A Config built from Defaults caches too; a literal does not.
	hand := Defaults()
	hand.Stores = map[string]StoreConfig{"d": {Type: TypeLocal, Path: dir}}
	if err := hand.Validate(); err != nil {
		t.Fatal(err)
	}
	a, err1 := hand.Store("d")
	b, err2 := hand.Store("d")
	if err1 != nil || err2 != nil || a != b {
		t.Errorf("from Defaults: %v %v, same store %v", err1, err2, a == b)
	}
	lit := &Config{Stores: hand.Stores}
	a, err1 = lit.Store("d")
	b, err2 = lit.Store("d")
	if err1 != nil || err2 != nil || a == b {
		t.Errorf("literal: %v %v, same store %v", err1, err2, a == b)
	}
}

func TestLogger(t *testing.T) {
	var buf bytes.Buffer
	c := Defaults()
	c.Log = Log{Level: "warn", Format: "json"}
	l := c.Logger(&buf)
	l.Info("hidden")
	l.Warn("shown", "k", 1)
	out := buf.String()
	if strings.Contains(out, "hidden") || !strings.Contains(out, `"msg":"shown"`) {
		t.Errorf("json warn logger wrote %q", out)
	}
	buf.Reset()
	c.Log = Log{Level: "debug", Format: "text"}
	c.Logger(&buf).Debug("detail")
	if !strings.Contains(buf.String(), "level=DEBUG msg=detail") {
		t.Errorf("text debug logger wrote %q", buf.String())
	}
}

func TestTransferAndWorkerOptions(t *testing.T) {
	c := Defaults()
	c.Transfer = Transfer{MultipartThreshold: 32 * MiB, PartSize: 8 * MiB, PartsInFlight: 3, MemoryBudget: GiB, PartAttempts: 2}
	c.Worker = Worker{MaxConcurrentActivities: 7, MaxConcurrentWorkflowTasks: 9, ActivitiesPerSecond: 1.5,
		TaskQueueActivitiesPerSecond: 100, Identity: "w1", ShutdownTimeout: time.Minute}
	to := c.TransferOptions()
	if to.MultipartThreshold != 32<<20 || to.PartSize != 8<<20 || to.PartsInFlight != 3 || to.MemoryBudget != 1<<30 || to.PartAttempts != 2 {
		t.Errorf("transfer options %+v", to)
	}
	wo := c.WorkerOptions()
	if wo.MaxConcurrentActivityExecutionSize != 7 || wo.MaxConcurrentWorkflowTaskExecutionSize != 9 ||
		wo.WorkerActivitiesPerSecond != 1.5 || wo.TaskQueueActivitiesPerSecond != 100 || wo.Identity != "w1" ||
		wo.WorkerStopTimeout != time.Minute {
		t.Errorf("worker options %+v", wo)
	}
}

// TestGCSettings: by default a worker collects at 400 % and its soft memory
// limit is its transfer memory budget plus 512 MiB; set values are kept.
func TestGCSettings(t *testing.T) {
	c := Defaults()
	if gc, limit := c.GCSettings(); gc != DefaultGCPercent || limit != 4*16<<20*4+512<<20 {
		t.Errorf("defaults: gcPercent %d, memory limit %d, want %d and 768 MiB", gc, limit, DefaultGCPercent)
	}
	c.Transfer.MemoryBudget = GiB
	if _, limit := c.GCSettings(); limit != 1<<30+512<<20 {
		t.Errorf("memory limit %d with a 1 GiB budget, want 1.5 GiB", limit)
	}
	c.Worker.GCPercent, c.Worker.MemoryLimit = 150, 300*MiB
	if gc, limit := c.GCSettings(); gc != 150 || limit != 300<<20 {
		t.Errorf("set: gcPercent %d, memory limit %d, want 150 and 300 MiB", gc, limit)
	}
}
