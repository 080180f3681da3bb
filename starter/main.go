// Command starter is bucketferry's control CLI: it runs the emulators, the
// demo and (with the workflow issues) starts and watches migration jobs.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/bucketferry/bucketferry/internal/version"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "starter:", err)
		}
		os.Exit(exitCode(err))
	}
}

type command struct {
	name, summary string
	run           func(ctx context.Context, args []string, stdout io.Writer) error
}

func commands() []command {
	return []command{
		{"demo", "copy a generated bucket from the OSS emulator to the COS emulator and verify it", runDemo},
		{"server", "run a Temporal server (SQLite state) and its Web UI for workers on any host", runServer},
		{"console", "serve the web console against any Temporal server (temporal.* settings)", runConsole},
		{"certs", "make the CA, server and client certificates of a server with mutual TLS", runCerts},
		{"emulator", "run the OSS and COS emulators stand-alone", runEmulator},
		{"start", "start a migration job (or attach to the running one of that id) and watch it", runStart},
		{"status", "show a job's progress, or its result; -watch follows it to the end", runStatus},
		{"wait", "wait for a job to end; exit 0 succeeded, 3 completed with failures, 1 failed", runWait},
		{"cancel", "ask a running job to stop", runCancel},
		{"pause", "stop a running job from starting new copies (copies in flight finish)", runPause},
		{"resume", "let a paused job go on", runResume},
		{"retry", "copy again exactly the failed objects of a finished job (or of its newest retry)", runRetry},
		{"restart", "finish a failed or cancelled job as a new job that skips what is already at the destination", runRestart},
		{"failures", "export every failed object of a job (csv or jsonl) from its failure log", runFailures},
		{"verify", "compare a job's scope at source and destination (size, checksum); exit 3 on differences", runVerify},
		{"plan", "dry run: plan a job locally and show per shard what it would copy; writes nothing", runPlan},
		{"sync", "second pass: copy only new or changed objects, once or on a schedule (-every)", runSync},
		{"limits", "show or change a running job's QPS and bandwidth limits (over all its workers)", runLimits},
		{"version", "print the release and the commit this starter was built from", runVersion},
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return errors.New("no sub-command given")
		}
		return nil
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(ctx, args[1:], stdout)
		}
	}
	usage(stderr)
	return fmt.Errorf("unknown sub-command %q", args[0])
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: starter <sub-command> [flags]\n\nsub-commands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nrun 'starter <sub-command> -h' for its flags")
}

// runVersion prints the release and commit, to tell builds apart during an
// upgrade (docs/versioning.md).
func runVersion(_ context.Context, args []string, stdout io.Writer) error {
	if len(args) > 0 {
		return fmt.Errorf("version: unexpected arguments %q", args)
	}
	_, err := fmt.Fprintln(stdout, "starter", version.Get())
	return err
}
