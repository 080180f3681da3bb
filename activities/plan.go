package activities

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/bucketferry/bucketferry/internal/storecheck"
	"github.com/bucketferry/bucketferry/keyspace"
	"github.com/bucketferry/bucketferry/migration"
	"github.com/bucketferry/bucketferry/storage"
)

// Plan checks that every store of the job is usable with the workers'
// credentials and splits the job into shards: key ranges of the source
// found by probing (never by listing the whole bucket), or byte ranges of
// the manifest. A store that is out stalls the job until it answers
// (outage.go); Temporal tries the plan again meanwhile.
func (a *Activities) Plan(ctx context.Context, in migration.PlanInput) (migration.PlanResult, error) {
	// A worker that dies while planning must be noticed: the job sets a
	// heartbeat timeout on the plan (since plan-heartbeat), and this
	// heartbeats while the probes, a manifest's reading or a store's
	// answer take their time. Without it a plan on a killed worker kept its
	// job waiting for the hour of its start-to-close timeout.
	stop := ticker(ctx, func() any { return "planning" })
	defer stop()
	res, err := a.plan(ctx, in)
	src, serr := a.resolve(role{"source", in.Spec.Source.Store})
	dst, derr := a.resolve(role{"destination", in.Spec.Destination.Store})
	if serr == nil && derr == nil {
		a.observeListing(ctx, in.JobID, names(src, role{"source", in.Spec.Source.Store}, dst, role{"destination", in.Spec.Destination.Store}), err)
	}
	return res, err
}

func (a *Activities) plan(ctx context.Context, in migration.PlanInput) (migration.PlanResult, error) {
	ctx, spec, release, err := a.begin(ctx, in.JobID, in.Spec)
	defer release()
	if err != nil {
		return migration.PlanResult{}, err
	}
	log := a.logger().With("job", in.JobID)
	srcRole := role{"source", spec.Source.Store}
	dstRole := role{"destination", spec.Destination.Store}
	src, err := a.resolve(srcRole)
	if err != nil {
		return migration.PlanResult{}, err
	}
	dst, err := a.resolve(dstRole)
	if err != nil {
		return migration.PlanResult{}, err
	}
	if err := storecheck.Writable(dstRole.checked(), dst); err != nil {
		return migration.PlanResult{}, fatal(err.Error(), nil)
	}
	manifest := spec.Filters.Manifest
	// The stores are probed while the source is planned: against a
	// far-away store each probe is a round trip before the first copy. A
	// fatal answer still stops the job, and the planning with it, before
	// any shard starts, and is what the job fails with. A job that ran
	// its check first (Checked) does not probe them again.
	checks, cctx := errgroup.WithContext(ctx)
	var rtt time.Duration
	if !in.Checked {
		if err := a.goChecks(cctx, checks, log, spec, src, dst, &rtt); err != nil {
			return migration.PlanResult{}, err
		}
	}
	if in.CheckOnly {
		var head *migration.ListAheadResult
		var objs []storage.ObjectInfo
		if manifest == nil {
			// The source's first page, listed beside its check: the head
			// shard of a far-away source starts copying it at once.
			checks.Go(func() error {
				var done bool
				var err error
				objs, done, err = listAhead(cctx, migration.ListAheadInput{Ranges: 1, Listings: 1}, spec, srcRole, src)
				if err == nil {
					head = &migration.ListAheadResult{Bounds: chunkEnds(keysOf(objs), spec.ChunkKeys()), Done: done}
				}
				return err
			})
		}
		if err := checks.Wait(); err != nil {
			return migration.PlanResult{}, err
		}
		if head != nil && in.CarryFromMS > 0 && rtt.Milliseconds() >= in.CarryFromMS {
			head.Objects = carried(objs, spec.ChunkKeys())
		}
		return migration.PlanResult{Fleet: a.fleet(ctx), SourceRoundTripMS: rtt.Milliseconds(), Head: head}, nil
	}
	shards, err := a.planShards(cctx, log, spec, srcRole, src)
	if cerr := checks.Wait(); cerr != nil {
		return migration.PlanResult{}, cerr
	}
	if err != nil {
		return migration.PlanResult{}, err
	}
	if fit := migration.FitPlan(shards, migration.MaxPlanBytes); len(fit) != len(shards) {
		// Long keys: the plan must stay one Temporal payload.
		log.Warn("plan merged to fit a Temporal payload", "shards", len(shards), "merged", len(fit))
		shards = fit
	}
	return migration.PlanResult{Shards: shards, Fleet: a.fleet(ctx)}, nil
}

// goChecks probes every store of the job in g (the source, the
// destination, a failure log elsewhere) and sets rtt to the time the
// source's probe took. (A source that may not be listed only matters when
// it must be.)
func (a *Activities) goChecks(ctx context.Context, g *errgroup.Group, log *slog.Logger, spec migration.JobSpec, src, dst storage.Store, rtt *time.Duration) error {
	srcRole := role{"source", spec.Source.Store}
	dstRole := role{"destination", spec.Destination.Store}
	g.Go(func() error {
		start := time.Now()
		err := checkStore(ctx, log, srcRole, src, spec.Source.Prefix, spec.Filters.Manifest == nil)
		*rtt = time.Since(start)
		return err
	})
	g.Go(func() error {
		return checkStore(ctx, log, dstRole, dst, spec.Destination.Prefix, spec.Conflict.ReadsDestination())
	})
	if fl := *spec.FailureLog; fl.Store != spec.Destination.Store {
		r := role{"failure log", fl.Store}
		st, err := a.resolve(r)
		if err != nil {
			return err
		}
		g.Go(func() error { return checkStore(ctx, log, r, st, fl.Prefix, false) })
	}
	return nil
}

// planShards cuts the source's key space (or the manifest) into shards.
func (a *Activities) planShards(ctx context.Context, log *slog.Logger, spec migration.JobSpec, srcRole role, src storage.Store) ([]migration.Shard, error) {
	manifest := spec.Filters.Manifest
	var shards []migration.Shard
	if manifest != nil {
		r := role{"manifest", manifest.Store}
		mst, err := a.resolve(r)
		if err != nil {
			return nil, err
		}
		if manifest.Format == migration.ManifestFailures {
			shards, err = planFailureManifest(ctx, r, mst, manifest.Prefix, spec.Shards)
		} else {
			shards, err = planManifest(ctx, r, mst, manifest.Key, spec.PageSize, spec.Shards)
		}
		if err != nil {
			return nil, err
		}
		log.Info("planned manifest shards", "manifest", mst.Name()+"/"+manifest.Key+manifest.Prefix, "shards", len(shards))
	} else {
		var err error
		var stats keyspace.Stats
		shards, stats, err = keyspace.Plan(ctx, src, keyspace.Options{
			Prefix: spec.Source.Prefix, PageSize: spec.PageSize, Target: spec.Shards,
			Tries: objectTries, Backoff: objectBackoff,
			Tick: func(probes int) { heartbeat(ctx, probes) },
		})
		if err != nil {
			if storage.IsRetryable(err) || ctx.Err() != nil {
				return nil, fmt.Errorf("plan: %w", err)
			}
			return nil, storeFatal(srcRole, src, err)
		}
		log.Info("planned shards", "source", src.Name(), "prefix", spec.Source.Prefix, "shards", len(shards),
			"probes", stats.Probes, "keysSeen", stats.KeysSeen)
	}
	return shards, nil
}

// checkStore probes a store (storecheck.Check): an unusable store stops the
// job; transient errors are returned for the activity to be retried.
func checkStore(ctx context.Context, log *slog.Logger, r role, st storage.Store, prefix string, mustList bool) error {
	err := storecheck.Check(ctx, log, r.checked(), st, prefix, mustList, objectTries, objectBackoff)
	if u := (*storecheck.UnusableError)(nil); errors.As(err, &u) {
		return fatal(u.Error(), u.Err)
	}
	return err
}
