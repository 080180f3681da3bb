package migration

import (
	"cmp"
	"encoding/json"
	"slices"
)

// MaxPlanBytes bounds a job's plan as JSON. The plan is one Temporal
// payload twice over: the Plan activity's result, and part of every
// continue-as-new input of the job (JobState.Plan). Temporal refuses a
// payload over 2 MB, which would fail the plan for good, or leave a job
// unable to continue as new; a plan of MaxShards shards whose boundaries are
// 1 KB keys is 20 MB. A megabyte leaves room for the rest of the state.
const MaxPlanBytes = 1 << 20

// FitPlan returns the shards, merged with their neighbours in key (or
// manifest) order as often as needed for the plan to encode in at most
// maxBytes of JSON. Merging two neighbours covers both and the boundary
// between them, so the plan still covers the whole scope. The merged plan
// keeps the order of the original (each merged shard where its earlier
// half was) and is indexed anew. A plan that fits is returned unchanged.
func FitPlan(shards []Shard, maxBytes int) []Shard {
	if planBytes(shards) <= maxBytes {
		return shards
	}
	type ranked struct {
		s    Shard
		rank int
	}
	rs := make([]ranked, len(shards))
	for i, s := range shards {
		rs[i] = ranked{s, i}
	}
	slices.SortFunc(rs, func(a, b ranked) int {
		if c := cmp.Compare(a.s.ManifestStart, b.s.ManifestStart); c != 0 {
			return c
		}
		return cmp.Compare(a.s.After, b.s.After)
	})
	out := shards
	for len(rs) > 1 {
		merged := make([]ranked, 0, (len(rs)+1)/2)
		for i := 0; i < len(rs); i += 2 {
			if i+1 == len(rs) {
				merged = append(merged, rs[i])
				continue
			}
			a, b := rs[i], rs[i+1]
			m := a
			m.s.Before, m.s.ManifestEnd = b.s.Before, b.s.ManifestEnd
			m.rank = min(a.rank, b.rank)
			merged = append(merged, m)
		}
		rs = merged
		byRank := slices.Clone(rs)
		slices.SortFunc(byRank, func(a, b ranked) int { return cmp.Compare(a.rank, b.rank) })
		out = make([]Shard, len(byRank))
		for i, r := range byRank {
			out[i] = r.s
			out[i].Index = i
		}
		if planBytes(out) <= maxBytes {
			break
		}
	}
	return out
}

// planBytes is the size of the shards as JSON.
func planBytes(shards []Shard) int {
	b, err := json.Marshal(shards)
	if err != nil {
		return 0 // plain strings and integers always encode
	}
	return len(b)
}
