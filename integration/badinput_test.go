package integration

import (
	"net"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"

	"github.com/bucketferry/bucketferry/config"
	"github.com/bucketferry/bucketferry/emulator"
)

// TestJobBadStores: a job whose store cannot work fails, naming the store
// and the problem, without writing anything: at once for wrong credentials
// and a missing bucket, after retries with backoff for an endpoint that
// does not answer.
func TestJobBadStores(t *testing.T) {
	h := newHarness(t)
	if _, err := emulator.Generate(h.emu.Backend, srcBucket, emulator.DataSet{Objects: 20, MaxSize: 1024, Seed: 3}); err != nil {
		t.Fatal(err)
	}
	// An address nothing listens on.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String()
	ln.Close()
	src, dst := h.cfg.Stores["src"], h.cfg.Stores["dst"]
	add := func(name string, sc config.StoreConfig) { h.cfg.Stores[name] = sc }
	badSrc := src
	badSrc.AccessKeySecret = "wrong"
	add("badsrc", badSrc)
	noSrcBucket := src
	noSrcBucket.Bucket = "no-such-source"
	add("nosrcbucket", noSrcBucket)
	noDstBucket := dst
	noDstBucket.Bucket = "nosuch-1250000000"
	add("nodstbucket", noDstBucket)
	deadSrc := src
	deadSrc.Endpoint = dead
	add("deadsrc", deadSrc)
	h.startWorker(t)

	cases := []struct {
		name, src, dst string
		want           []string // in the error, lower case
		within         time.Duration
		attempts       int32 // of the planning activity, 0: not checked
	}{
		{"wrong source secret", "badsrc", "dst", []string{"badsrc", "access denied"}, 30 * time.Second, 1},
		{"missing source bucket", "nosrcbucket", "dst", []string{"nosrcbucket", "bucket"}, 30 * time.Second, 1},
		{"missing destination bucket", "src", "nodstbucket", []string{"nodstbucket", "bucket"}, 30 * time.Second, 1},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			spec := baseSpec()
			spec.Source.Store, spec.Destination.Store = tc.src, tc.dst
			spec.MaxAttempts = 3
			id := "job-bad-" + string(rune('a'+i))
			_, err := h.wait(t, h.startJob(t, id, spec), tc.within+time.Minute)
			if err == nil {
				t.Fatal("the job succeeded")
			}
			msg := strings.ToLower(err.Error())
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error does not say %q: %v", w, err)
				}
			}
			// Failing fast is counted, not timed: the planning ran
			// once, without retries.
			if tc.attempts > 0 {
				if got := planAttempts(t, h, id); got != tc.attempts {
					t.Errorf("planning ran %d attempts, want %d", got, tc.attempts)
				}
			}
			if n := len(h.emu.Backend.Keys(dstBucket)); n != 0 {
				t.Errorf("%d objects written", n)
			}
		})
	}

	// An endpoint nothing answers on is an outage, not a configuration
	// error: the job stalls, naming the store, and waits for it.
	t.Run("unreachable source endpoint", func(t *testing.T) {
		spec := baseSpec()
		spec.Source.Store = "deadsrc"
		spec.OutageMaxBackoff = "250ms"
		const id = "job-bad-dead"
		run := h.startJob(t, id, spec)
		p := h.awaitStalled(t, id)
		if s := p.Stalls[0]; !strings.Contains(s.Store, "deadsrc") || s.What != "listing" || !strings.Contains(s.Reason, "list") {
			t.Errorf("stall %+v does not name the source's listing", s)
		}
		if err := h.c.CancelWorkflow(t.Context(), id, ""); err != nil {
			t.Fatal(err)
		}
		if _, err := h.wait(t, run, time.Minute); err == nil {
			t.Fatal("the job succeeded")
		}
		if n := len(h.emu.Backend.Keys(dstBucket)); n != 0 {
			t.Errorf("%d objects written", n)
		}
	})
}

// planAttempts reads the attempt of the job's planning activity from its
// history.
func planAttempts(t *testing.T, h *harness, id string) int32 {
	t.Helper()
	it := h.c.GetWorkflowHistory(t.Context(), id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		if a := ev.GetActivityTaskStartedEventAttributes(); a != nil {
			return a.GetAttempt()
		}
	}
	t.Fatalf("job %s ran no activity", id)
	return 0
}
