package emulator

import (
	"net/http"
	"slices"
	"sync"
)

// KeyFaults makes chosen objects fail: a request for one of its keys is
// answered with the key's error instead of being served. Keys are looked up
// in a map, so tens of thousands of failing keys cost nothing per request.
// Use its OSS or COS method as FaultConfig.Fail of that front end; keys can
// be added and healed while requests are in flight.
type KeyFaults struct {
	mu      sync.RWMutex
	methods map[string]bool // empty: every method
	keys    map[string]*APIError
}

// NewKeyFaults returns key faults for requests of the given methods (none:
// every method), e.g. http.MethodGet to make objects unreadable.
func NewKeyFaults(methods ...string) *KeyFaults {
	k := &KeyFaults{methods: map[string]bool{}, keys: map[string]*APIError{}}
	for _, m := range methods {
		k.methods[m] = true
	}
	return k
}

func keyFaultID(bucket, key string) string { return bucket + "/" + key }

// Fail makes requests for the keys of bucket fail with e.
func (k *KeyFaults) Fail(bucket string, e *APIError, keys ...string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, key := range keys {
		k.keys[keyFaultID(bucket, key)] = e
	}
}

// Heal serves the keys of bucket normally again.
func (k *KeyFaults) Heal(bucket string, keys ...string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, key := range keys {
		delete(k.keys, keyFaultID(bucket, key))
	}
}

// Len is the number of failing keys.
func (k *KeyFaults) Len() int {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return len(k.keys)
}

// OSS is a FaultConfig.Fail for the OSS front end.
func (k *KeyFaults) OSS(r *http.Request) *APIError { return k.lookup(r, ossRoute) }

// COS is a FaultConfig.Fail for the COS front end.
func (k *KeyFaults) COS(r *http.Request) *APIError { return k.lookup(r, cosRoute) }

func (k *KeyFaults) lookup(r *http.Request, route func(*http.Request) (string, string)) *APIError {
	k.mu.RLock()
	defer k.mu.RUnlock()
	if len(k.keys) == 0 || (len(k.methods) > 0 && !k.methods[r.Method]) {
		return nil
	}
	bucket, key := route(r)
	if key == "" {
		return nil
	}
	return k.keys[keyFaultID(bucket, key)]
}

// OpenUploads returns the keys of the multipart uploads in progress in a
// bucket, one entry per upload: tests use it to prove that a cancelled copy
// left nothing behind, and to name what it left.
func (b *Backend) OpenUploads(bucketName string) []string {
	b.mu.RLock()
	defer b.mu.RUnlock()
	bk, ok := b.buckets[bucketName]
	if !ok {
		return nil
	}
	keys := make([]string, 0, len(bk.uploads))
	for _, u := range bk.uploads {
		keys = append(keys, u.Key)
	}
	slices.Sort(keys)
	return keys
}
