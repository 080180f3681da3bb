package embedded_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/bucketferry/bucketferry/embedded"
)

// crossing is the workflow of BenchmarkCrossedSignals: each round it
// signals its peer and waits for the peer's signal of the same round, so
// that two signals cross in the server every round, as a job's window
// signals cross its shards' reports.
func crossing(ctx workflow.Context, peer string, rounds int, startPeer bool) error {
	if startPeer {
		cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{WorkflowID: peer})
		child := workflow.ExecuteChildWorkflow(cctx, crossing, workflow.GetInfo(ctx).WorkflowExecution.ID, rounds, false)
		if err := child.GetChildWorkflowExecution().Get(ctx, nil); err != nil {
			return err
		}
		defer func() { _ = child.Get(ctx, nil) }()
	}
	ch := workflow.GetSignalChannel(ctx, "round")
	for r := range rounds {
		if err := workflow.SignalExternalWorkflow(ctx, peer, "", "round", r).Get(ctx, nil); err != nil {
			return err
		}
		var got int
		ch.Receive(ctx, &got)
	}
	return nil
}

// BenchmarkCrossedSignals measures a round of two workflows signalling each
// other at once. The server's task that delivers a signal holds the
// sender's lock while it waits for the receiver's, so two crossing signals
// wait for each other until one lock wait times out (the server's
// history.cacheNonUserContextLockTimeout): 500 ms by default, which the
// embedded server lowers (nonUserLockTimeout).
func BenchmarkCrossedSignals(b *testing.B) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	s, err := embedded.Start(ctx, embedded.Options{StateDir: b.TempDir(), Address: "127.0.0.1:0", UIAddress: embedded.NoUI})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Stop()
	c, err := client.DialContext(ctx, client.Options{HostPort: s.FrontendAddress(), Namespace: s.Namespace()})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	w := worker.New(c, "q", worker.Options{})
	w.RegisterWorkflow(crossing)
	if err := w.Start(); err != nil {
		b.Fatal(err)
	}
	defer w.Stop()
	const rounds = 10
	pairs := 0
	for b.Loop() {
		id := fmt.Sprintf("cross-%d", pairs)
		pairs++
		run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: "q"}, crossing, id+"-peer", rounds, true)
		if err != nil {
			b.Fatal(err)
		}
		if err := run.Get(ctx, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(b.Elapsed().Seconds()*1000/float64(pairs*rounds), "ms/round")
}
