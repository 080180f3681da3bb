package embedded_test

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/bucketferry/bucketferry/embedded"
	"github.com/bucketferry/bucketferry/internal/pgtest"
)

func greet(ctx workflow.Context, name string) (string, error) {
	return "hello " + name, nil
}

// TestRestartKeepsState runs a workflow, stops the server, starts it again
// on the same state directory and finds the workflow, its result and the
// custom search attribute there: the state lives in the SQLite file.
func TestRestartKeepsState(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir := t.TempDir()
	opts := embedded.Options{
		StateDir:         dir,
		Address:          "127.0.0.1:0",
		UIAddress:        "127.0.0.1:0",
		SearchAttributes: map[string]enumspb.IndexedValueType{"BucketferryTest": enumspb.INDEXED_VALUE_TYPE_KEYWORD},
	}
	s, err := embedded.Start(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.DialContext(ctx, client.Options{HostPort: s.FrontendAddress(), Namespace: s.Namespace()})
	if err != nil {
		t.Fatal(err)
	}
	w := worker.New(c, "q", worker.Options{})
	w.RegisterWorkflow(greet)
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "wf-1", TaskQueue: "q"}, greet, "ferry")
	if err != nil {
		t.Fatal(err)
	}
	var got string
	if err := run.Get(ctx, &got); err != nil || got != "hello ferry" {
		t.Fatalf("result %q, %v", got, err)
	}

	// The Web UI serves its page and its API reaches the frontend.
	if err := s.WaitUI(ctx); err != nil {
		t.Fatal(err)
	}
	body := httpGet(t, s.UIURL()+"/")
	if !strings.Contains(body, "<html") && !strings.Contains(body, "<!doctype html") {
		t.Fatalf("UI page is not HTML: %.200s", body)
	}
	api := httpGet(t, s.UIURL()+"/api/v1/namespaces/"+s.Namespace()+"/workflows")
	if !strings.Contains(api, "wf-1") {
		t.Fatalf("UI API workflow list lacks wf-1: %.300s", api)
	}
	if u := s.WorkflowURL("wf-1", run.GetRunID()); !strings.HasPrefix(u, s.UIURL()+"/namespaces/default/workflows/wf-1/") {
		t.Fatalf("WorkflowURL = %q", u)
	}
	w.Stop()
	c.Close()
	if err := s.Stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, embedded.DatabaseFile)); err != nil {
		t.Fatal(err)
	}

	opts.UIAddress = embedded.NoUI
	s2, err := embedded.Start(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Stop()
	if s2.UIURL() != "" {
		t.Fatalf("UI URL %q with the UI disabled", s2.UIURL())
	}
	c2, err := client.DialContext(ctx, client.Options{HostPort: s2.FrontendAddress(), Namespace: s2.Namespace()})
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if err := c2.GetWorkflow(ctx, "wf-1", "").Get(ctx, &got); err != nil || got != "hello ferry" {
		t.Fatalf("after restart: result %q, %v", got, err)
	}
	sa, err := c2.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: s2.Namespace()})
	if err != nil {
		t.Fatal(err)
	}
	if sa.GetCustomAttributes()["BucketferryTest"] != enumspb.INDEXED_VALUE_TYPE_KEYWORD {
		t.Fatalf("custom search attributes: %v", sa.GetCustomAttributes())
	}
}

func TestStartErrors(t *testing.T) {
	ctx := context.Background()
	if _, err := embedded.Start(ctx, embedded.Options{}); err == nil {
		t.Fatal("no state dir: no error")
	}
	if _, err := embedded.Start(ctx, embedded.Options{StateDir: t.TempDir(), Address: "nonsense"}); err == nil || !strings.Contains(err.Error(), "HOST:PORT") {
		t.Fatalf("bad address: %v", err)
	}
}

func httpGet(t *testing.T, u string) string {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s: %.300s", u, resp.Status, b)
	}
	return string(b)
}

// TestPostgres keeps the state in PostgreSQL: the databases and schemas are
// created at the first start, found at the second, and a workflow run
// before the restart is there after it.
func TestPostgres(t *testing.T) {
	dsn := pgtest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	opts := embedded.Options{
		StateDir:         t.TempDir(),
		Address:          "127.0.0.1:0",
		UIAddress:        embedded.NoUI,
		PostgresDSN:      dsn,
		SearchAttributes: map[string]enumspb.IndexedValueType{"BucketferryTest": enumspb.INDEXED_VALUE_TYPE_KEYWORD},
	}
	for round := range 2 {
		s, err := embedded.Start(ctx, opts)
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		c, err := client.DialContext(ctx, client.Options{HostPort: s.FrontendAddress(), Namespace: s.Namespace()})
		if err != nil {
			t.Fatal(err)
		}
		var got string
		if round == 0 {
			w := worker.New(c, "q", worker.Options{})
			w.RegisterWorkflow(greet)
			if err := w.Start(); err != nil {
				t.Fatal(err)
			}
			run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "pg-1", TaskQueue: "q"}, greet, "postgres")
			if err != nil {
				t.Fatal(err)
			}
			if err := run.Get(ctx, &got); err != nil {
				t.Fatal(err)
			}
			w.Stop()
		} else if err := c.GetWorkflow(ctx, "pg-1", "").Get(ctx, &got); err != nil {
			t.Fatalf("after restart: %v", err)
		}
		if got != "hello postgres" {
			t.Fatalf("round %d: result %q", round, got)
		}
		sa, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: s.Namespace()})
		if err != nil {
			t.Fatal(err)
		}
		if sa.GetCustomAttributes()["BucketferryTest"] != enumspb.INDEXED_VALUE_TYPE_KEYWORD {
			t.Fatalf("custom search attributes: %v", sa.GetCustomAttributes())
		}
		c.Close()
		if err := s.Stop(); err != nil {
			t.Fatal(err)
		}
	}
}
