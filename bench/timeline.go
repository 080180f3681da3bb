package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/protobuf/proto"
)

// The activity timeline of a job: from every workflow run's history, when
// each activity ran, folded into how many ran at once in each interval.
// It shows where a fleet's slots stood idle: before the first copy (the
// plan and the first listings) and in the tail, when the last ranges run.

type span struct {
	kind       string
	workflow   string // the workflow id (a shard's runs share it)
	start, end time.Time
}

// timeline is the job's activities, by kind, relative to the job's start.
type timeline struct {
	start time.Time
	spans []span
	// closed is when each workflow's last run closed.
	closed map[string]time.Time
	// events and bytes are the size of every run's history.
	events, bytes int64
}

func loadTimeline(ctx context.Context, c client.Client, start time.Time) (*timeline, error) {
	tl := &timeline{start: start, closed: map[string]time.Time{}}
	err := eachRun(ctx, c, func(ex *workflowpb.WorkflowExecutionInfo) error {
		tl.closed[ex.Execution.WorkflowId] = time.Time{}
		return tl.add(ctx, c, ex.Execution.WorkflowId, ex.Execution.RunId)
	})
	if err != nil {
		return tl, err
	}
	// The close of each workflow's newest run, from the workflow itself:
	// the list may not show a run that closed a moment ago.
	for id := range tl.closed {
		d, err := c.DescribeWorkflowExecution(ctx, id, "")
		if err != nil {
			return tl, fmt.Errorf("describe %s: %w", id, err)
		}
		if ct := d.GetWorkflowExecutionInfo().GetCloseTime(); ct != nil {
			tl.closed[id] = ct.AsTime()
		}
	}
	return tl, nil
}

// eachRun calls fn with every workflow run the server knows of.
func eachRun(ctx context.Context, c client.Client, fn func(*workflowpb.WorkflowExecutionInfo) error) error {
	var token []byte
	for {
		resp, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{PageSize: 1000, NextPageToken: token})
		if err != nil {
			return fmt.Errorf("list workflows: %w", err)
		}
		for _, ex := range resp.Executions {
			if err := fn(ex); err != nil {
				return err
			}
		}
		if token = resp.NextPageToken; len(token) == 0 {
			return nil
		}
	}
}

func (tl *timeline) add(ctx context.Context, c client.Client, id, run string) error {
	from := len(tl.spans)
	defer func() {
		for i := from; i < len(tl.spans); i++ {
			tl.spans[i].workflow = id
		}
	}()
	kinds := map[int64]string{}
	starts := map[int64]time.Time{}
	it := c.GetWorkflowHistory(ctx, id, run, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			return fmt.Errorf("history of %s: %w", id, err)
		}
		at := e.GetEventTime().AsTime()
		tl.events++
		tl.bytes += int64(proto.Size(e))
		switch e.GetEventType() {
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
			kinds[e.GetEventId()] = e.GetActivityTaskScheduledEventAttributes().GetActivityType().GetName()
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_STARTED:
			starts[e.GetActivityTaskStartedEventAttributes().GetScheduledEventId()] = at
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
			tl.end(kinds, starts, e.GetActivityTaskCompletedEventAttributes().GetScheduledEventId(), at)
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_FAILED:
			tl.end(kinds, starts, e.GetActivityTaskFailedEventAttributes().GetScheduledEventId(), at)
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT:
			tl.end(kinds, starts, e.GetActivityTaskTimedOutEventAttributes().GetScheduledEventId(), at)
		}
	}
	return nil
}

func (tl *timeline) end(kinds map[int64]string, starts map[int64]time.Time, scheduled int64, at time.Time) {
	// A started event is written with the activity's completion when it
	// had no retries; its time is then still the start's.
	s, ok := starts[scheduled]
	if !ok {
		return
	}
	tl.spans = append(tl.spans, span{kind: kinds[scheduled], start: s, end: at})
}

// print writes, for each kind, its first start and last end, and the
// activities running at once in every step of the job.
func (tl *timeline) print(w io.Writer, step time.Duration, slots int) {
	if len(tl.spans) == 0 {
		return
	}
	type bounds struct {
		n           int
		first, last time.Time
	}
	byKind := map[string]*bounds{}
	var end time.Time
	for _, s := range tl.spans {
		b := byKind[s.kind]
		if b == nil {
			b = &bounds{first: s.start, last: s.end}
			byKind[s.kind] = b
		}
		b.n++
		if s.start.Before(b.first) {
			b.first = s.start
		}
		if s.end.After(b.last) {
			b.last = s.end
		}
		if s.end.After(end) {
			end = s.end
		}
	}
	names := make([]string, 0, len(byKind))
	for k := range byKind {
		names = append(names, k)
	}
	slices.Sort(names)
	rel := func(t time.Time) float64 { return t.Sub(tl.start).Seconds() }
	for _, k := range names {
		b := byKind[k]
		fmt.Fprintf(w, "bench:   %-15s %5d activities, first start %5.1f s, last end %5.1f s\n", k, b.n, rel(b.first), rel(b.last))
	}
	tl.printDurations(w, "CopyPage")
	tl.printWorkflows(w)
	tl.printClosed(w, end)
	var row []string
	for t := tl.start; t.Before(end); t = t.Add(step) {
		// Slot-seconds in use over the step, as a mean of activities.
		var busy time.Duration
		for _, s := range tl.spans {
			hi := t.Add(step)
			from, to := s.start, s.end
			if from.Before(t) {
				from = t
			}
			if to.After(hi) {
				to = hi
			}
			if to.After(from) {
				busy += to.Sub(from)
			}
		}
		row = append(row, fmt.Sprintf("%.0f", float64(busy)/float64(step)))
	}
	fmt.Fprintf(w, "bench:   activities running (mean per %s, of %d slots): %s\n", step, slots, strings.Join(row, " "))
}

// printClosed writes when the last shard and the job closed, against the
// last activity's end: the job's own end, which no slot can shorten.
func (tl *timeline) printClosed(w io.Writer, lastEnd time.Time) {
	var job, shard time.Time
	for id, at := range tl.closed {
		switch {
		case at.IsZero():
			continue
		case !strings.Contains(id, "/shard-"):
			job = at
		case at.After(shard):
			shard = at
		}
	}
	if job.IsZero() || shard.IsZero() {
		return
	}
	rel := func(t time.Time) float64 { return t.Sub(tl.start).Seconds() }
	fmt.Fprintf(w, "bench:   last activity ended %.2f s, last shard closed %.2f s, job closed %.2f s; histories %d events, %.1f MB\n",
		rel(lastEnd), rel(shard), rel(job), tl.events, float64(tl.bytes)/1e6)
}

// printDurations writes how long the activities of a kind took, in whole
// seconds: against a store a second away, a range's duration is its round
// trips (its listing, then a GET and a PUT for each round of its pool), so
// this shows how long the ranges were and how much of them their listing was.
func (tl *timeline) printDurations(w io.Writer, kind string) {
	count := map[int]int{}
	for _, s := range tl.spans {
		if s.kind == kind {
			count[int(s.end.Sub(s.start).Round(time.Second).Seconds())]++
		}
	}
	if len(count) == 0 {
		return
	}
	secs := make([]int, 0, len(count))
	for d := range count {
		secs = append(secs, d)
	}
	slices.Sort(secs)
	var parts []string
	for _, d := range secs {
		parts = append(parts, fmt.Sprintf("%ds:%d", d, count[d]))
	}
	fmt.Fprintf(w, "bench:   %s durations (seconds:activities): %s\n", kind, strings.Join(parts, " "))
}

// printWorkflows writes, for each workflow, its last listing's end and its
// copies' span: when a shard's listing ended against when its last copy
// did is its tail, and shards that end apart leave the last to run alone.
func (tl *timeline) printWorkflows(w io.Writer) {
	type copies struct {
		n                 int
		listed, first, to time.Time
	}
	by := map[string]*copies{}
	for _, s := range tl.spans {
		c := by[s.workflow]
		if c == nil {
			c = &copies{first: s.start}
			by[s.workflow] = c
		}
		switch s.kind {
		case "ListAhead":
			if s.end.After(c.listed) {
				c.listed = s.end
			}
		case "CopyPage":
			c.n++
			if s.start.Before(c.first) {
				c.first = s.start
			}
			if s.end.After(c.to) {
				c.to = s.end
			}
		}
	}
	ids := make([]string, 0, len(by))
	for id, c := range by {
		if c.n > 0 {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	rel := func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return fmt.Sprintf("%.1f s", t.Sub(tl.start).Seconds())
	}
	for _, id := range ids {
		c := by[id]
		fmt.Fprintf(w, "bench:   %s: %d copies from %s to %s, listing ended %s\n", id, c.n, rel(c.first), rel(c.to), rel(c.listed))
	}
}
