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

	"github.com/bucketferry/bucketferry/jobclient"
	"github.com/bucketferry/bucketferry/migration"
	"github.com/bucketferry/bucketferry/verify"
)

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
	full, plans, err := jobclient.DryRun(ctx, spec, cfg, *compare, *workers)
	if err != nil {
		return err
	}
	return printPlan(stdout, full, plans, *compare)
}

func printPlan(w io.Writer, spec migration.JobSpec, plans []jobclient.ShardPlan, compared bool) error {
	fmt.Fprintf(w, "dry run of %s: %d shards, conflict policy %s; nothing was written\n\n", jobclient.Summary(spec), len(plans), spec.Conflict)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	header := "SHARD\tRANGE\tOBJECTS\tBYTES\t"
	if compared {
		header += "TO COPY\tBYTES TO COPY\t"
	}
	fmt.Fprintln(tw, header)
	var total jobclient.ShardPlan
	row := func(name, rng string, p jobclient.ShardPlan) {
		line := fmt.Sprintf("%s\t%s\t%s\t%s\t", name, rng, formatCount(p.Objects), humanBytes(p.Bytes))
		if compared {
			line += fmt.Sprintf("%s\t%s\t", formatCount(p.Copies), humanBytes(p.CopyBytes))
		}
		fmt.Fprintln(tw, line)
	}
	for _, p := range plans {
		row(strconv.Itoa(p.Shard.Index), shardRange(p.Shard), p)
		total.Objects += p.Objects
		total.Bytes += p.Bytes
		total.Copies += p.Copies
		total.CopyBytes += p.CopyBytes
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
