package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/bucketferry/bucketferry/config"
	"github.com/bucketferry/bucketferry/keyspace"
	"github.com/bucketferry/bucketferry/migration"
	"github.com/bucketferry/bucketferry/verify"
)

// dryRunJobID is the job id the dry run's spec takes its defaults with; it
// only shows in the default failure-log location (never written).
const dryRunJobID = "dry-run"

// shardPlan is what a dry run found in one shard.
type shardPlan struct {
	shard     migration.Shard
	objects   int64
	bytes     int64
	copies    int64 // objects the job would copy
	copyBytes int64
}

// runPlan is the dry run: it plans a job as the workers would (locally,
// without Temporal), lists every shard and says what the job would copy.
func runPlan(ctx context.Context, args []string, stdout io.Writer) error {
	return planCommand(ctx, args, os.Stdin, stdout)
}

func planCommand(ctx context.Context, args []string, stdin io.Reader, stdout io.Writer) error {
	fs := flag.NewFlagSet("plan", flag.ContinueOnError)
	setUsage(fs, "[flags]", "Dry run: plan a job as its workers would (locally, with the stores of the configuration),\n"+
		"list each shard's key range and print its objects and bytes and, unless -compare=false,\n"+
		"how many the job would copy under its conflict policy. Writes nothing anywhere.")
	var f scopeFlags
	f.register(fs, true)
	compare := fs.Bool("compare", true, "compare with the destination to count what the conflict policy would copy")
	workers := fs.Int("workers", verify.DefaultWorkers, "HEAD requests in flight while comparing")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("plan: unexpected arguments %q", fs.Args())
	}
	spec, cfg, err := f.load(ctx, fs, stdin)
	if err != nil {
		return err
	}
	full, plans, err := dryRun(ctx, spec, cfg, *compare, *workers)
	if err != nil {
		return err
	}
	return printPlan(stdout, full, plans, *compare)
}

// dryRun plans the job with the planner the workers run (keyspace) and lists each
// shard; it returns the spec with defaults applied and the shards' figures.
func dryRun(ctx context.Context, spec migration.JobSpec, cfg *config.Config, compare bool, workers int) (migration.JobSpec, []shardPlan, error) {
	full := spec.WithDefaults(dryRunJobID)
	sc, err := resolveScope(spec, cfg)
	if err != nil {
		return full, nil, err
	}
	if err := spec.Validate(); err != nil {
		return full, nil, fmt.Errorf("plan: invalid job spec: %w", err)
	}
	shards, _, err := keyspace.Plan(ctx, sc.src, keyspace.Options{Prefix: full.Source.Prefix, PageSize: full.PageSize, Target: full.Shards})
	if err != nil {
		return full, nil, fmt.Errorf("plan: %w", err)
	}
	plans := make([]shardPlan, 0, len(shards))
	for _, sh := range shards {
		o := sc.options(workers)
		o.After, o.Before = sh.After, sh.Before
		p := shardPlan{shard: sh}
		var rep verify.Report
		if compare {
			rep, err = verify.Run(ctx, o, nil)
			p.copies, p.copyBytes = wouldCopy(full.Conflict, rep)
		} else {
			rep, err = verify.Count(ctx, o)
		}
		if err != nil {
			return full, nil, fmt.Errorf("shard %d: %w", sh.Index, err)
		}
		p.objects, p.bytes = rep.SourceObjects, rep.SourceBytes
		plans = append(plans, p)
	}
	return full, plans, nil
}

// wouldCopy is what a job under policy would copy of a compared scope:
// skip-identical copies what it cannot prove identical, as the job does.
func wouldCopy(policy migration.ConflictPolicy, r verify.Report) (int64, int64) {
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

func printPlan(w io.Writer, spec migration.JobSpec, plans []shardPlan, compared bool) error {
	fmt.Fprintf(w, "dry run of %s: %d shards, conflict policy %s; nothing was written\n\n", jobSummary(spec), len(plans), spec.Conflict)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	header := "SHARD\tRANGE\tOBJECTS\tBYTES\t"
	if compared {
		header += "TO COPY\tBYTES TO COPY\t"
	}
	fmt.Fprintln(tw, header)
	var total shardPlan
	row := func(name, rng string, p shardPlan) {
		line := fmt.Sprintf("%s\t%s\t%s\t%s\t", name, rng, formatCount(p.objects), humanBytes(p.bytes))
		if compared {
			line += fmt.Sprintf("%s\t%s\t", formatCount(p.copies), humanBytes(p.copyBytes))
		}
		fmt.Fprintln(tw, line)
	}
	for _, p := range plans {
		row(strconv.Itoa(p.shard.Index), shardRange(p.shard), p)
		total.objects += p.objects
		total.bytes += p.bytes
		total.copies += p.copies
		total.copyBytes += p.copyBytes
	}
	row("total", "", total)
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write plan: %w", err)
	}
	return nil
}

// shardRange writes a shard's keys as an interval: "(a, b]" holds the
// keys after a up to b included.
func shardRange(sh migration.Shard) string {
	lo := "start"
	if sh.After != "" {
		lo = strconv.Quote(sh.After)
	}
	hi := "end)"
	switch {
	case sh.Before == "":
	case strings.HasSuffix(sh.Before, "\x00"):
		// JustAfter(k): the shard ends with k included.
		hi = strconv.Quote(strings.TrimSuffix(sh.Before, "\x00")) + "]"
	default:
		hi = strconv.Quote(sh.Before) + ")"
	}
	return "(" + lo + ", " + hi
}
