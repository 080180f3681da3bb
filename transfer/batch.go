package transfer

import (
	"context"
	"sync"

	"github.com/bucketferry/bucketferry/storage"
)

// ObjectResult is the outcome of one object of a batch.
type ObjectResult struct {
	Key    string
	Size   int64
	Result Result // valid when Err is nil
	Err    error
}

// Batch is a set of listed objects to copy with bounded concurrency.
type Batch struct {
	Src, Dst storage.Store
	Objects  []storage.ObjectInfo
	// DstKey maps a source key to its destination key; nil keeps keys.
	DstKey func(string) string
	// Workers bounds the objects copied at once (default 16).
	Workers int
	// Done, when set, is called (never concurrently) as each object ends.
	Done func(ObjectResult)
}

// CopyBatch copies every object of b and returns one result per object, in
// the order given. A failed object never stops the others; only a cancelled
// context does, and objects not started then report the context's error.
func (c *Copier) CopyBatch(ctx context.Context, b Batch) []ObjectResult {
	workers := b.Workers
	if workers <= 0 {
		workers = 16
	}
	results := make([]ObjectResult, len(b.Objects))
	var mu sync.Mutex
	var wg sync.WaitGroup
	next := make(chan int)
	for range min(workers, len(b.Objects)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				obj := b.Objects[i]
				req := Request{Src: b.Src, SrcKey: obj.Key, Dst: b.Dst, Listed: &obj}
				if b.DstKey != nil {
					req.DstKey = b.DstKey(obj.Key)
				}
				res, err := c.Copy(ctx, req)
				r := ObjectResult{Key: obj.Key, Size: obj.Size, Result: res, Err: err}
				results[i] = r
				if b.Done != nil {
					mu.Lock()
					b.Done(r)
					mu.Unlock()
				}
			}
		}()
	}
	i := 0
feed:
	for ; i < len(b.Objects); i++ {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	for ; i < len(b.Objects); i++ {
		results[i] = ObjectResult{Key: b.Objects[i].Key, Size: b.Objects[i].Size, Err: ctx.Err()}
	}
	return results
}
