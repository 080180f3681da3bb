package main

import (
	"context"
	"strings"
	"testing"

	"github.com/bucketferry/bucketferry/jobclient"
	"github.com/bucketferry/bucketferry/migration"
)

// TestRetryCommand drives retry against a real Temporal server running the
// stub job: the retry is scoped to the failure log of the job, then of its
// newest retry, with the original's source and destination.
func TestRetryCommand(t *testing.T) {
	e := newServerEnv(t)
	for _, id := range []string{"job-r", "job-r-clean"} {
		prefix := "src:partial/"
		if id == "job-r-clean" {
			prefix = "src:done/"
		}
		if out, code, err := e.cmd(t, runStart, "-source", prefix, "-destination", "reports:copy/", "-job-id", id, "-detach"); code != 0 {
			t.Fatalf("start %s: exit %d, %v\n%s", id, code, err, out)
		}
		if _, code, _ := e.cmd(t, runWait, id); code != 0 && code != 3 {
			t.Fatalf("wait %s: exit %d", id, code)
		}
	}

	out, code, err := e.cmd(t, runRetry, "job-r-clean")
	if code != 0 || !strings.Contains(out, "job job-r-clean has no failed objects: nothing to retry") {
		t.Errorf("retry of a clean job: exit %d, %v\n%s", code, err, out)
	}

	out, code, _ = e.cmd(t, runRetry, "job-r")
	for _, want := range []string{"started job job-r-retry-1 (run ", "copies again the 2 failed objects of job-r",
		"failures read from reports:bucketferry-reports/job-r/failures/",
		"retry job-r-retry-1: 0 of 2 failed objects of job-r now copied, 2 still fail"} {
		if !strings.Contains(out, want) {
			t.Errorf("retry output lacks %q:\n%s", want, out)
		}
	}
	if code != exitCompletedWithFailure {
		t.Errorf("retry with failures left exited %d, want %d", code, exitCompletedWithFailure)
	}

	out, code, _ = e.cmd(t, runRetry, "job-r", "-detach")
	if code != 0 || !strings.Contains(out, "retrying the failures of its newest retry, job-r-retry-1") ||
		!strings.Contains(out, "started job job-r-retry-2") {
		t.Errorf("second retry: exit %d\n%s", code, out)
	}

	cn, err := (&connFlags{configPath: e.cfgPath}).dial(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer cn.Close()
	for id, from := range map[string]string{"job-r-retry-1": "job-r", "job-r-retry-2": "job-r-retry-1"} {
		spec, err := jobclient.SpecOf(context.Background(), cn.c, id)
		if err != nil {
			t.Fatal(err)
		}
		m := spec.Filters.Manifest
		if m == nil || m.Format != migration.ManifestFailures || m.Store != "reports" || m.Prefix != "bucketferry-reports/"+from+"/failures/" {
			t.Errorf("%s: manifest %+v, want the failure log of %s", id, m, from)
		}
		if spec.Source.Prefix != "partial/" || spec.Destination != (migration.Location{Store: "reports", Prefix: "copy/"}) || spec.FailureLog != nil {
			t.Errorf("%s: spec %+v is not the original's", id, spec)
		}
	}
}
