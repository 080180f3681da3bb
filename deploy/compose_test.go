package deploy

import (
	"context"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"

	"github.com/bucketferry/bucketferry/config"
	"github.com/bucketferry/bucketferry/pki"
)

// composeSecrets are the variables docker-compose.yml refuses to start
// without, with the values the tests give them.
var composeSecrets = map[string]string{
	"POSTGRES_PASSWORD":     "pw-from-env",
	"UI_PASSWORD":           "ui-pw-from-env",
	"OSS_ACCESS_KEY_SECRET": "oss-secret-from-env",
	"COS_SECRET_KEY":        "cos-key-from-env",
}

func composeEnv(without string) []string {
	env := []string{"WORKERS=5"}
	for k, v := range composeSecrets {
		if k != without {
			env = append(env, k+"="+v)
		}
	}
	return env
}

func loadProjectEnv(env []string, profiles ...string) (*types.Project, error) {
	opts, err := cli.NewProjectOptions([]string{"../docker-compose.yml"},
		cli.WithWorkingDirectory(".."),
		cli.WithName("bucketferry"),
		cli.WithProfiles(profiles),
		cli.WithEnv(env),
	)
	if err != nil {
		return nil, err
	}
	return opts.LoadProject(context.Background())
}

func loadProject(t *testing.T, profiles ...string) *types.Project {
	t.Helper()
	p, err := loadProjectEnv(composeEnv(""), profiles...)
	if err != nil {
		t.Fatalf("docker-compose.yml does not load (what `docker compose config` would say): %v", err)
	}
	return p
}

func TestComposeConfig(t *testing.T) {
	p := loadProject(t, "trial", "cli")
	for _, name := range []string{"postgres", "temporal", "worker", "starter", "emulator"} {
		if _, err := p.GetService(name); err != nil {
			t.Fatalf("service %s: %v", name, err)
		}
	}
	tmp, _ := p.GetService("temporal")
	dsn := tmp.Environment["BUCKETFERRY_SERVER_POSTGRESDSN"]
	if dsn == nil || !strings.Contains(*dsn, "pw-from-env@postgres:5432/") {
		t.Errorf("temporal's PostgreSQL DSN: %v", dsn)
	}
	if !slices.Contains([]string(tmp.Command), "server") {
		t.Errorf("temporal runs %v, want the starter's server sub-command", tmp.Command)
	}
	if dep, ok := tmp.DependsOn["postgres"]; !ok || dep.Condition != types.ServiceConditionHealthy {
		t.Errorf("temporal does not wait for a healthy postgres: %+v", tmp.DependsOn)
	}
	w, _ := p.GetService("worker")
	if w.Deploy == nil || w.Deploy.Replicas == nil || *w.Deploy.Replicas != 5 {
		t.Errorf("worker replicas: %+v, want $WORKERS (5)", w.Deploy)
	}
	if w.Build == nil {
		t.Fatal("worker has no build")
	}
	if _, err := os.Stat(filepath.Join(w.Build.Context, w.Build.Dockerfile)); err != nil {
		t.Errorf("worker's Dockerfile: %v", err)
	}
	for _, v := range w.Volumes {
		if _, err := os.Stat(v.Source); err != nil {
			t.Errorf("worker mounts %s: %v", v.Source, err)
		}
	}

	// Without profiles, a plain `docker compose up` runs the production
	// topology only.
	plain := loadProject(t)
	if _, err := plain.GetService("emulator"); err == nil {
		t.Error("the emulator runs without the trial profile")
	}
}

// TestComposeWorkerConfig loads the mounted worker configuration with the
// environment compose gives the workers (and certificates made in place of
// the ones mounted from deploy/certs).
func TestComposeWorkerConfig(t *testing.T) {
	p := loadProject(t)
	w, _ := p.GetService("worker")
	for k, v := range w.Environment {
		if v != nil && k != "BUCKETFERRY_CONFIG" {
			t.Setenv(k, *v)
		}
	}
	certs := t.TempDir()
	ca, err := pki.NewAuthority("test CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := ca.ClientCert("worker", pki.RoleWorker, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{"ca.pem": ca.CertPEM, "worker.pem": leaf.CertPEM, "worker-key.pem": leaf.KeyPEM} {
		if err := os.WriteFile(filepath.Join(certs, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := config.Load("bucketferry.yaml"); err == nil || !strings.Contains(err.Error(), "/etc/bucketferry/certs/ca.pem") {
		t.Fatalf("outside the container the certificates are missing, yet: %v", err)
	}
	for key, file := range map[string]string{"CAFILE": "ca.pem", "CERTFILE": "worker.pem", "KEYFILE": "worker-key.pem"} {
		t.Setenv("BUCKETFERRY_TEMPORAL_TLS_"+key, filepath.Join(certs, file))
	}
	cfg, err := config.Load("bucketferry.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Temporal.Address != "temporal:7233" {
		t.Errorf("temporal.address %q", cfg.Temporal.Address)
	}
	for _, name := range []string{"src", "dst"} {
		if _, err := cfg.Store(name); err != nil {
			t.Errorf("store %s: %v", name, err)
		}
	}
	if cfg.Stores["src"].AccessKeySecret.Value() != composeSecrets["OSS_ACCESS_KEY_SECRET"] {
		t.Error("the OSS secret does not come from the environment")
	}
	if !cfg.Temporal.TLS.Enabled {
		t.Error("the compose workers connect without TLS")
	}
}

// TestComposeSecure: the compose file publishes no port without TLS or a
// login (beyond this host's loopback), refuses to load without each of its
// secrets, and has no default for any of them.
func TestComposeSecure(t *testing.T) {
	p := loadProject(t, "trial", "cli")
	for _, svc := range p.Services {
		env := func(k string) string {
			if v := svc.Environment[k]; v != nil {
				return *v
			}
			return ""
		}
		for _, port := range svc.Ports {
			if port.HostIP == "127.0.0.1" || port.HostIP == "::1" {
				continue // this host only
			}
			switch {
			case svc.Name == "temporal" && port.Target == 7233:
				// The frontend: mutual TLS, all three files.
				for _, k := range []string{"BUCKETFERRY_SERVER_TLS_CERTFILE", "BUCKETFERRY_SERVER_TLS_KEYFILE", "BUCKETFERRY_SERVER_TLS_CAFILE"} {
					if env(k) == "" {
						t.Errorf("temporal publishes 7233 without %s", k)
					}
				}
				if env("BUCKETFERRY_SERVER_INSECURENETWORK") != "" {
					t.Error("temporal declares its network trusted")
				}
			case svc.Name == "temporal" && port.Target == 8233:
				// The Web UI: a login, over HTTPS (TLS files as above).
				if env("BUCKETFERRY_SERVER_UIPASSWORD") != composeSecrets["UI_PASSWORD"] || env("BUCKETFERRY_SERVER_TLS_CERTFILE") == "" {
					t.Error("temporal publishes the Web UI without a login over HTTPS")
				}
			default:
				t.Errorf("%s publishes port %d on %q, with neither TLS nor a login", svc.Name, port.Target, port.HostIP)
			}
		}
	}
	// Each secret is required: without it, compose refuses the file,
	// naming the variable.
	for name := range composeSecrets {
		_, err := loadProjectEnv(composeEnv(name), "trial", "cli")
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("without %s: %v", name, err)
		}
	}
	// No default for a secret (${VAR:-default} or ${VAR-default}).
	raw, err := os.ReadFile("../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`\$\{(\w+):?-`).FindAllStringSubmatch(string(raw), -1) {
		if regexp.MustCompile(`(?i)pass|secret|key|token|dsn`).MatchString(m[1]) {
			t.Errorf("docker-compose.yml gives the secret %s a default", m[1])
		}
	}
	// And no secret written in the file: every secret-looking variable of
	// the services comes from the environment.
	for _, svc := range p.Services {
		for k, v := range svc.Environment {
			if v == nil || !regexp.MustCompile(`(?i)password|secret|secretkey|apikey`).MatchString(k) {
				continue
			}
			if !slices.Contains(slices.Collect(maps.Values(composeSecrets)), *v) {
				t.Errorf("%s: %s is not one of the secrets from the environment", svc.Name, k)
			}
		}
	}
}
