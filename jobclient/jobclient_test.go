package jobclient

import (
	"bytes"
	"testing"

	"go.temporal.io/sdk/converter"

	commonpb "go.temporal.io/api/common/v1"

	"github.com/bucketferry/bucketferry/migration"
)

func TestRetryOf(t *testing.T) {
	for id, want := range map[string]string{
		"job-1-retry-1":         "job-1",
		"job-1-retry-12":        "job-1",
		"job-1-retry-1-retry-2": "job-1-retry-1",
		"job-1":                 "",
		"job-retry-x":           "",
		"-retry-1":              "",
	} {
		if got := RetryOf(id); got != want {
			t.Errorf("RetryOf(%q) = %q, want %q", id, got, want)
		}
		if want != "" && RetryOf(RetryJobID(want, 3)) != want {
			t.Errorf("RetryOf(RetryJobID(%q, 3)) is not %q", want, want)
		}
	}
}

// TestSummaryOfSearchAttributes: a job's summary comes from its search
// attributes when it has them, else (empty) from its input.
func TestSummaryOfSearchAttributes(t *testing.T) {
	dc := converter.GetDefaultDataConverter()
	p := func(s string) *commonpb.Payload {
		v, err := dc.ToPayload(s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	sa := &commonpb.SearchAttributes{IndexedFields: map[string]*commonpb.Payload{
		migration.SASource: p("src:a/"), migration.SADestination: p("dst:b/"),
	}}
	if got := summaryOf(sa); got != "src:a/ -> dst:b/" {
		t.Errorf("summaryOf = %q", got)
	}
	if got := summaryOf(nil); got != "" {
		t.Errorf("summaryOf(nil) = %q", got)
	}
}

func TestFailureSinks(t *testing.T) {
	f := migration.Failure{Key: "a,b\"c", Size: 3, Reason: "denied", Kind: "forbidden", Attempts: 2, Shard: 1}
	var csv, jsonl bytes.Buffer
	for format, buf := range map[string]*bytes.Buffer{FormatCSV: &csv, FormatJSONL: &jsonl} {
		s := NewFailureSink(format, buf)
		if err := s.Write(f); err != nil {
			t.Fatal(err)
		}
		if err := s.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	if want := "key,size,reason,kind,attempts,shard\n\"a,b\"\"c\",3,denied,forbidden,2,1\n"; csv.String() != want {
		t.Errorf("csv:\n%s\nwant:\n%s", csv.String(), want)
	}
	if !bytes.HasPrefix(jsonl.Bytes(), []byte(`{"key":"a,b\"c"`)) {
		t.Errorf("jsonl: %s", jsonl.String())
	}
	var empty bytes.Buffer
	if err := NewFailureSink(FormatCSV, &empty).Flush(); err != nil || empty.String() != "key,size,reason,kind,attempts,shard\n" {
		t.Errorf("an empty export: %q %v", empty.String(), err)
	}
}
