package integration

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/bucketferry/bucketferry/emulator"
	"github.com/bucketferry/bucketferry/metrics"
	"github.com/bucketferry/bucketferry/runner"
)

// syncBuffer collects log output from many goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestWorkerMetricsAndNoSecrets runs a job on a worker that serves
// Prometheus metrics and logs at debug level: /metrics shows the SDK's
// metrics and the job's counters equal to its result, and neither any
// workflow history of the job (exported as JSON) nor the logs contain a
// credential of the configuration.
func TestWorkerMetricsAndNoSecrets(t *testing.T) {
	h := newHarness(t)
	st, err := emulator.Generate(h.emu.Backend, srcBucket, emulator.DataSet{Objects: 400, MaxSize: 32 << 10, Large: 1, LargeSize: 12 * mib, Seed: 11})
	if err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	m, err := metrics.Serve("127.0.0.1:0", logger)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	c, err := client.Dial(client.Options{
		HostPort: h.ts.GetFrontendHostPort(), Namespace: h.ts.GetDefaultNamespace(),
		MetricsHandler: m.Handler, Logger: sdklog.NewStructuredLogger(logger),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	w, err := runner.NewWorker(c, h.cfg, logger)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer w.Stop()

	const id = "job-observed"
	spec := baseSpec()
	spec.Shards = 4
	spec.PageSize = 100 // shards are never smaller than a page
	res, err := h.wait(t, h.startJob(t, id, spec), 3*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if res.Counts.Copied != int64(st.Objects) {
		t.Fatalf("copied %d of %d", res.Counts.Copied, st.Objects)
	}

	got := scrape(t, "http://"+m.Addr()+"/metrics")

	for name, want := range map[string]int64{
		metrics.ObjectsCopied: res.Counts.Copied,
		metrics.BytesCopied:   res.Counts.BytesCopied,
		metrics.BytesSent:     res.Counts.BytesSent,
	} {
		if v := got[fmt.Sprintf(`%s{job="%s"}`, name, id)]; v != float64(want) {
			t.Errorf("%s for the job = %v, want %d", name, v, want)
		}
	}
	sdk := 0
	for k := range got {
		if strings.HasPrefix(k, "temporal_") {
			sdk++
		}
	}
	if sdk == 0 {
		t.Error("no temporal_* SDK metric is exported")
	}

	// Every history of the job: the job's runs and its shards'.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var histories strings.Builder
	list, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Namespace: h.ts.GetDefaultNamespace()})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range list.GetExecutions() {
		it := c.GetWorkflowHistory(ctx, e.GetExecution().GetWorkflowId(), e.GetExecution().GetRunId(), false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		for it.HasNext() {
			ev, err := it.Next()
			if err != nil {
				t.Fatal(err)
			}
			js, err := protojson.Marshal(ev)
			if err != nil {
				t.Fatal(err)
			}
			histories.Write(js)
			// Payloads are base64 in JSON; the text form shows their bytes.
			histories.WriteString(ev.String())
		}
		n++
	}
	if n < 5 {
		t.Fatalf("exported %d workflow histories, want the job's and its shards'", n)
	}
	secrets := []string{"oss-ak", "oss-secret", "cos-id", "cos-key", "not-the-key"}
	for _, s := range secrets {
		if strings.Contains(histories.String(), s) {
			t.Errorf("a workflow history contains the credential %q", s)
		}
		if strings.Contains(logs.String(), s) {
			t.Errorf("the logs contain the credential %q", s)
		}
	}
	if !strings.Contains(histories.String(), "src") || logs.String() == "" {
		t.Fatal("the histories or logs searched are empty: the test proves nothing")
	}
}

// scrape reads a Prometheus text exposition into name{labels} -> value,
// keeping only the job label of bucketferry metrics.
func scrape(t *testing.T, url string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		name := line[:i]
		if strings.HasPrefix(name, "bucketferry_") {
			if j := strings.Index(name, `job="`); j >= 0 {
				k := strings.IndexByte(name[j+5:], '"')
				name = name[:strings.IndexByte(name, '{')] + `{job="` + name[j+5:j+5+k] + `"}`
			}
		}
		out[name] += v
	}
	return out
}
