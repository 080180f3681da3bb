package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/bucketferry/bucketferry/config"
	"github.com/bucketferry/bucketferry/jobclient"
	"github.com/bucketferry/bucketferry/migration"
	"github.com/bucketferry/bucketferry/verify"
)

// scopeFlags describe a job's scope as start takes it (a spec file and
// flags over it, in the same fields start uses), or, with -job-id, as an
// existing job was started.
type scopeFlags struct {
	startFlags
}

// register adds the flags; plan adds the ones that shape a plan, verify
// the one naming an existing job.
func (f *scopeFlags) register(fs *flag.FlagSet, forPlan bool) {
	f.conn.register(fs)
	fs.StringVar(&f.specPath, "spec", "", "job spec `FILE`, a JSON migration.JobSpec (\"-\": standard input); flags override its fields")
	fs.StringVar(&f.source, "source", "", "source `STORE[:PREFIX]` (a store named in the configuration)")
	fs.StringVar(&f.destination, "destination", "", "destination `STORE[:PREFIX]`")
	fs.Var(&f.include, "include", "only keys matching this `GLOB` (repeatable; replaces the spec's list)")
	fs.Var(&f.exclude, "exclude", "not keys matching this `GLOB` (repeatable; replaces the spec's list)")
	if forPlan {
		fs.StringVar(&f.conflict, "conflict", "", "`POLICY` when the destination has the key: overwrite (default), skip, skip-identical, changed")
		fs.IntVar(&f.shards, "shards", 0, fmt.Sprintf("key-range shards to aim for (default %d)", migration.DefaultShards))
	} else {
		fs.StringVar(&f.jobID, "job-id", "", "take the spec from the existing job `ID` (read from its workflow history; flags still override it)")
	}
}

// load builds the spec and loads the configuration, which resolves the
// spec's store names.
func (f *scopeFlags) load(ctx context.Context, fs *flag.FlagSet, stdin io.Reader) (migration.JobSpec, *config.Config, error) {
	var (
		spec migration.JobSpec
		cfg  *config.Config
		err  error
	)
	switch {
	case f.jobID != "" && f.specPath != "":
		return spec, nil, errors.New("-job-id and -spec both give the spec: use one")
	case f.jobID != "":
		cn, err := f.conn.dial(ctx)
		if err != nil {
			return spec, nil, err
		}
		defer cn.Close()
		if spec, err = jobclient.SpecOf(ctx, cn.c, f.jobID); err != nil {
			return spec, nil, err
		}
		cfg = cn.cfg
	case f.specPath != "":
		if spec, err = readSpec(f.specPath, stdin); err != nil {
			return spec, nil, err
		}
	}
	if spec, err = f.overlay(fs, spec); err != nil {
		return spec, nil, err
	}
	if spec.Filters.Manifest != nil {
		return spec, nil, errors.New("jobs with a manifest are not supported here yet: only listed scopes (source prefix and filters)")
	}
	if cfg == nil {
		if cfg, err = config.Load(f.conn.configPath); err != nil {
			return spec, nil, err // names the file
		}
	}
	return spec, cfg, nil
}

// runVerify compares a job's scope at source and destination.
func runVerify(ctx context.Context, args []string, stdout io.Writer) error {
	return verifyCommand(ctx, args, os.Stdin, stdout, os.Stderr)
}

func verifyCommand(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	setUsage(fs, "[flags]", "Compare a job's scope at source and destination without copying anything: a merge of the\n"+
		"two sorted listings, by size and a checksum both stores report (CRC64, MD5, ...; see\n"+
		"docs/sources.md). Lists every key missing at the destination, differing, extra at the\n"+
		"destination, or unverifiable (no checksum of one family on both sides; -deep reads and\n"+
		"hashes those). Exit status: 0 everything equal, 3 differences found, 1 error.")
	var f scopeFlags
	f.register(fs, false)
	deep := fs.Bool("deep", false, "read and hash the bodies of objects whose stores share no checksum family")
	format := fs.String("format", "csv", "diff list `FORMAT`: csv (key,kind,dest_key,source_size,dest_size,reason with a header) or jsonl")
	output := fs.String("output", "", "write the diff list to `FILE` (replaced only once complete) instead of standard output")
	workers := fs.Int("workers", verify.DefaultWorkers, "HEAD requests (or -deep reads) in flight")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("verify: unexpected arguments %q", fs.Args())
	}
	if *format != "csv" && *format != "jsonl" {
		return fmt.Errorf("-format %q: want csv or jsonl", *format)
	}
	spec, cfg, err := f.load(ctx, fs, stdin)
	if err != nil {
		return err
	}
	sc, err := jobclient.ResolveScope(spec, cfg)
	if err != nil {
		return err
	}
	o := sc.Options(*workers)
	o.Deep = *deep

	var rep verify.Report
	summary := stderr
	if *output == "" {
		bw := bufio.NewWriter(stdout)
		sink := newDiffSink(*format, bw)
		rep, err = verify.Run(ctx, o, sink.write)
		if err == nil {
			err = sink.flush()
		}
		if ferr := bw.Flush(); err == nil && ferr != nil {
			err = fmt.Errorf("write diff list: %w", ferr)
		}
	} else {
		summary = stdout
		rep, err = verifyToFile(ctx, o, *format, *output)
	}
	if err != nil {
		return err
	}
	printVerifySummary(summary, spec, rep, *output)
	if n := rep.Differences(); n > 0 {
		msg := fmt.Sprintf("verify found %s differences", formatCount(n))
		if rep.Unverifiable > 0 && !*deep {
			msg += " (add -deep to read the unverifiable objects)"
		}
		return &exitError{code: exitCompletedWithFailure, err: errors.New(msg)}
	}
	return nil
}

// verifyToFile writes the diff list with writeComplete, so that an
// interrupted run never leaves a partial list that looks complete.
func verifyToFile(ctx context.Context, o verify.Options, format, path string) (verify.Report, error) {
	var rep verify.Report
	err := writeComplete(path, func(w io.Writer) error {
		sink := newDiffSink(format, w)
		var err error
		if rep, err = verify.Run(ctx, o, sink.write); err != nil {
			return err
		}
		return sink.flush()
	})
	return rep, err
}

func printVerifySummary(w io.Writer, spec migration.JobSpec, r verify.Report, output string) {
	fmt.Fprintf(w, "verified %s\n", jobclient.Summary(spec))
	fmt.Fprintf(w, "  source:       %s objects, %s\n", formatCount(r.SourceObjects), humanBytes(r.SourceBytes))
	fmt.Fprintf(w, "  destination:  %s objects, %s\n", formatCount(r.DestObjects), humanBytes(r.DestBytes))
	fmt.Fprintf(w, "  equal:        %s\n", formatCount(r.Equal))
	fmt.Fprintf(w, "  missing:      %s (%s)\n", formatCount(r.Missing), humanBytes(r.MissingBytes))
	fmt.Fprintf(w, "  differing:    %s (%s)\n", formatCount(r.Differing), humanBytes(r.DifferingBytes))
	fmt.Fprintf(w, "  extra:        %s\n", formatCount(r.Extra))
	fmt.Fprintf(w, "  unverifiable: %s (%s)\n", formatCount(r.Unverifiable), humanBytes(r.UnverifiableBytes))
	if output != "" {
		fmt.Fprintf(w, "  diff list:    %s\n", output)
	}
}

// diffSink writes diffs in one output format.
type diffSink struct {
	csv    *csv.Writer
	json   *json.Encoder
	header bool
}

func newDiffSink(format string, w io.Writer) *diffSink {
	if format == "jsonl" {
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		return &diffSink{json: enc}
	}
	return &diffSink{csv: csv.NewWriter(w)}
}

func (s *diffSink) writeHeader() error {
	if s.csv == nil || s.header {
		return nil
	}
	s.header = true
	return s.csv.Write([]string{"key", "kind", "dest_key", "source_size", "dest_size", "reason"})
}

func (s *diffSink) write(d verify.Diff) error {
	if s.json != nil {
		if err := s.json.Encode(d); err != nil {
			return fmt.Errorf("write diff list: %w", err)
		}
		return nil
	}
	if err := s.writeHeader(); err != nil {
		return fmt.Errorf("write diff list: %w", err)
	}
	if err := s.csv.Write([]string{d.Key, d.Kind.String(), d.DestKey, sizeField(d.SourceSize), sizeField(d.DestSize), d.Reason}); err != nil {
		return fmt.Errorf("write diff list: %w", err)
	}
	return nil
}

func (s *diffSink) flush() error {
	if s.csv == nil {
		return nil
	}
	// An empty list still gets its header.
	if err := s.writeHeader(); err != nil {
		return fmt.Errorf("write diff list: %w", err)
	}
	s.csv.Flush()
	if err := s.csv.Error(); err != nil {
		return fmt.Errorf("write diff list: %w", err)
	}
	return nil
}

// sizeField is a size for the CSV list: empty where the object is absent.
func sizeField(n int64) string {
	if n < 0 {
		return ""
	}
	return strconv.FormatInt(n, 10)
}
