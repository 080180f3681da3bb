// Package runner assembles a bucketferry worker: one copy engine, the
// workflows and the activities on the migration task queue, configured from
// a config.Config. The worker command, the integration tests and an
// in-process worker embedded in another command all build it here, so they
// run the same thing.
package runner

import (
	"fmt"
	"log/slog"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/bucketferry/bucketferry/activities"
	"github.com/bucketferry/bucketferry/config"
	"github.com/bucketferry/bucketferry/fleet"
	"github.com/bucketferry/bucketferry/migration"
	"github.com/bucketferry/bucketferry/pacing"
	"github.com/bucketferry/bucketferry/transfer"
	"github.com/bucketferry/bucketferry/workflows"
)

// NewWorker returns a worker, not yet started, polling migration.TaskQueue
// through c with cfg's worker limits, with the job and shard workflows and
// the migration activities registered. The activities share one copy
// engine (so transfer.memoryBudget bounds the whole worker) and resolve
// stores through cfg, which makes each store once. A nil logger discards.
func NewWorker(c client.Client, cfg *config.Config, logger *slog.Logger) (worker.Worker, error) {
	if c == nil || cfg == nil {
		return nil, fmt.Errorf("runner: a client and a configuration are required")
	}
	// worker.New panics on some invalid options; refuse them as errors.
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("runner: invalid configuration: %w", err)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	copier, err := transfer.New(cfg.TransferOptions())
	if err != nil {
		return nil, fmt.Errorf("runner: copy engine: %w", err)
	}
	w := worker.New(c, migration.TaskQueue, cfg.WorkerOptions())
	workflows.Register(w)
	activities.Register(w, &activities.Activities{Stores: cfg, Copier: copier, Logger: logger,
		Limits:               pacing.Temporal{Client: c},
		Signaler:             c,
		Heartbeats:           c,
		MaxRequestsPerSecond: cfg.Worker.MaxRequestsPerSecond,
		MaxBytesPerSecond:    int64(cfg.Worker.MaxBytesPerSecond),
		Fleet:                fleet.NewWatcher(c.WorkflowService(), cfg.Temporal.Namespace, migration.TaskQueue),
	})
	return w, nil
}
