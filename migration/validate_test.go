package migration

import (
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	valid := JobSpec{Source: Location{Store: "src"}, Destination: Location{Store: "dst"}}
	if err := valid.Validate(); err != nil {
		t.Fatalf("minimal spec: %v", err)
	}
	full := valid.WithDefaults("job")
	full.Filters = Filters{Include: []string{"**/*.jpg"}, Manifest: &ManifestRef{Store: "m", Key: "list.txt"}}
	full.Conflict = SkipIdentical
	full.Shards = MaxShards
	full.PageSize = MaxPageSize
	if err := full.Validate(); err != nil {
		t.Fatalf("full spec: %v", err)
	}
	sibling := valid
	sibling.Source, sibling.Destination = Location{Store: "b", Prefix: "old/"}, Location{Store: "b", Prefix: "new/"}
	if err := sibling.Validate(); err != nil {
		t.Fatalf("same store, disjoint prefixes: %v", err)
	}

	tests := []struct {
		name   string
		modify func(*JobSpec)
		want   []string
	}{
		{"no source", func(s *JobSpec) { s.Source.Store = "" }, []string{"spec.source.store: required"}},
		{"no destination", func(s *JobSpec) { s.Destination.Store = "" }, []string{"spec.destination.store: required"}},
		{"conflict", func(s *JobSpec) { s.Conflict = "replace" }, []string{`spec.conflict: "replace" is not one of`}},
		{"include", func(s *JobSpec) { s.Filters.Include = []string{"ok", "a[b"} }, []string{"spec.filters.include[1]: ", "unclosed ["}},
		{"exclude", func(s *JobSpec) { s.Filters.Exclude = []string{""} }, []string{"spec.filters.exclude[0]: ", "empty pattern"}},
		{"manifest", func(s *JobSpec) { s.Filters.Manifest = &ManifestRef{} }, []string{"spec.filters.manifest.store: required", "spec.filters.manifest.key: required"}},
		{"failure log", func(s *JobSpec) { s.FailureLog = &Location{Prefix: "x/"} }, []string{"spec.failureLog.store: required"}},
		{"shards over", func(s *JobSpec) { s.Shards = MaxShards + 1 }, []string{"spec.shards: 10001 is over the maximum of 10000"}},
		{"page over", func(s *JobSpec) { s.PageSize = MaxPageSize + 1 }, []string{"spec.pageSize: 1001 is over the maximum"}},
		{"negatives", func(s *JobSpec) {
			s.Shards, s.PageSize, s.MaxAttempts, s.LargeObjectBytes = -1, -1, -1, -1
			s.Concurrency = Concurrency{Shards: -1, Objects: -1, LargeObjects: -1}
		}, []string{
			"spec.shards: must not be negative", "spec.pageSize: must not be negative",
			"spec.maxAttempts: must not be negative", "spec.largeObjectBytes: must not be negative",
			"spec.concurrency.shards: must not be negative", "spec.concurrency.objects: must not be negative",
			"spec.concurrency.largeObjects: must not be negative",
		}},
		{"class map", func(s *JobSpec) { s.ClassMap = map[string]string{"Standard": ""} }, []string{"spec.classMap: empty class name"}},
		{"same store, nested prefixes", func(s *JobSpec) {
			s.Source, s.Destination = Location{Store: "b", Prefix: "data/"}, Location{Store: "B", Prefix: "data/copy/"}
		}, []string{`spec.destination.prefix: "data/copy/" overlaps the source prefix "data/"`}},
		{"same store, same prefix", func(s *JobSpec) { s.Destination.Store = s.Source.Store }, []string{"spec.destination.prefix"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := valid
			tt.modify(&s)
			err := s.Validate()
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}
