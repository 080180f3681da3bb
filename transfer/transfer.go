package transfer

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/semaphore"

	"github.com/bucketferry/bucketferry/internal/pool"
	"github.com/bucketferry/bucketferry/storage"
)

// Copier copies objects between stores. It is safe for concurrent use and
// meant to be shared: its memory budget bounds all copies together.
type Copier struct {
	opts   Options
	budget *semaphore.Weighted
}

// New returns a Copier.
func New(opts Options) (*Copier, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	return &Copier{opts: opts, budget: semaphore.NewWeighted(opts.MemoryBudget)}, nil
}

// Options returns the effective options.
func (c *Copier) Options() Options { return c.opts }

// Request names one object to copy.
type Request struct {
	Src    storage.Store
	SrcKey string
	Dst    storage.Store
	DstKey string // defaults to SrcKey
	// Listed, when the caller has the object from a listing, saves a HEAD
	// for objects small enough for a single PUT: the GET's headers carry
	// everything, and the version copied is whatever the GET returns.
	Listed *storage.ObjectInfo
	// Resume, from an earlier attempt's progress, lets a multipart copy reuse
	// the parts already uploaded.
	Resume *Checkpoint
	// Progress, when set, is called (never concurrently) after the upload is
	// initiated and after every part. A caller that sets it owns the
	// upload: a failed copy keeps it for a resume, and the caller aborts it
	// when it gives up. Without Progress nobody can resume it, and a failed
	// copy aborts the upload it started.
	Progress func(Progress)
	// Initiated, when set, is called with a new upload's checkpoint right
	// after the initiate and before any part. A caller whose Progress is
	// delivered late or may be lost (a heartbeat) makes the id durable
	// here; an error aborts the upload and fails the copy with it, so an
	// upload nobody could resume or abort is never filled.
	Initiated func(Checkpoint) error
	// Owned are uploads of DstKey that earlier tries of this same copy
	// initiated (as their Progress told), other than Resume's: a new try
	// aborts them. Uploads of the key that the copy did not start are
	// never touched: another job, a sync beside a scheduled one or an
	// application may be writing the same key.
	Owned []string
	// Classes, when set, replaces the Copier's storage-class options for
	// this object, so jobs with their own class policy share one Copier (and
	// its memory budget).
	Classes *ClassPolicy
}

// ClassPolicy chooses destination storage classes: Force, when set, for
// every object; otherwise Map[source class], when present; otherwise the
// source class (neutral names are mapped by each backend).
type ClassPolicy struct {
	Force string
	Map   map[string]string
}

// Checkpoint is what a retried copy needs to resume a multipart upload. It
// is small on purpose: it travels in activity heartbeats.
type Checkpoint struct {
	UploadID string `json:"uploadId"`
	PartSize int64  `json:"partSize"`
	// The source version the parts were read from; a resume against a changed
	// source starts again.
	SrcSize int64  `json:"srcSize"`
	SrcETag string `json:"srcETag"`
}

// Progress reports a multipart copy's state.
type Progress struct {
	Checkpoint Checkpoint
	PartsDone  int
	PartsTotal int
	BytesDone  int64
}

// Result describes a verified copy.
type Result struct {
	Key          string
	Size         int64
	CRC64        uint64
	ETag         string // the destination's
	Multipart    bool
	Parts        int
	PartsReused  int   // parts found already uploaded by an earlier attempt
	BytesRead    int64 // from the source, retries included
	BytesWritten int64 // to the destination, retries included
	// DestinationOnly reports a copy verified only against what the
	// destination reports: the source reported no checksum the data could
	// be checked against (a URL without an MD5, an S3 multipart object
	// without a full-object checksum).
	DestinationOnly bool
	// Checked names the families the copy checked: the source's (when
	// it had one) and the destination's.
	Checked []storage.Algorithm
}

// Copy copies one object and verifies it twice, each side in the checksum
// family it reports: the data read must match the source's own checksum
// (its CRC64, an S3 full-object checksum or a single-part MD5), and what
// the destination reports for what it stored (its CRC64, or S3's MD5
// ETags) must match the data; the sizes must match too. An object whose
// source reports no checksum is verified on the destination side alone
// (Result.DestinationOnly). Any mismatch is an error of kind
// storage.KindCorrupt.
func (c *Copier) Copy(ctx context.Context, req Request) (Result, error) {
	req = c.fill(req)
	limits := req.Dst.Limits()
	threshold := c.opts.MultipartThreshold
	if limits.MaxPutSize > 0 && threshold > limits.MaxPutSize {
		threshold = limits.MaxPutSize
	}
	if l := req.Listed; l != nil && l.Size < threshold && !storage.IsArchiveClass(l.Meta.StorageClass) {
		return c.copySingle(ctx, req, nil)
	}
	head, err := req.Src.Head(ctx, req.SrcKey)
	if err != nil {
		return Result{}, err
	}
	if err := archived(req, head); err != nil {
		return Result{}, err
	}
	if head.Size < threshold {
		return c.copySingle(ctx, req, &head)
	}
	return c.copyMultipart(ctx, req, head, req.Classes.apply(head.Meta))
}

func (p *ClassPolicy) apply(m storage.Metadata) storage.Metadata {
	switch {
	case p.Force != "":
		m.StorageClass = p.Force
	case p.Map != nil:
		if to, ok := p.Map[m.StorageClass]; ok {
			m.StorageClass = to
		}
	}
	return m
}

// copySingle streams one GET into one PUT, hashing on the way. base, when
// set, is the version the caller decided on (from a HEAD); the GET must
// return that same version.
func (c *Copier) copySingle(ctx context.Context, req Request, base *storage.ObjectInfo) (Result, error) {
	body, info, err := req.Src.Get(ctx, req.SrcKey, storage.Range{})
	if err != nil {
		return Result{}, err
	}
	defer body.Close()
	if base != nil {
		if err := sameVersion(req, *base, info); err != nil {
			return Result{}, err
		}
	}
	if limit := req.Dst.Limits().MaxPutSize; limit > 0 && info.Size > limit {
		return Result{}, &storage.Error{Kind: storage.KindChanged, Store: req.Src.Name(), Op: "get", Key: req.SrcKey,
			Err: fmt.Errorf("object grew to %d bytes since it was listed, over the single-PUT limit", info.Size)}
	}
	srcSum, hasSrc := sourceSum(info)
	dstAlg := req.Dst.Limits().Preferred()
	hr := newHashingReader(body, srcSum.Alg, dstAlg)
	res, err := req.Dst.Put(ctx, req.DstKey, hr, info.Size, req.Classes.apply(info.Meta))
	if err != nil {
		return Result{BytesRead: hr.n, BytesWritten: hr.n}, err
	}
	out := Result{Key: req.DstKey, Size: info.Size, ETag: res.ETag, BytesRead: hr.n, BytesWritten: hr.n}
	if hr.n != info.Size {
		return out, c.corrupt(ctx, req, fmt.Errorf("read %d bytes from the source, expected %d", hr.n, info.Size))
	}
	if hasSrc {
		if got, _ := hr.value(srcSum.Alg); got != srcSum.Value {
			return out, c.corrupt(ctx, req, fmt.Errorf("source data %s %s differs from the source's %s", srcSum.Alg, got, srcSum.Value))
		}
		out.Checked = append(out.Checked, srcSum.Alg)
	}
	want, _ := hr.value(dstAlg)
	if err := c.verify(ctx, req, res, dstAlg, want, info.Size); err != nil {
		return out, err
	}
	out.Checked = append(out.Checked, dstAlg)
	out.CRC64, out.DestinationOnly = hr.sum(), !hasSrc
	return out, nil
}

// sourceSum is the checksum the source reported that the data read is
// checked against: its CRC64 when it has one (the copier hashes that
// anyway), otherwise the cheapest other family it reports.
func sourceSum(o storage.ObjectInfo) (storage.Checksum, bool) {
	for _, alg := range storage.Algorithms() {
		if v, ok := o.Sum(alg); ok {
			return storage.Checksum{Alg: alg, Value: v}, true
		}
	}
	return storage.Checksum{}, false
}

// verify checks the checksum of the destination's family that it reported
// for what it stored against want, the data's.
func (c *Copier) verify(ctx context.Context, req Request, res storage.PutResult, alg storage.Algorithm, want string, size int64) error {
	got, has := res.Sum(alg)
	if !has {
		// Some destinations do not answer writes with a checksum; ask.
		h, err := req.Dst.Head(ctx, req.DstKey)
		if err != nil {
			return fmt.Errorf("verify: %w", err)
		}
		if h.Size != size {
			return c.corrupt(ctx, req, fmt.Errorf("destination holds %d bytes, expected %d", h.Size, size))
		}
		got, has = h.Sum(alg)
	}
	if !has {
		return &storage.Error{Kind: storage.KindCorrupt, Store: req.Dst.Name(), Op: "verify", Key: req.DstKey,
			Err: fmt.Errorf("destination reports no %s, so the copy cannot be verified%s", alg, noSumHint(alg))}
	}
	if got != want {
		return c.corrupt(ctx, req, fmt.Errorf("destination %s %s differs from the data's %s", alg, got, want))
	}
	return nil
}

// noSumHint says why a destination may report no checksum of its family.
func noSumHint(alg storage.Algorithm) string {
	if alg == storage.MD5 {
		return " (an S3 bucket whose default encryption is SSE-KMS or SSE-C has ETags that are not MD5s)"
	}
	return ""
}

// corrupt removes a destination object that failed verification, so a bad
// copy is never mistaken for a good one, and returns the failure.
func (c *Copier) corrupt(ctx context.Context, req Request, cause error) error {
	_ = req.Dst.Delete(context.WithoutCancel(ctx), req.DstKey)
	return &storage.Error{Kind: storage.KindCorrupt, Store: req.Dst.Name(), Op: "verify", Key: req.DstKey, Err: cause}
}

// sameVersion fails when a read answered with a different version of the
// object than the one the copy is based on.
func sameVersion(req Request, base, got storage.ObjectInfo) error {
	changed := got.Size != base.Size ||
		(base.ETag != "" && got.ETag != "" && got.ETag != base.ETag) ||
		(base.HasCRC64 && got.HasCRC64 && got.CRC64 != base.CRC64)
	if changed {
		return &storage.Error{Kind: storage.KindChanged, Store: req.Src.Name(), Op: "get", Key: req.SrcKey,
			Err: fmt.Errorf("object changed while being copied (size %d -> %d, etag %s -> %s)", base.Size, got.Size, base.ETag, got.ETag)}
	}
	return nil
}

// hashingReader counts and hashes what it passes on, or when its source
// hashes already (storage.CRC64Reader) takes that source's CRC64. It is a
// storage.CRC64Reader itself, so the destination store does not hash again.
// It also computes the other families a check needs (an S3 side's MD5),
// only those, so an OSS to COS copy costs what it always did.
type hashingReader struct {
	r     io.Reader
	inner storage.CRC64Reader // the source's own running CRC64, when it has one
	crc   uint64
	n     int64
	extra []familyHash
}

type familyHash struct {
	alg storage.Algorithm
	h   hash.Hash
}

// newHashingReader hashes r in CRC64 and in each other family of algs
// (empty names and unknown families are ignored).
func newHashingReader(r io.Reader, algs ...storage.Algorithm) *hashingReader {
	h := &hashingReader{r: r}
	if cr, ok := storage.KnownCRC64(r); ok {
		h.inner = cr
	}
	for _, alg := range algs {
		if alg == "" || alg == storage.CRC64ECMA || slices.ContainsFunc(h.extra, func(f familyHash) bool { return f.alg == alg }) {
			continue
		}
		if fh, err := storage.NewHash(alg); err == nil {
			h.extra = append(h.extra, familyHash{alg: alg, h: fh})
		}
	}
	return h
}

func (h *hashingReader) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	if h.inner == nil {
		h.crc = storage.UpdateCRC64(h.crc, p[:n])
	}
	for _, f := range h.extra {
		f.h.Write(p[:n])
	}
	h.n += int64(n)
	return n, err
}

// uintValue is the CRC of a family other than CRC64 of the bytes read so
// far; false for a family the reader was not asked to compute.
func (h *hashingReader) uintValue(alg storage.Algorithm) (uint64, bool) {
	for _, f := range h.extra {
		if f.alg == alg {
			return storage.SumUint(f.h), true
		}
	}
	return 0, false
}

// value is the checksum of a family of the bytes read so far; false for a
// family the reader was not asked to compute.
func (h *hashingReader) value(alg storage.Algorithm) (string, bool) {
	if alg == "" || alg == storage.CRC64ECMA {
		return storage.CRC64Value(h.sum()), true
	}
	for _, f := range h.extra {
		if f.alg == alg {
			return storage.HashValue(f.h), true
		}
	}
	return "", false
}

// CRC64 is the CRC64 of the bytes read so far.
func (h *hashingReader) CRC64() (uint64, bool) {
	if h.inner != nil {
		crc, _ := h.inner.CRC64()
		return crc, true
	}
	return h.crc, true
}

func (h *hashingReader) sum() uint64 {
	crc, _ := h.CRC64()
	return crc
}

// partPlan sizes the parts of an object for a destination.
func (c *Copier) partSize(size int64, limits storage.Limits) (int64, error) {
	ps := max(c.opts.PartSize, limits.MinPartSize)
	maxParts := int64(limits.MaxParts)
	if maxParts <= 0 {
		maxParts = 10000
	}
	if need := (size + maxParts - 1) / maxParts; need > ps {
		const mib = 1 << 20
		ps = (need + mib - 1) / mib * mib
	}
	if limits.MaxPartSize > 0 && ps > limits.MaxPartSize {
		return 0, fmt.Errorf("object of %d bytes needs parts of %d bytes, over the destination's limit of %d", size, ps, limits.MaxPartSize)
	}
	return ps, nil
}

type partState struct {
	size   int64
	crc    uint64
	hasCRC bool
	etag   string
	done   bool
	// sum is the part's checksum in the destination's family when that is
	// not CRC64 (an S3 part's MD5): computed while streaming, or as
	// ListParts reported it for a part uploaded before.
	sum string
	// ssum is the part's CRC in the source's family when that is another
	// CRC than CRC64 (an S3 full-object CRC64NVME), computed while
	// streaming; parts uploaded by earlier tries have none.
	ssum    uint64
	hasSsum bool
}

func (c *Copier) copyMultipart(ctx context.Context, req Request, head storage.ObjectInfo, meta storage.Metadata) (Result, error) {
	u, parts, reused, err := c.begin(ctx, req, head, meta)
	out := Result{Key: req.DstKey, Size: head.Size, Multipart: true, Parts: len(parts), PartsReused: reused}
	if err != nil {
		return out, err
	}
	if req.Progress == nil {
		// Nobody can resume it: a copy that fails aborts its own upload.
		defer func() {
			if out.ETag == "" {
				actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), abortTimeout)
				defer cancel()
				_ = req.Dst.AbortMultipart(actx, req.DstKey, u.UploadID)
			}
		}()
	}
	var mu sync.Mutex // guards parts, done counters and Progress calls
	done, doneBytes := 0, int64(0)
	for _, p := range parts {
		if p.done {
			done++
			doneBytes += p.size
		}
	}
	report := func() {
		if req.Progress != nil {
			req.Progress(Progress{Checkpoint: u.Checkpoint, PartsDone: done, PartsTotal: u.Parts, BytesDone: doneBytes})
		}
	}
	report()
	up := &upload{c: c, req: req, head: head, Upload: u}
	err = up.run(ctx, parts, 0, len(parts), func(i int, st partState) {
		mu.Lock()
		defer mu.Unlock()
		parts[i] = st
		done++
		doneBytes += st.size
		report()
	})
	out.BytesRead, out.BytesWritten = up.read.Load(), up.written.Load()
	if err != nil {
		// The upload is kept so that a retry resumes it from the checkpoint.
		return out, err
	}
	res, err := c.finish(ctx, req, head, u, parts, &up.read)
	out.BytesRead = up.read.Load()
	out.ETag, out.CRC64 = res.ETag, res.CRC64
	out.DestinationOnly, out.Checked = res.DestinationOnly, res.Checked
	return out, err
}

// Upload is a multipart copy under way: its checkpoint and its number of
// parts. BeginMultipart and CopyParts calls, on several workers, upload an
// object's parts; a Copy with the checkpoint as Resume completes it.
type Upload struct {
	Checkpoint
	Parts int `json:"parts"`
}

// PartsResult reports the parts one CopyParts call made sure of.
type PartsResult struct {
	// Parts are the parts of the range, uploaded now or before, with the
	// CRC64s computed while streaming where this call uploaded them.
	Parts        []storage.Part
	BytesRead    int64 // from the source, retries included
	BytesWritten int64
}

// BeginMultipart starts the multipart copy of req's object for CopyParts
// calls to fill: it resumes req.Resume when that upload is still there and
// the source unchanged, and otherwise initiates a new upload.
func (c *Copier) BeginMultipart(ctx context.Context, req Request) (Upload, error) {
	req = c.fill(req)
	head, err := req.Src.Head(ctx, req.SrcKey)
	if err != nil {
		return Upload{}, err
	}
	if err := archived(req, head); err != nil {
		return Upload{}, err
	}
	u, _, _, err := c.begin(ctx, req, head, req.Classes.apply(head.Meta))
	return u, err
}

// CopyParts uploads the parts [from, to) of u not uploaded yet, reading the
// version of the source u was begun on.
func (c *Copier) CopyParts(ctx context.Context, req Request, u Upload, from, to int) (PartsResult, error) {
	req = c.fill(req)
	head := storage.ObjectInfo{Key: req.SrcKey, Size: u.SrcSize, ETag: u.SrcETag}
	parts := plannedParts(head.Size, u.PartSize)
	if from < 0 || to > len(parts) || from >= to || len(parts) != u.Parts {
		return PartsResult{}, &storage.Error{Kind: storage.KindInvalid, Store: req.Dst.Name(), Op: "upload part", Key: req.DstKey,
			Err: fmt.Errorf("parts [%d, %d) of an upload of %d parts", from, to, u.Parts)}
	}
	var out PartsResult
	listed, err := req.Dst.ListParts(ctx, req.DstKey, u.UploadID)
	if err != nil {
		return out, err
	}
	reuseParts(parts, listed, req.Dst.Limits().Preferred())
	var mu sync.Mutex
	up := &upload{c: c, req: req, head: head, Upload: u}
	err = up.run(ctx, parts, from, to, func(i int, st partState) {
		mu.Lock()
		defer mu.Unlock()
		parts[i] = st
		if req.Progress != nil {
			req.Progress(Progress{Checkpoint: u.Checkpoint, PartsTotal: u.Parts})
		}
	})
	out.BytesRead, out.BytesWritten = up.read.Load(), up.written.Load()
	if err != nil {
		return out, err
	}
	for i := from; i < to; i++ {
		p := parts[i]
		out.Parts = append(out.Parts, p.part(i+1, req.Dst.Limits().Preferred()))
	}
	return out, nil
}

// fill applies the Copier's defaults to a request.
func (c *Copier) fill(req Request) Request {
	if req.DstKey == "" {
		req.DstKey = req.SrcKey
	}
	if req.Classes == nil {
		req.Classes = &ClassPolicy{Force: c.opts.StorageClass, Map: c.opts.ClassMap}
	}
	return req
}

// archived fails the copy of an archived object not restored.
func archived(req Request, head storage.ObjectInfo) error {
	if storage.IsArchiveClass(head.Meta.StorageClass) && !head.Restored {
		return &storage.Error{Kind: storage.KindArchived, Store: req.Src.Name(), Op: "copy", Key: req.SrcKey,
			Err: fmt.Errorf("object is in storage class %s and not restored; restore it before copying", head.Meta.StorageClass)}
	}
	return nil
}

// plannedParts are the parts of an object of size bytes, none done.
func plannedParts(size, partSize int64) []partState {
	parts := make([]partState, (size+partSize-1)/partSize)
	for i := range parts {
		parts[i].size = min(partSize, size-int64(i)*partSize)
	}
	return parts
}

// part is the storage.Part of part number n.
func (p partState) part(n int, alg storage.Algorithm) storage.Part {
	out := storage.Part{Number: n, Size: p.size, ETag: p.etag, CRC64: p.crc, HasCRC64: p.hasCRC}
	if p.sum != "" && alg != storage.CRC64ECMA {
		out.Checksums = []storage.Checksum{{Alg: alg, Value: p.sum}}
	}
	return out
}

// reuseParts marks done the listed parts that belong to the plan, and
// counts them. alg is the destination's family.
func reuseParts(parts []partState, listed []storage.Part, alg storage.Algorithm) int {
	reused := 0
	for _, p := range listed {
		i := p.Number - 1
		if i < 0 || i >= len(parts) || p.Size != parts[i].size {
			continue // not a part of this plan: it gets overwritten
		}
		parts[i] = partState{size: p.Size, crc: p.CRC64, hasCRC: p.HasCRC64, etag: p.ETag, done: true}
		if alg != storage.CRC64ECMA {
			parts[i].sum, _ = p.Sum(alg)
		}
		reused++
	}
	return reused
}

// begin plans the parts, resumes the upload of req.Resume or initiates
// one, and aborts the key's other uploads.
func (c *Copier) begin(ctx context.Context, req Request, head storage.ObjectInfo, meta storage.Metadata) (Upload, []partState, int, error) {
	dst := req.Dst
	partSize, err := c.partSize(head.Size, dst.Limits())
	if err != nil {
		return Upload{}, nil, 0, &storage.Error{Kind: storage.KindInvalid, Store: dst.Name(), Op: "copy", Key: req.DstKey, Err: err}
	}
	parts := plannedParts(head.Size, partSize)
	cp, reused, err := c.resume(ctx, req, head, partSize, parts)
	if err != nil {
		return Upload{}, parts, 0, err
	}
	if cp.UploadID == "" {
		id, err := dst.InitMultipart(ctx, req.DstKey, meta)
		if err != nil {
			// An initiate whose answer was lost (a connection cut after
			// the service created the upload) leaves an upload whose id
			// nobody knows. It is not aborted: listings carry no owner, so
			// it cannot be told from another writer's upload of the key
			// (see Request.Owned); a bucket lifecycle rule collects it.
			return Upload{}, parts, 0, err
		}
		cp = Checkpoint{UploadID: id, PartSize: partSize, SrcSize: head.Size, SrcETag: head.ETag}
		if req.Initiated != nil {
			if err := req.Initiated(cp); err != nil {
				actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), abortTimeout)
				defer cancel()
				_ = dst.AbortMultipart(actx, req.DstKey, id)
				return Upload{}, parts, 0, err
			}
		}
	}
	u := Upload{Checkpoint: cp, Parts: len(parts)}
	if err := c.abortOwned(ctx, req, cp.UploadID); err != nil {
		return u, parts, reused, err
	}
	return u, parts, reused, nil
}

// upload is one multipart copy's parts in flight: what each part's copy
// needs, and the bytes they moved (retries included).
type upload struct {
	c    *Copier
	req  Request
	head storage.ObjectInfo // the source version the upload copies
	Upload
	read, written atomic.Int64
}

// run uploads the parts of [from, to) not done, PartsInFlight at once,
// calling done after each; the first failure stops the others.
func (up *upload) run(ctx context.Context, parts []partState, from, to int, done func(int, partState)) error {
	var todo []int
	for i := from; i < to; i++ {
		if !parts[i].done {
			todo = append(todo, i)
		}
	}
	return pool.Each(ctx, min(up.c.opts.PartsInFlight, to-from), todo, func(ctx context.Context, i int) error {
		st, err := up.copyPart(ctx, i, parts[i].size)
		if err != nil {
			return err
		}
		done(i, st)
		return nil
	})
}

// finish completes the upload of every part and verifies the object. A
// CRC64 destination's CRC64 must equal the source's (or, without one, the
// parts' combined); an MD5 (S3) destination's ETag must be the MD5 of the
// parts' MD5s, each checked against the data as it was uploaded, and the
// source's CRC64, when it has one, must equal the parts' combined.
// Other source families cannot be combined from parts: such copies are
// verified on the destination side only.
func (c *Copier) finish(ctx context.Context, req Request, head storage.ObjectInfo, u Upload, parts []partState, read *atomic.Int64) (Result, error) {
	out := Result{Key: req.DstKey, Size: head.Size, Multipart: true, Parts: len(parts)}
	dstAlg := req.Dst.Limits().Preferred()
	var want uint64
	if dstAlg == storage.CRC64ECMA || head.HasCRC64 {
		var err error
		if want, err = c.wholeCRC(ctx, req, head, parts, u.PartSize, read, dstAlg != storage.CRC64ECMA); err != nil {
			return out, err
		}
	}
	srcChecked, err := c.checkSourceParts(ctx, req, head, u, parts)
	if err != nil {
		return out, err
	}
	list := make([]storage.Part, len(parts))
	for i, p := range parts {
		list[i] = p.part(i+1, dstAlg)
		list[i].HasCRC64 = true
	}
	res, err := req.Dst.CompleteMultipart(ctx, req.DstKey, u.UploadID, list)
	if err != nil {
		return out, err
	}
	out.ETag = res.ETag
	switch dstAlg {
	case storage.CRC64ECMA:
		if err := c.verify(ctx, req, res, dstAlg, storage.CRC64Value(want), head.Size); err != nil {
			return out, err
		}
	case storage.MD5:
		if err := c.verifyPartsETag(ctx, req, res, parts); err != nil {
			return out, err
		}
	default:
		return out, &storage.Error{Kind: storage.KindInvalid, Store: req.Dst.Name(), Op: "verify", Key: req.DstKey,
			Err: fmt.Errorf("no way to verify a multipart object of a %s destination", dstAlg)}
	}
	out.CRC64, out.DestinationOnly = want, !head.HasCRC64 && !srcChecked
	switch {
	case head.HasCRC64:
		out.Checked = append(out.Checked, storage.CRC64ECMA)
	case srcChecked:
		out.Checked = append(out.Checked, multipartSourceAlg(head))
	}
	if dstAlg != storage.CRC64ECMA || !head.HasCRC64 {
		out.Checked = append(out.Checked, dstAlg)
	}
	return out, nil
}

// multipartSourceAlg is the family a copy in parts checks its source in
// when the source has no CRC64: the first other CRC it reports (MD5 and
// SHA cannot be combined from parts), or "".
func multipartSourceAlg(head storage.ObjectInfo) storage.Algorithm {
	if head.HasCRC64 {
		return ""
	}
	for _, c := range head.Checksums {
		if storage.Combinable(c.Alg) {
			return c.Alg
		}
	}
	return ""
}

// checkSourceParts checks, for a source without CRC64 that reports another
// CRC (an S3 object's full-object CRC64NVME), the parts' combined CRC of
// that family against the source's. It reports false, unchecked, when a
// part uploaded by an earlier try has no such CRC. A mismatch aborts the
// upload, so that no retry reuses its parts.
func (c *Copier) checkSourceParts(ctx context.Context, req Request, head storage.ObjectInfo, u Upload, parts []partState) (bool, error) {
	alg := multipartSourceAlg(head)
	if alg == "" {
		return false, nil
	}
	want, _ := head.Sum(alg)
	var sum uint64
	for _, p := range parts {
		if !p.hasSsum {
			return false, nil
		}
		sum, _ = storage.CombineChecksum(alg, sum, p.ssum, p.size)
	}
	if got := storage.ChecksumValue(alg, sum); got != want {
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), abortTimeout)
		defer cancel()
		_ = req.Dst.AbortMultipart(actx, req.DstKey, u.UploadID)
		return false, &storage.Error{Kind: storage.KindCorrupt, Store: req.Src.Name(), Op: "verify", Key: req.SrcKey,
			Err: fmt.Errorf("the parts' data has %s %s, the source's is %s", alg, got, want)}
	}
	return true, nil
}

// verifyPartsETag checks an S3-style multipart ETag: the MD5 of the parts'
// MD5s, "-", their number.
func (c *Copier) verifyPartsETag(ctx context.Context, req Request, res storage.PutResult, parts []partState) error {
	h := md5.New()
	for i, p := range parts {
		b, err := hex.DecodeString(p.sum)
		if err != nil || len(b) != md5.Size {
			return c.corrupt(ctx, req, fmt.Errorf("part %d has no MD5 to verify the object by (ETag %q)", i+1, p.etag))
		}
		h.Write(b)
	}
	want := fmt.Sprintf("%x-%d", h.Sum(nil), len(parts))
	if got := strings.ToLower(strings.Trim(res.ETag, `"`)); got != want {
		return c.corrupt(ctx, req, fmt.Errorf("destination ETag %s differs from the parts' %s", got, want))
	}
	return nil
}

// abortOwned aborts the uploads this copy started in earlier tries
// (req.Owned) other than keep: leftovers of tries that died before their
// checkpoint was kept. Only those: an upload of the same key that the copy
// did not start belongs to another writer.
func (c *Copier) abortOwned(ctx context.Context, req Request, keep string) error {
	for _, id := range req.Owned {
		if id == "" || id == keep {
			continue
		}
		if err := req.Dst.AbortMultipart(ctx, req.DstKey, id); err != nil && !storage.IsNotFound(err) {
			return err
		}
	}
	return nil
}

// abortTimeout bounds the abort of a failed copy's upload.
const abortTimeout = 30 * time.Second

// resume finds the parts an earlier attempt uploaded. It returns an empty
// checkpoint when there is nothing to resume.
func (c *Copier) resume(ctx context.Context, req Request, head storage.ObjectInfo, partSize int64, parts []partState) (Checkpoint, int, error) {
	cp := req.Resume
	if cp == nil || cp.UploadID == "" {
		return Checkpoint{}, 0, nil
	}
	if cp.PartSize != partSize || cp.SrcSize != head.Size || cp.SrcETag != head.ETag {
		// The source changed or the plan did: the old parts are useless.
		_ = req.Dst.AbortMultipart(ctx, req.DstKey, cp.UploadID)
		return Checkpoint{}, 0, nil
	}
	listed, err := req.Dst.ListParts(ctx, req.DstKey, cp.UploadID)
	if storage.IsNotFound(err) {
		return Checkpoint{}, 0, nil // completed or aborted meanwhile: start again
	}
	if err != nil {
		return Checkpoint{}, 0, err
	}
	return *cp, reuseParts(parts, listed, req.Dst.Limits().Preferred()), nil
}

// wholeCRC is the CRC64 the completed object must have: the source's own when
// it reports one, otherwise the combination of the parts' CRCs. With check,
// the parts' combination is computed and must equal the source's.
func (c *Copier) wholeCRC(ctx context.Context, req Request, head storage.ObjectInfo, parts []partState, partSize int64, read *atomic.Int64, check bool) (uint64, error) {
	if head.HasCRC64 && !check {
		return head.CRC64, nil
	}
	var crc uint64
	for i := range parts {
		p := &parts[i]
		if !p.hasCRC {
			sum, err := c.readCRC(ctx, req, head, int64(i)*partSize, p.size, read)
			if err != nil {
				return 0, err
			}
			p.crc, p.hasCRC = sum, true
		}
		crc = storage.CombineCRC64(crc, p.crc, p.size)
	}
	if head.HasCRC64 && crc != head.CRC64 {
		return 0, c.corrupt(ctx, req, fmt.Errorf("the parts' data has CRC64 %d, the source's is %d", crc, head.CRC64))
	}
	return crc, nil
}

func (c *Copier) readCRC(ctx context.Context, req Request, head storage.ObjectInfo, off, n int64, read *atomic.Int64) (uint64, error) {
	body, info, err := req.Src.Get(ctx, req.SrcKey, storage.Range{Offset: off, Length: n})
	if err != nil {
		return 0, err
	}
	defer body.Close()
	if err := sameVersion(req, head, info); err != nil {
		return 0, err
	}
	hr := newHashingReader(body)
	_, err = io.Copy(io.Discard, hr)
	read.Add(hr.n)
	if err != nil {
		return 0, &storage.Error{Kind: storage.KindTransient, Store: req.Src.Name(), Op: "get", Key: req.SrcKey, Err: err}
	}
	return hr.sum(), nil
}

// copyPart streams part i (size bytes): a ranged GET of the source piped,
// CRC64 computed on the way, into the part's upload. Nothing is buffered
// beyond the HTTP stacks' own small buffers, so reading and uploading
// overlap and memory does not grow with the part size; a failed attempt
// reads the range again. The memory budget still bounds how many parts of
// all copies are in flight (as many as buffered parts would have fitted).
func (up *upload) copyPart(ctx context.Context, i int, size int64) (partState, error) {
	c := up.c
	if err := c.budget.Acquire(ctx, min(size, c.opts.MemoryBudget)); err != nil {
		return partState{}, err
	}
	defer c.budget.Release(min(size, c.opts.MemoryBudget))

	var lastErr error
	for attempt := 0; attempt < c.opts.PartAttempts; attempt++ {
		if attempt > 0 {
			if err := storage.Sleep(ctx, backoff(attempt)); err != nil {
				return partState{}, err
			}
		}
		st, err := up.streamPart(ctx, i, size)
		if err == nil {
			return st, nil
		}
		lastErr = err
		if ctx.Err() != nil || !storage.IsRetryable(err) || storage.KindOf(err) == storage.KindChanged {
			return partState{}, err
		}
	}
	return partState{}, fmt.Errorf("part %d after %d attempts: %w", i+1, c.opts.PartAttempts, lastErr)
}

// streamPart makes one attempt at part i.
func (up *upload) streamPart(ctx context.Context, i int, size int64) (partState, error) {
	req, off := up.req, int64(i)*up.PartSize
	body, info, err := req.Src.Get(ctx, req.SrcKey, storage.Range{Offset: off, Length: size})
	if err != nil {
		return partState{}, err
	}
	defer body.Close()
	if err := sameVersion(req, up.head, info); err != nil {
		return partState{}, err
	}
	dstAlg, srcAlg := req.Dst.Limits().Preferred(), multipartSourceAlg(up.head)
	pr := &partReader{hashingReader: newHashingReader(body, dstAlg, srcAlg), want: size}
	p, err := req.Dst.UploadPart(ctx, req.DstKey, up.UploadID, i+1, pr, size)
	up.read.Add(pr.n)
	up.written.Add(pr.n)
	if pr.err != nil {
		// The source broke off: that, not the upload it cut short, is the
		// failure.
		return partState{}, &storage.Error{Kind: storage.KindTransient, Store: req.Src.Name(), Op: "get", Key: req.SrcKey,
			Err: fmt.Errorf("read bytes %d-%d: %w", off, off+size-1, pr.err)}
	}
	if err != nil {
		return partState{}, err
	}
	if pr.n != size {
		return partState{}, &storage.Error{Kind: storage.KindTransient, Store: req.Src.Name(), Op: "get", Key: req.SrcKey,
			Err: fmt.Errorf("read %d of the %d bytes at %d", pr.n, size, off)}
	}
	return up.checkPart(i, p, pr, dstAlg, srcAlg)
}

// checkPart compares what the destination says it stored of part i with
// the checksums of the data sent, and records the part.
func (up *upload) checkPart(i int, p storage.Part, pr *partReader, dstAlg, srcAlg storage.Algorithm) (partState, error) {
	req := up.req
	if p.HasCRC64 && p.CRC64 != pr.sum() {
		return partState{}, &storage.Error{Kind: storage.KindCorrupt, Store: req.Dst.Name(), Op: "upload part", Key: req.DstKey,
			Err: fmt.Errorf("part %d: destination CRC64 %d differs from the data's %d", i+1, p.CRC64, pr.sum())}
	}
	st := partState{size: pr.want, crc: pr.sum(), hasCRC: true, etag: p.ETag, done: true}
	if srcAlg != "" {
		st.ssum, st.hasSsum = pr.uintValue(srcAlg)
	}
	if dstAlg != storage.CRC64ECMA {
		st.sum, _ = pr.value(dstAlg)
		if got, ok := p.Sum(dstAlg); !ok || got != st.sum {
			return partState{}, &storage.Error{Kind: storage.KindCorrupt, Store: req.Dst.Name(), Op: "upload part", Key: req.DstKey,
				Err: fmt.Errorf("part %d: destination %s %q differs from the data's %s", i+1, dstAlg, got, st.sum)}
		}
	}
	return st, nil
}

// partReader is a part's source body: it hashes what passes and remembers
// a read failure (an early end included) so that the copy can tell a broken
// source from a failed upload.
type partReader struct {
	*hashingReader
	want int64
	err  error
}

func (p *partReader) Read(b []byte) (int, error) {
	n, err := p.hashingReader.Read(b)
	switch {
	case err == io.EOF && p.n < p.want:
		err = io.ErrUnexpectedEOF
		p.err = err
	case err != nil && err != io.EOF:
		p.err = err
	}
	return n, err
}

func backoff(attempt int) time.Duration {
	d := 100 * time.Millisecond << (attempt - 1)
	return min(d, 5*time.Second)
}
