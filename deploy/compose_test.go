package deploy

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"

	"github.com/bucketferry/bucketferry/config"
)

func loadProject(t *testing.T, profiles ...string) *types.Project {
	t.Helper()
	opts, err := cli.NewProjectOptions([]string{"../docker-compose.yml"},
		cli.WithWorkingDirectory(".."),
		cli.WithName("bucketferry"),
		cli.WithProfiles(profiles),
		cli.WithEnv([]string{"POSTGRES_PASSWORD=pw-from-env", "WORKERS=5"}),
	)
	if err != nil {
		t.Fatal(err)
	}
	p, err := opts.LoadProject(context.Background())
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
// environment compose gives the workers.
func TestComposeWorkerConfig(t *testing.T) {
	p := loadProject(t)
	w, _ := p.GetService("worker")
	for k, v := range w.Environment {
		if v != nil && k != "BUCKETFERRY_CONFIG" {
			t.Setenv(k, *v)
		}
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
	if cfg.Stores["src"].AccessKeySecret.Value() != "emulator-oss-secret" {
		t.Error("the OSS secret does not come from the environment")
	}
}
