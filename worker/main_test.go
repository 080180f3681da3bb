package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"log/slog"
	"math"
	"net"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/bucketferry/bucketferry/config"
)

func writeConfig(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "worker.yaml")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRunRefusesBeforeConnecting(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want string
		is   error
	}{
		{name: "help", args: []string{"-h"}, is: flag.ErrHelp},
		{name: "unknown flag", args: []string{"-nope"}, want: "flag provided but not defined"},
		{name: "stray argument", args: []string{"extra"}, want: "unexpected arguments"},
		{name: "missing file", args: []string{"-config", "/nonexistent/worker.yaml"}, want: "/nonexistent/worker.yaml"},
		{name: "invalid config", args: []string{"-config", writeConfig(t, "worker:\n  maxConcurrentActivities: -3\n")},
			want: "worker.maxConcurrentActivities -3 must not be negative"},
		{name: "no address", args: []string{"-config", writeConfig(t, "log:\n  level: warn\n")}, is: config.ErrNoAddress,
			want: "temporal.address is empty: the embedded server comes with `starter`; set it to host:port"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(t.Context(), tc.args, &stdout, &stderr)
			if err == nil {
				t.Fatal("run succeeded")
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %v is not %v", err, tc.is)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
		})
	}
}

func TestRunCheckPrintsRedactedConfig(t *testing.T) {
	t.Setenv("BUCKETFERRY_STORES_SRC_ACCESSKEYSECRET", "very-secret")
	path := writeConfig(t, `temporal:
  address: temporal.internal:7233
stores:
  src:
    type: oss
    endpoint: oss-cn-hangzhou.aliyuncs.com
    bucket: src-bucket
    accessKeyId: ak
`)
	var stdout, stderr bytes.Buffer
	if err := run(t.Context(), []string{"-config", path, "-check"}, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	out := stdout.String()
	for _, want := range []string{"temporal.address: temporal.internal:7233\n", "stores.src.accessKeySecret: [redacted]\n", "stores.src.bucket: src-bucket\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("-check output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "very-secret") {
		t.Errorf("-check output reveals the secret:\n%s", out)
	}
}

func TestRunUnreachableServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	// Giving up with the context is what is checked, not how long it
	// took: a run that ignored it would not end before the wait's bound.
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-config", writeConfig(t, "temporal:\n  address: "+addr+"\nlog:\n  level: error\n")}, &stdout, &stderr)
	}()
	select {
	case err = <-done:
	case <-time.After(time.Minute):
		t.Fatal("the worker did not give up when its context ended")
	}
	if err == nil || !strings.Contains(err.Error(), "connect to Temporal at "+addr) {
		t.Fatalf("got %v", err)
	}
}

// TestTuneGC: the worker runs with the configured garbage collection
// target and soft memory limit, unless GOGC or GOMEMLIMIT is set in the
// environment.
func TestTuneGC(t *testing.T) {
	gc0 := debug.SetGCPercent(100)
	limit0 := debug.SetMemoryLimit(-1)
	t.Cleanup(func() {
		debug.SetGCPercent(gc0)
		debug.SetMemoryLimit(limit0)
	})
	logger := slog.New(slog.DiscardHandler)
	cfg := config.Defaults()
	cfg.Worker.GCPercent, cfg.Worker.MemoryLimit = 250, 600*config.MiB
	none := func(string) (string, bool) { return "", false }
	tuneGC(&cfg, none, logger)
	if gc, limit := debug.SetGCPercent(100), debug.SetMemoryLimit(-1); gc != 250 || limit != 600<<20 {
		t.Errorf("configured: GOGC %d, memory limit %d, want 250 and 600 MiB", gc, limit)
	}

	debug.SetMemoryLimit(math.MaxInt64)
	env := func(k string) (string, bool) { return "75", k == "GOGC" || k == "GOMEMLIMIT" }
	tuneGC(&cfg, env, logger)
	if gc, limit := debug.SetGCPercent(100), debug.SetMemoryLimit(-1); gc != 100 || limit != math.MaxInt64 {
		t.Errorf("with GOGC and GOMEMLIMIT set: GOGC %d, memory limit %d, want both left alone", gc, limit)
	}
}
