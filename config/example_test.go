package config

import (
	"strings"
	"testing"

	"github.com/spf13/viper"

	"github.com/bucketferry/bucketferry/storage"
)

// exampleSecrets are the credentials example.yaml leaves to the environment.
func setExampleSecrets(t *testing.T) {
	t.Setenv("BUCKETFERRY_STORES_SRC_ACCESSKEYSECRET", "oss-secret-from-env")
	t.Setenv("BUCKETFERRY_STORES_DST_SECRETKEY", "cos-secret-from-env")
	t.Setenv("BUCKETFERRY_STORES_AWS_SECRETACCESSKEY", "s3-secret-from-env")
}

func TestExampleLoads(t *testing.T) {
	setExampleSecrets(t)
	c, err := Load("example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if c.Temporal.Address != "localhost:7233" || c.Temporal.Namespace != "default" {
		t.Errorf("temporal: %+v", c.Temporal)
	}
	if c.Transfer.MultipartThreshold != 64*MiB || c.Transfer.PartSize != 16*MiB {
		t.Errorf("transfer: %+v", c.Transfer)
	}
	if got := c.Stores["src"].AccessKeySecret.Value(); got != "oss-secret-from-env" {
		t.Errorf("src secret from the environment: got %q", got)
	}
	for name, want := range map[string]string{"src": "oss://example-source", "dst": "cos://example-destination-1250000000",
		"aws": "s3://example-bucket", "urls": "urllist://urls.csv"} {
		st, err := c.Store(name)
		if err != nil {
			t.Fatalf("Store(%q): %v", name, err)
		}
		if st.Name() != want {
			t.Errorf("Store(%q).Name() = %q, want %q", name, st.Name(), want)
		}
	}
	st, err := c.Store("reports")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(st.Name(), "file://") {
		t.Errorf("reports store is %q", st.Name())
	}
	var _ interface {
		Store(string) (storage.Store, error)
	} = c
}

// TestExampleDocumentsEveryKey: every key of the Config struct, and every
// key a store can take, appears in example.yaml.
func TestExampleDocumentsEveryKey(t *testing.T) {
	v := viper.New()
	v.SetConfigFile("example.yaml")
	if err := v.ReadInConfig(); err != nil {
		t.Fatal(err)
	}
	inFile := map[string]bool{}
	for _, k := range v.AllKeys() {
		inFile[k] = true
	}
	for _, l := range staticKeys() {
		if !inFile[strings.ToLower(l.path)] {
			t.Errorf("key %s is not in example.yaml", l.path)
		}
	}
	storeKeysInFile := map[string]bool{}
	types := map[string]bool{}
	for name := range v.GetStringMap("stores") {
		types[v.GetString("stores."+name+".type")] = true
		for k := range v.GetStringMap("stores." + name) {
			storeKeysInFile[k] = true
		}
	}
	for _, l := range storeKeys() {
		if !storeKeysInFile[strings.ToLower(l.path)] {
			t.Errorf("store key %s is not in example.yaml", l.path)
		}
	}
	for _, typ := range []string{TypeOSS, TypeCOS, TypeS3, TypeLocal, TypeURLList} {
		if !types[typ] {
			t.Errorf("example.yaml has no %s store", typ)
		}
		// Each store of the example sets every key of its type.
		for name := range v.GetStringMap("stores") {
			if v.GetString("stores."+name+".type") != typ {
				continue
			}
			for _, k := range keysOf(typ) {
				if !v.IsSet("stores." + name + "." + k) {
					t.Errorf("example store %s (%s) does not show key %s", name, typ, k)
				}
			}
		}
	}
	// The walk itself must see every section, or the checks above prove
	// nothing.
	if n := len(staticKeys()); n < 20 {
		t.Errorf("only %d static keys found by reflection", n)
	}
}
