package integration

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bucketferry/bucketferry/emulator"
	"github.com/bucketferry/bucketferry/migration"
)

// TestManifestJob: a job given a manifest (an object listing one key a
// line) copies exactly the keys it lists, verified, and not the rest of
// the source.
func TestManifestJob(t *testing.T) {
	h := newHarness(t)
	if _, err := emulator.Generate(h.emu.Backend, srcBucket, emulator.DataSet{Objects: 600, MaxSize: 4 << 10, Seed: 29}); err != nil {
		t.Fatal(err)
	}
	var listed []string
	for i, k := range h.emu.Backend.Keys(srcBucket) {
		if i%3 == 0 {
			listed = append(listed, k)
		}
	}
	body := strings.Join(listed, "\n") + "\n"
	if _, err := h.emu.Backend.PutObject(srcBucket, "lists/keys.txt", strings.NewReader(body), int64(len(body)), emulator.Meta{}, nil); err != nil {
		t.Fatal(err)
	}
	h.startWorker(t)
	spec := baseSpec()
	spec.Shards = 2
	spec.PageSize = 50
	spec.Filters.Manifest = &migration.ManifestRef{Store: "src", Key: "lists/keys.txt"}
	const id = "job-manifest"
	res, err := h.wait(t, h.startJob(t, id, spec), 2*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != migration.StatusSucceeded || res.Counts.Copied != int64(len(listed)) {
		t.Fatalf("status %q, counts %+v; want all %d listed keys copied", res.Status, res.Counts, len(listed))
	}
	if got := h.emu.Backend.Keys(dstBucket); !slices.Equal(got, listed) {
		t.Errorf("the destination holds %d keys, want exactly the %d listed", len(got), len(listed))
	}
	for _, k := range listed {
		s, _ := h.emu.Backend.Object(srcBucket, k)
		d, err := h.emu.Backend.Object(dstBucket, k)
		if err != nil {
			t.Fatalf("%q missing at the destination", k)
		}
		if p := emulator.CompareObjects(s, d); p != "" {
			t.Errorf("%q: %s", k, p)
		}
	}
	h.recordHistories(t, id, id+"/shard-00000")
}
