package migration

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Validate reports every problem that keeps the spec from running, each
// naming the JSON field at fault ("spec.concurrency.objects: must not be
// negative"), joined into one error. It is pure, so a workflow may call it.
// Zero values are valid: WithDefaults fills them.
func (s JobSpec) Validate() error {
	var errs specErrors
	bad := errs.bad

	if s.Source.Store == "" {
		bad("source.store", "required")
	}
	if s.Destination.Store == "" {
		bad("destination.store", "required")
	}
	if s.Source.Store != "" && strings.EqualFold(s.Source.Store, s.Destination.Store) &&
		(strings.HasPrefix(s.Source.Prefix, s.Destination.Prefix) || strings.HasPrefix(s.Destination.Prefix, s.Source.Prefix)) {
		// Copies would land in the range being listed (and be copied again)
		// or on source objects not yet read.
		bad("destination.prefix", "%q overlaps the source prefix %q in the same store", s.Destination.Prefix, s.Source.Prefix)
	}
	switch s.Conflict {
	case "", Overwrite, Skip, SkipIdentical, Changed:
	default:
		bad("conflict", "%q is not one of %q, %q, %q, %q", s.Conflict, Overwrite, Skip, SkipIdentical, Changed)
	}
	errs = append(errs, s.validateArchive()...)
	s.validateFilters(&errs)
	if s.FailureLog != nil && s.FailureLog.Store == "" {
		bad("failureLog.store", "required when failureLog is set")
	}
	for k, v := range s.ClassMap {
		if k == "" || v == "" {
			bad("classMap", "empty class name in %q: %q", k, v)
		}
	}
	s.validateNumbers(&errs)
	if err, ok := s.Limits.Validate().(interface{ Unwrap() []error }); ok {
		for _, e := range err.Unwrap() {
			errs = append(errs, fmt.Errorf("spec.limits.%w", e))
		}
	}

	return errors.Join(errs...)
}

// specErrors are what is wrong with a spec, each naming its field.
type specErrors []error

func (e *specErrors) bad(field, format string, args ...any) {
	*e = append(*e, fmt.Errorf("spec.%s: %s", field, fmt.Sprintf(format, args...)))
}

// validateFilters checks the globs and the manifest.
func (s JobSpec) validateFilters(errs *specErrors) {
	bad := errs.bad
	for i, p := range s.Filters.Include {
		if _, err := compileGlob(p); err != nil {
			bad(fmt.Sprintf("filters.include[%d]", i), "%v", err)
		}
	}
	for i, p := range s.Filters.Exclude {
		if _, err := compileGlob(p); err != nil {
			bad(fmt.Sprintf("filters.exclude[%d]", i), "%v", err)
		}
	}
	if m := s.Filters.Manifest; m != nil {
		if m.Store == "" {
			bad("filters.manifest.store", "required")
		}
		switch m.Format {
		case "":
			if m.Key == "" {
				bad("filters.manifest.key", "required")
			}
		case ManifestFailures:
			if m.Prefix == "" {
				bad("filters.manifest.prefix", "required for format %q", m.Format)
			}
		default:
			bad("filters.manifest.format", "%q is not \"\" or %q", m.Format, ManifestFailures)
		}
	}
}

// validateNumbers checks the sizes, counts and durations.
func (s JobSpec) validateNumbers(errs *specErrors) {
	bad := errs.bad
	nonNegative := func(field string, v int64) bool {
		if v < 0 {
			bad(field, "must not be negative")
			return false
		}
		return true
	}
	nonNegative("concurrency.shards", int64(s.Concurrency.Shards))
	nonNegative("concurrency.objects", int64(s.Concurrency.Objects))
	nonNegative("concurrency.largeObjects", int64(s.Concurrency.LargeObjects))
	if nonNegative("shards", int64(s.Shards)) && s.Shards > MaxShards {
		bad("shards", "%d is over the maximum of %d", s.Shards, MaxShards)
	}
	if nonNegative("pageSize", int64(s.PageSize)) && s.PageSize > MaxPageSize {
		bad("pageSize", "%d is over the maximum of %d", s.PageSize, MaxPageSize)
	}
	nonNegative("largeObjectBytes", s.LargeObjectBytes)
	nonNegative("maxAttempts", int64(s.MaxAttempts))
	if s.OutageMaxBackoff != "" {
		// Temporal keeps retry intervals in milliseconds.
		if d, err := time.ParseDuration(s.OutageMaxBackoff); err != nil || d < 10*time.Millisecond || d > time.Hour {
			bad("outageMaxBackoff", "%q is not a duration from 10ms to 1h", s.OutageMaxBackoff)
		}
	}
}
