package runner

import (
	"strings"
	"testing"

	"go.temporal.io/sdk/client"

	"github.com/bucketferry/bucketferry/config"
)

// lazyClient is a client that never connects: enough to assemble a worker.
func lazyClient(t *testing.T) client.Client {
	t.Helper()
	c, err := client.NewLazyClient(client.Options{HostPort: "127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func TestNewWorkerRefusesBadInput(t *testing.T) {
	cfg := config.Defaults()
	if _, err := NewWorker(nil, &cfg, nil); err == nil {
		t.Error("no client accepted")
	}
	if _, err := NewWorker(lazyClient(t), nil, nil); err == nil {
		t.Error("no configuration accepted")
	}
	// worker.New would panic on this; NewWorker must refuse it.
	bad := config.Defaults()
	bad.Worker.MaxConcurrentWorkflowTasks = 1
	_, err := NewWorker(lazyClient(t), &bad, nil)
	if err == nil || !strings.Contains(err.Error(), "worker.maxConcurrentWorkflowTasks") {
		t.Errorf("got %v", err)
	}
}

func TestNewWorkerAssembles(t *testing.T) {
	cfg := config.Defaults()
	cfg.Stores = map[string]config.StoreConfig{"disk": {Type: config.TypeLocal, Path: t.TempDir()}}
	w, err := NewWorker(lazyClient(t), &cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if w == nil {
		t.Fatal("nil worker")
	}
}
