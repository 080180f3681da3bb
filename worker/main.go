// Command worker runs a bucketferry worker: it polls the migration task
// queue of a Temporal service and runs the job and shard workflows and the
// copy activities, with the stores and limits of its configuration file,
// until SIGINT or SIGTERM.
//
//	worker -config bucketferry.yaml     (or BUCKETFERRY_CONFIG=bucketferry.yaml worker)
//	worker -config bucketferry.yaml -check
//
// Every configuration key can be overridden by an environment variable
// (BUCKETFERRY_TEMPORAL_ADDRESS, BUCKETFERRY_STORES_SRC_ACCESSKEYSECRET, ...);
// config/example.yaml documents them all. Run any number of workers with the
// same configuration: Temporal spreads the work among them.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"go.temporal.io/sdk/client"

	"github.com/bucketferry/bucketferry/config"
	"github.com/bucketferry/bucketferry/internal/profiling"
	"github.com/bucketferry/bucketferry/internal/version"
	"github.com/bucketferry/bucketferry/metrics"
	"github.com/bucketferry/bucketferry/migration"
	"github.com/bucketferry/bucketferry/runner"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "worker:", err)
		}
		os.Exit(1)
	}
}

// run runs the worker until ctx is done.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "version" {
		// Which release runs where, during an upgrade (docs/versioning.md).
		if len(args) > 1 {
			return fmt.Errorf("version: unexpected arguments %q", args[1:])
		}
		_, err := fmt.Fprintln(stdout, "worker", version.Get())
		return err
	}
	fs := flag.NewFlagSet("worker", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", os.Getenv("BUCKETFERRY_CONFIG"),
		"configuration `file` (YAML, TOML or JSON; default $BUCKETFERRY_CONFIG); every key can be overridden by BUCKETFERRY_* environment variables")
	check := fs.Bool("check", false, "validate the configuration, print it with secrets redacted, and exit")
	pprofAddr := fs.String("pprof", "", "serve net/http/pprof on this `HOST:PORT` (profiling; keep it on loopback)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to this `file` when the worker stops")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: worker -config FILE [-check]\n       worker version")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	cfg, err := config.Load(*path)
	if err != nil {
		return err
	}
	if *check {
		_, err := fmt.Fprint(stdout, cfg.String())
		return err
	}
	logger := cfg.Logger(stderr)
	stopProfiling, err := profiling.Start(*pprofAddr, *cpuProfile, logger)
	if err != nil {
		return err
	}
	defer stopProfiling()
	tuneGC(cfg, os.LookupEnv, logger)
	opts, err := cfg.ClientOptions(logger)
	if err != nil {
		return err
	}
	if cfg.Worker.MetricsAddress != "" {
		m, err := metrics.Serve(cfg.Worker.MetricsAddress, logger)
		if err != nil {
			return err
		}
		defer m.Close()
		opts.MetricsHandler = m.Handler
		logger.Info("serving metrics", "url", "http://"+m.Addr()+"/metrics")
	}
	c, err := client.DialContext(ctx, opts)
	if err != nil {
		return fmt.Errorf("connect to Temporal at %s (namespace %s): %w", cfg.Temporal.Address, cfg.Temporal.Namespace, cfg.ExplainDialError(ctx, err))
	}
	defer c.Close()
	w, err := runner.NewWorker(c, cfg, logger)
	if err != nil {
		return err
	}
	logger.Info("worker starting", "address", cfg.Temporal.Address, "namespace", cfg.Temporal.Namespace,
		"taskQueue", migration.TaskQueue, "stores", len(cfg.Stores))
	logger.Debug("configuration", "config", cfg.String())
	// Run stops the worker when the channel closes: on SIGINT or SIGTERM,
	// running activities get worker.shutdownTimeout to finish.
	if err := w.Run(doneChan(ctx)); err != nil {
		return fmt.Errorf("run: %w", err)
	}
	logger.Info("worker stopped")
	return nil
}

// doneChan closes when ctx is done, in the form worker.Run takes.
func doneChan(ctx context.Context) <-chan any {
	ch := make(chan any)
	go func() {
		<-ctx.Done()
		close(ch)
	}()
	return ch
}

// tuneGC sets the process's garbage collection target and soft memory limit
// from the configuration; GOGC and GOMEMLIMIT in the environment (as lookup
// finds them) win.
func tuneGC(cfg *config.Config, lookup func(string) (string, bool), logger *slog.Logger) {
	gcPercent, limit := cfg.GCSettings()
	if v, ok := lookup("GOGC"); ok {
		logger.Info("GOGC set in the environment; worker.gcPercent ignored", "GOGC", v)
	} else {
		debug.SetGCPercent(gcPercent)
	}
	if v, ok := lookup("GOMEMLIMIT"); ok {
		logger.Info("GOMEMLIMIT set in the environment; worker.memoryLimit ignored", "GOMEMLIMIT", v)
	} else {
		debug.SetMemoryLimit(limit)
	}
}
