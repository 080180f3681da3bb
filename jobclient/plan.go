package jobclient

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/bucketferry/bucketferry/config"
	"github.com/bucketferry/bucketferry/internal/storecheck"
	"github.com/bucketferry/bucketferry/keyspace"
	"github.com/bucketferry/bucketferry/migration"
	"github.com/bucketferry/bucketferry/storage"
	"github.com/bucketferry/bucketferry/verify"
)

// dryRunJobID is the job id the dry run's spec takes its defaults with; it
// only shows in the default failure-log location (never written).
const dryRunJobID = "dry-run"

// Scope is a job's stores and key mapping, resolved from the configuration.
type Scope struct {
	spec     migration.JobSpec
	src, dst storage.Store
	match    func(string) bool
	ignore   []string
}

// ResolveScope makes the stores of spec from cfg.
func ResolveScope(spec migration.JobSpec, cfg *config.Config) (Scope, error) {
	s := Scope{spec: spec}
	var err error
	if s.src, err = cfg.Store(spec.Source.Store); err != nil {
		return s, fmt.Errorf("source store: %w", err)
	}
	if s.dst, err = cfg.Store(spec.Destination.Store); err != nil {
		return s, fmt.Errorf("destination store: %w", err)
	}
	if s.match, err = spec.Filters.Matcher(spec.Source.Prefix); err != nil {
		return s, err
	}
	// The jobs' failure logs live at the destination by default: they are
	// not extra objects.
	switch fl := spec.FailureLog; {
	case fl == nil:
		s.ignore = []string{"bucketferry-reports/"}
	case strings.EqualFold(fl.Store, spec.Destination.Store) && fl.Prefix != "":
		s.ignore = []string{fl.Prefix}
	}
	return s, nil
}

// Options are the comparison options of the scope.
func (s Scope) Options(workers int) verify.Options {
	return verify.Options{
		Source: s.src, Destination: s.dst,
		SourcePrefix: s.spec.Source.Prefix, DestPrefix: s.spec.Destination.Prefix,
		Match: s.match, IgnoreDest: s.ignore, Workers: workers,
	}
}

// ShardPlan is what a dry run found in one shard.
type ShardPlan struct {
	Shard     migration.Shard `json:"shard"`
	Objects   int64           `json:"objects"`
	Bytes     int64           `json:"bytes"`
	Copies    int64           `json:"copies"` // objects the job would copy
	CopyBytes int64           `json:"copyBytes"`
}

// DryRun plans the job with the planner the workers run (keyspace) and lists each
// shard, comparing with the destination when compare is set; it returns
// the spec with defaults applied and the shards' figures. It writes
// nothing anywhere.
func DryRun(ctx context.Context, spec migration.JobSpec, cfg *config.Config, compare bool, workers int) (migration.JobSpec, []ShardPlan, error) {
	full := spec.WithDefaults(dryRunJobID)
	sc, err := ResolveScope(spec, cfg)
	if err != nil {
		return full, nil, err
	}
	if err := spec.Validate(); err != nil {
		return full, nil, fmt.Errorf("plan: invalid job spec: %w", err)
	}
	srcRole := storecheck.Role{What: "source", Name: full.Source.Store}
	if err := checkStores(ctx, full, cfg, sc, srcRole); err != nil {
		return full, nil, err
	}
	shards, _, err := keyspace.Plan(ctx, sc.src, keyspace.Options{Prefix: full.Source.Prefix, PageSize: full.PageSize, Target: full.Shards})
	if err != nil {
		if storage.IsRetryable(err) || ctx.Err() != nil {
			return full, nil, fmt.Errorf("plan: %w", err)
		}
		return full, nil, fmt.Errorf("plan: %w", storecheck.Unusable(srcRole, sc.src, err))
	}
	plans := make([]ShardPlan, 0, len(shards))
	for _, sh := range shards {
		o := sc.Options(workers)
		o.After, o.Before = sh.After, sh.Before
		p := ShardPlan{Shard: sh}
		var rep verify.Report
		if compare {
			rep, err = verify.Run(ctx, o, nil)
			p.Copies, p.CopyBytes = WouldCopy(full.Conflict, rep)
		} else {
			rep, err = verify.Count(ctx, o)
		}
		if err != nil {
			return full, nil, fmt.Errorf("shard %d: %w", sh.Index, err)
		}
		p.Objects, p.Bytes = rep.SourceObjects, rep.SourceBytes
		plans = append(plans, p)
	}
	return full, plans, nil
}

// Probes retry as the workers' do, so that a store that blips is not
// reported unusable.
const (
	probeTries   = 3
	probeBackoff = 200 * time.Millisecond
)

// checkStores refuses what the Plan activity would refuse, with its
// messages: a read-only destination, and a source, destination or failure-log
// store that cannot be used (bad credentials, no bucket, or no listing where
// the job must list). Without it a dry run would plan happily a job that
// fails at once, or report a bad source as a bare listing error.
func checkStores(ctx context.Context, full migration.JobSpec, cfg *config.Config, sc Scope, srcRole storecheck.Role) error {
	dstRole := storecheck.Role{What: "destination", Name: full.Destination.Store}
	if err := storecheck.Writable(dstRole, sc.dst); err != nil {
		return fmt.Errorf("plan: %w", err)
	}
	log := slog.Default()
	check := func(r storecheck.Role, st storage.Store, prefix string, mustList bool) error {
		if err := storecheck.Check(ctx, log, r, st, prefix, mustList, probeTries, probeBackoff); err != nil {
			return fmt.Errorf("plan: %w", err)
		}
		return nil
	}
	if err := check(srcRole, sc.src, full.Source.Prefix, true); err != nil {
		return err
	}
	if err := check(dstRole, sc.dst, full.Destination.Prefix, full.Conflict.ReadsDestination()); err != nil {
		return err
	}
	if fl := *full.FailureLog; fl.Store != full.Destination.Store {
		r := storecheck.Role{What: "failure log", Name: fl.Store}
		st, err := cfg.Store(fl.Store)
		if err != nil {
			return fmt.Errorf("failure log store: %w", err)
		}
		return check(r, st, fl.Prefix, false)
	}
	return nil
}

// WouldCopy is what a job under policy would copy of a compared scope:
// skip-identical copies what it cannot prove identical, as the job does.
func WouldCopy(policy migration.ConflictPolicy, r verify.Report) (int64, int64) {
	switch policy {
	case migration.Skip:
		return r.Missing, r.MissingBytes
	case migration.SkipIdentical, migration.Changed:
		// changed also copies what is identical but newer at the source,
		// which a comparison of sizes and CRC64s cannot see.
		return r.Missing + r.Differing + r.Unverifiable, r.MissingBytes + r.DifferingBytes + r.UnverifiableBytes
	}
	return r.SourceObjects, r.SourceBytes
}
