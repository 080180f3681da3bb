package embedded

import (
	"testing"

	"go.temporal.io/server/common"
)

// TestProbeIDCoversEveryShard: waitShards asks one workflow id of each
// history shard, SQLite's one and PostgreSQL's four, whatever the
// namespace's id.
func TestProbeIDCoversEveryShard(t *testing.T) {
	for _, ns := range []string{"", "5b7a1f4e-3c51-4c52-9c8e-0c3b2f1a9d10", "default"} {
		for _, shards := range []int32{1, 4, 16} {
			seen := map[string]bool{}
			for shard := int32(1); shard <= shards; shard++ {
				id := probeID(ns, shard, shards)
				if got := common.WorkflowIDToHistoryShard(ns, id, shards); got != shard {
					t.Fatalf("namespace %q, %d shards: probe %q of shard %d lands in shard %d", ns, shards, id, shard, got)
				}
				if seen[id] {
					t.Fatalf("namespace %q: probe %q twice", ns, id)
				}
				seen[id] = true
			}
		}
	}
}
