package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/bucketferry/bucketferry/jobclient"
	"github.com/bucketferry/bucketferry/migration"
)

// runPause stops a job from starting new copies.
func runPause(ctx context.Context, args []string, stdout io.Writer) error {
	return controlCommand(ctx, "pause", migration.UpdatePause, args, stdout)
}

// runResume lets a paused job go on.
func runResume(ctx context.Context, args []string, stdout io.Writer) error {
	return controlCommand(ctx, "resume", migration.UpdateResume, args, stdout)
}

func controlCommand(ctx context.Context, name, update string, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	about := "Pause a running job: it starts no new shard and its shards start no new page or large object;\n" +
		"copies in flight finish. The job stays paused, across restarts, until resumed."
	if update == migration.UpdateResume {
		about = "Resume a paused job: its shards go on where they stopped."
	}
	setUsage(fs, "[flags] JOB", about)
	var cf connFlags
	cf.register(fs)
	id, cn, err := cf.dialJob(ctx, fs, args)
	if err != nil {
		return err
	}
	defer cn.Close()
	res, err := jobclient.Control(ctx, cn.c, id, update)
	if err != nil {
		return err
	}
	h := hints{job: id, configPath: cf.configPath}
	switch {
	case !res.Changed && res.Paused:
		fmt.Fprintf(stdout, "job %s was already paused\n", id)
	case !res.Changed:
		fmt.Fprintf(stdout, "job %s was not paused\n", id)
	case res.Paused:
		fmt.Fprintf(stdout, "job %s paused: %d running shards told; copies in flight finish their page or object\n", id, res.ShardsNotified)
	default:
		fmt.Fprintf(stdout, "job %s resumed: %d running shards told\n", id, res.ShardsNotified)
	}
	if res.Paused {
		fmt.Fprintf(stdout, "  resume: %s\n", h.cmd("resume"))
	}
	fmt.Fprintf(stdout, "  watch:  %s\n", h.cmd("status", "-watch"))
	return nil
}
