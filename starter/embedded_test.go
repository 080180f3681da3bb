package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"

	"github.com/bucketferry/bucketferry/config"
	"github.com/bucketferry/bucketferry/emulator"
	"github.com/bucketferry/bucketferry/internal/childproc"
	"github.com/bucketferry/bucketferry/internal/pgtest"
	"github.com/bucketferry/bucketferry/migration"
	"github.com/bucketferry/bucketferry/runner"
)

// asStarter makes the test binary act as the starter command when run by
// a test as a child process, so that the tests kill a real process.
const asStarter = "BUCKETFERRY_TEST_AS_STARTER"

func TestMain(m *testing.M) {
	if os.Getenv(asStarter) == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// startChild runs the test binary as the starter, in its own process.
func startChild(t *testing.T, args ...string) *childproc.Proc {
	t.Helper()
	return childproc.Start(t, "starter "+args[0], []string{asStarter + "=1"}, append([]string{os.Args[0]}, args...)...)
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// embeddedEnv is the emulators and a config for `start` in embedded mode.
type embeddedEnv struct {
	emu       *emulator.Server
	cfgPath   string
	stateDir  string
	address   string
	uiAddress string
	objects   int
}

func newEmbeddedEnv(t *testing.T, ds emulator.DataSet, ui bool) embeddedEnv {
	return newEmbeddedEnvDSN(t, ds, ui, "")
}

func newEmbeddedEnvDSN(t *testing.T, ds emulator.DataSet, ui bool, dsn string) embeddedEnv {
	t.Helper()
	emu, err := emulator.Start(emulator.Config{
		OSSAddr: "127.0.0.1:0", COSAddr: "127.0.0.1:0",
		OSSCredentials: map[string]string{"oss-ak": "oss-secret"},
		COSCredentials: map[string]string{"cos-id": "cos-key"},
		Buckets:        []string{"src", "dst-1250000000"},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emu.Close() })
	st, err := emulator.Generate(emu.Backend, "src", ds)
	if err != nil {
		t.Fatal(err)
	}
	e := embeddedEnv{emu: emu, stateDir: filepath.Join(t.TempDir(), "state"), address: freeAddr(t), uiAddress: "-", objects: st.Objects}
	if dsn != "" {
		// PostgreSQL keeps the server's ports in a smallint: let it pick.
		e.address = "127.0.0.1:0"
	}
	if ui {
		e.uiAddress = freeAddr(t)
	}
	e.cfgPath = filepath.Join(t.TempDir(), "bucketferry.yaml")
	yaml := fmt.Sprintf(`console:
  address: 127.0.0.1:0
server:
  stateDir: %q
  address: %q
  uiAddress: %q
  postgresDSN: %q
worker:
  maxConcurrentActivities: 8
  shutdownTimeout: 1s
transfer:
  multipartThreshold: 16MiB
  partSize: 4MiB
log:
  level: info
stores:
  src:
    type: oss
    endpoint: %q
    bucket: src
    accessKeyId: oss-ak
    accessKeySecret: oss-secret
  dst:
    type: cos
    endpoint: %q
    bucket: dst-1250000000
    region: ap-guangzhou
    secretId: cos-id
    secretKey: cos-key
`, e.stateDir, e.address, e.uiAddress, dsn, emu.OSSURL(), emu.COSURL())
	if err := os.WriteFile(e.cfgPath, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e embeddedEnv) startArgs(extra ...string) []string {
	return append([]string{"start", "-config", e.cfgPath, "-source", "src", "-destination", "dst", "-shards", "4"}, extra...)
}

// TestEmbeddedSIGKILLResumes kills the single-host starter (server, Web UI
// and worker in one process) with SIGKILL in the middle of a job and runs
// the same command again: the job resumes from the SQLite state, ends
// verified, and no object that was at the destination when the process
// died is sent again.
func TestEmbeddedSIGKILLResumes(t *testing.T) {
	e := newEmbeddedEnv(t, emulator.DataSet{Objects: 1500, MaxSize: 64 << 10, Large: 2, LargeSize: 40 << 20, Seed: 4}, false)
	// Slow enough for the kill to land in the middle.
	e.emu.COSFaults.Set(emulator.FaultConfig{Latency: 5 * time.Millisecond})

	first := startChild(t, e.startArgs()...)
	deadline := time.Now().Add(3 * time.Minute)
	for len(e.emu.Backend.Keys("dst-1250000000")) < e.objects/3 {
		if time.Now().After(deadline) {
			t.Fatalf("no progress:\n%s", first.Output())
		}
		time.Sleep(20 * time.Millisecond)
	}
	first.Kill() // SIGKILL
	before := map[string]time.Time{}
	for _, k := range e.emu.Backend.Keys("dst-1250000000") {
		o, err := e.emu.Backend.Object("dst-1250000000", k)
		if err != nil {
			t.Fatal(err)
		}
		before[k] = o.LastModified
	}
	t.Logf("killed with %d of %d objects at the destination", len(before), e.objects)
	if len(before) == e.objects {
		t.Fatal("the job had finished before the kill")
	}
	e.emu.COSFaults.Set(emulator.FaultConfig{})

	second := startChild(t, e.startArgs()...)
	if code := second.Wait(t, 4*time.Minute); code != 0 {
		t.Fatalf("second run exited %d:\n%s", code, second.Output())
	}
	out := second.Output()
	if !strings.Contains(out, "attached to it") || !strings.Contains(out, ": succeeded") {
		t.Fatalf("second run did not resume the job to success:\n%s", out)
	}
	verified, problems := compareBuckets(e.emu.Backend, "src", "dst-1250000000")
	if verified != e.objects || len(problems) > 0 {
		t.Fatalf("verified %d of %d: %v", verified, e.objects, problems)
	}
	resent := 0
	for k, at := range before {
		o, err := e.emu.Backend.Object("dst-1250000000", k)
		if err != nil {
			t.Fatal(err)
		}
		if !o.LastModified.Equal(at) {
			resent++
		}
	}
	if resent > 0 {
		t.Fatalf("%d of the %d objects copied before the kill were sent again", resent, len(before))
	}
}

// TestEmbeddedWebUI runs `starter server` as its own process, starts a job
// on it with a worker in another process (`start` against its address),
// fetches the Web UI's page, and lists the job through the frontend and
// through the UI's API.
func TestEmbeddedWebUI(t *testing.T) {
	e := newEmbeddedEnv(t, emulator.DataSet{Objects: 200, MaxSize: 16 << 10, Seed: 5}, true)
	srv := startChild(t, "server", "-config", e.cfgPath)
	ui := "http://" + e.uiAddress
	deadline := time.Now().Add(2 * time.Minute)
	for !strings.Contains(srv.Output(), "workers:") {
		if time.Now().After(deadline) {
			t.Fatalf("server not ready:\n%s", srv.Output())
		}
		time.Sleep(50 * time.Millisecond)
	}

	// The console's address is printed beside the Web UI's; without a
	// session it answers with its login page, and a token to sign in with
	// is printed once.
	m := regexp.MustCompile(`console:\s+(http://\S+)`).FindStringSubmatch(srv.Output())
	if m == nil || !strings.Contains(srv.Output(), "sign in as admin with the token ") {
		t.Fatalf("the server does not print the console's address and token:\n%s", srv.Output())
	}
	resp, err := http.Get(m[1] + "/")
	if err != nil {
		t.Fatal(err)
	}
	loginPage, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(string(loginPage), `<form method="post" action="/login"`) {
		t.Fatalf("the console without a session answers %s:\n%.500s", resp.Status, loginPage)
	}

	// A worker (here, in the test's process) and a start (in its own)
	// connect to the server's address, as they would from other hosts.
	t.Setenv("BUCKETFERRY_TEMPORAL_ADDRESS", e.address)
	cfg, err := config.Load(e.cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	wc, err := client.Dial(client.Options{HostPort: e.address, Logger: sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler))})
	if err != nil {
		t.Fatal(err)
	}
	defer wc.Close()
	w, err := runner.NewWorker(wc, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	start := startChild(t, "start", "-config", e.cfgPath, "-source", "src", "-destination", "dst", "-job-id", "ui-job")
	if code := start.Wait(t, 3*time.Minute); code != 0 {
		t.Fatalf("start exited %d:\n%s", code, start.Output())
	}

	page := get(t, ui+"/")
	if !strings.Contains(strings.ToLower(page), "<!doctype html") {
		t.Fatalf("the UI's page is not HTML: %.300s", page)
	}
	api := get(t, ui+"/api/v1/namespaces/default/workflows?query="+"WorkflowType%3D%22"+migration.JobWorkflow+"%22")
	if !strings.Contains(api, "ui-job") {
		t.Fatalf("the UI's API does not list the job: %.500s", api)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := client.DialContext(ctx, client.Options{HostPort: e.address})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	list, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: fmt.Sprintf("WorkflowType = %q", migration.JobWorkflow)})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.GetExecutions()) != 1 || list.GetExecutions()[0].GetExecution().GetWorkflowId() != "ui-job" {
		t.Fatalf("frontend lists %v", list.GetExecutions())
	}
	if verified, problems := compareBuckets(e.emu.Backend, "src", "dst-1250000000"); verified != e.objects {
		t.Fatalf("verified %d of %d: %v", verified, e.objects, problems)
	}
}

func get(t *testing.T, u string) string {
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
		t.Fatalf("GET %s: %s", u, resp.Status)
	}
	return string(b)
}

// TestEmbeddedPostgres runs a migration job on the embedded server with
// its state in PostgreSQL (Debian's, started by the test), twice on the
// same database: the second start finds the schema and refuses the job id
// that already ran.
func TestEmbeddedPostgres(t *testing.T) {
	dsn := pgtest.Start(t)
	e := newEmbeddedEnvDSN(t, emulator.DataSet{Objects: 300, MaxSize: 64 << 10, Large: 1, LargeSize: 20 << 20, Seed: 6}, false, dsn)
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	if err := runStart(ctx, e.startArgs("-job-id", "pg-job")[1:], &out); err != nil {
		t.Fatalf("start: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "job pg-job: succeeded") {
		t.Fatalf("job did not succeed:\n%s", out.String())
	}
	if verified, problems := compareBuckets(e.emu.Backend, "src", "dst-1250000000"); verified != e.objects {
		t.Fatalf("verified %d of %d: %v", verified, e.objects, problems)
	}
	out.Reset()
	err := runStart(ctx, e.startArgs("-job-id", "pg-job")[1:], &out)
	if err == nil || !strings.Contains(err.Error(), "already ran") {
		t.Fatalf("second start of the same job id: %v\n%s", err, out.String())
	}
}
