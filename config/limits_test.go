package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWorkerCaps(t *testing.T) {
	dir := t.TempDir()
	write := func(body string) string {
		p := filepath.Join(dir, "c.yaml")
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	c, err := Load(write("worker:\n  maxRequestsPerSecond: 20.5\n  maxBytesPerSecond: 10MiB\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Worker.MaxRequestsPerSecond != 20.5 || c.Worker.MaxBytesPerSecond != 10*MiB {
		t.Errorf("caps %v rps, %v B/s", c.Worker.MaxRequestsPerSecond, c.Worker.MaxBytesPerSecond)
	}
	_, err = Load(write("worker:\n  maxRequestsPerSecond: -1\n  maxBytesPerSecond: -5\n"))
	if err == nil || !strings.Contains(err.Error(), "worker.maxRequestsPerSecond") || !strings.Contains(err.Error(), "worker.maxBytesPerSecond") {
		t.Errorf("negative caps: %v", err)
	}
	t.Setenv("BUCKETFERRY_WORKER_MAXBYTESPERSECOND", "1MiB")
	if c, err = Load(write("worker:\n  maxRequestsPerSecond: 0\n")); err != nil || c.Worker.MaxBytesPerSecond != MiB {
		t.Errorf("environment override: %v, %v", c, err)
	}
}
