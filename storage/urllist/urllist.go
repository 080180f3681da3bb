// Package urllist is a read-only storage.Store whose objects are the HTTP(S)
// URLs of a manifest, each under a key derived from its path, so that a
// list of URLs migrates like a bucket: sharded, verified, with failures
// recorded, retried and exported as any job's.
//
// The manifest is one URL a line, or, when its name ends in .csv, CSV rows
// of url[,size[,md5]] (a first row starting with "url" is a header). Blank
// lines and lines starting with # are skipped. Keys (KeyOf):
//
//   - the URL's path, percent-decoded, without its leading "/", with "."
//     and ".." segments resolved and repeated "/" kept;
//   - "index.html" appended to an empty path or one ending in "/";
//   - the query and fragment dropped;
//   - with IncludeHost, the host (and a non-default port) and "/" before it.
//
// Two URLs with the same key are an error naming both lines.
package urllist

import (
	"bufio"
	"cmp"
	"context"
	"encoding/base64"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bucketferry/bucketferry/internal/pool"
	"github.com/bucketferry/bucketferry/storage"
)

// Config describes a URL list.
type Config struct {
	// Manifest is the list's file: a local path, or an http(s) URL it is
	// downloaded from (every worker reads it).
	Manifest string
	// IncludeHost puts each URL's host in front of its key, keeping URLs
	// of several hosts with the same path apart.
	IncludeHost bool
	// ConnectTimeout, ReadWriteTimeout and MaxIdleConnsPerHost tune the
	// HTTP client as for the other stores (defaults 10s, 60s, 512).
	ConnectTimeout      time.Duration
	ReadWriteTimeout    time.Duration
	MaxIdleConnsPerHost int
	// HTTPClient, when set, replaces the store's own client (tests).
	HTTPClient *http.Client
}

// headsInFlight bounds the HEADs a listing makes for URLs whose size the
// manifest does not give.
const headsInFlight = 16

// Store is a URL list. It is safe for concurrent use.
type Store struct {
	cfg    Config
	name   string
	client *http.Client

	loadMu  sync.Mutex
	loaded  bool
	loadErr error    // a permanent failure to read the manifest
	entries []*entry // by key
	byKey   map[string]*entry
}

// entry is one URL of the manifest.
type entry struct {
	key  string
	url  string
	line int
	size int64 // -1 when the manifest does not say
	md5  string

	mu     sync.Mutex
	headed time.Time // when a listing last had the size from the server
	seen   int64     // that size, -1 when it did not answer one
}

// sizeTTL is how long a size a listing asked for is reused: a job's plan
// and its shards list the same URLs within minutes, a later job asks again.
const sizeTTL = 10 * time.Minute

var _ storage.Store = (*Store)(nil)

// New checks cfg and returns the store; the manifest is read on first use.
func New(cfg Config) (*Store, error) {
	if cfg.Manifest == "" {
		return nil, errors.New("urllist: Config.Manifest is required (a file of URLs, one a line, or a .csv of url,size,md5)")
	}
	if strings.Contains(cfg.Manifest, "://") {
		u, err := url.Parse(cfg.Manifest)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("urllist: Config.Manifest %q must be a file path or an http(s) URL", redact(cfg.Manifest))
		}
	}
	if cfg.ConnectTimeout < 0 || cfg.ReadWriteTimeout < 0 || cfg.MaxIdleConnsPerHost < 0 {
		return nil, errors.New("urllist: timeouts and MaxIdleConnsPerHost must not be negative")
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Transport: storage.NewTransport(storage.TransportConfig{ConnectTimeout: cfg.ConnectTimeout,
			StallTimeout: cfg.ReadWriteTimeout, MaxIdleConnsPerHost: cfg.MaxIdleConnsPerHost})}
	}
	return &Store{cfg: cfg, name: "urllist://" + path.Base(redact(cfg.Manifest)), client: hc}, nil
}

// redact drops the user info and query of a URL (which may hold tokens)
// for names and messages.
func redact(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" {
		return s
	}
	u.User, u.RawQuery = nil, ""
	return u.String()
}

// ReadOnly is true: a URL list is only a source.
func (s *Store) ReadOnly() bool { return true }

// Name is "urllist://" and the manifest's file name.
func (s *Store) Name() string { return s.name }

// Limits: a URL list stores nothing. The MD5 column is what it reports.
func (s *Store) Limits() storage.Limits { return storage.Limits{Checksum: storage.MD5} }

// KeyOf is the key of a URL (see the package comment for the rules).
func KeyOf(u *url.URL, includeHost bool) (string, error) {
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", fmt.Errorf("%q is not an http or https URL", redact(u.String()))
	}
	if u.Host == "" {
		return "", fmt.Errorf("%q has no host", redact(u.String()))
	}
	p := u.Path
	dir := p == "" || strings.HasSuffix(p, "/")
	p = strings.TrimPrefix(resolveDots(p), "/")
	if dir {
		if p != "" && !strings.HasSuffix(p, "/") {
			p += "/"
		}
		p += "index.html"
	}
	if includeHost {
		host := strings.ToLower(u.Hostname())
		if port := u.Port(); port != "" && !(u.Scheme == "http" && port == "80") && !(u.Scheme == "https" && port == "443") {
			host += ":" + port
		}
		p = host + "/" + p
	}
	return p, nil
}

// resolveDots removes "." and ".." segments as a browser would, keeping
// repeated slashes (which are part of a path).
func resolveDots(p string) string {
	segs := strings.Split(p, "/")
	out := make([]string, 0, len(segs))
	for _, s := range segs {
		switch s {
		case ".":
		case "..":
			if len(out) > 1 {
				out = out[:len(out)-1]
			}
		default:
			out = append(out, s)
		}
	}
	return strings.Join(out, "/")
}

// ---- the manifest

// entriesOf reads the manifest once; a transient failure (a manifest
// URL's server out) is tried again on the next call.
func (s *Store) entriesOf(ctx context.Context) error {
	s.loadMu.Lock()
	defer s.loadMu.Unlock()
	if s.loaded {
		return s.loadErr
	}
	err := s.readManifest(ctx)
	if err != nil && storage.IsRetryable(err) {
		return err
	}
	s.loaded, s.loadErr = true, err
	return err
}

func (s *Store) invalid(op, key, format string, args ...any) *storage.Error {
	return storage.Errorf(storage.KindInvalid, s.name, op, key, format, args...)
}

func (s *Store) openManifest(ctx context.Context) (io.ReadCloser, error) {
	if !strings.Contains(s.cfg.Manifest, "://") {
		f, err := os.Open(s.cfg.Manifest)
		if err != nil {
			return nil, s.invalid("read manifest", "", "%v", err)
		}
		return f, nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.cfg.Manifest, nil)
	if err != nil {
		return nil, s.invalid("read manifest", "", "%v", err)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, &storage.Error{Kind: storage.KindTransient, Store: s.name, Op: "read manifest", Err: err}
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, httpError(s.name, "read manifest", "", resp)
	}
	return resp.Body, nil
}

func (s *Store) readManifest(ctx context.Context) error {
	rc, err := s.openManifest(ctx)
	if err != nil {
		return err
	}
	defer rc.Close()
	isCSV := strings.HasSuffix(strings.ToLower(path.Ext(redact(s.cfg.Manifest))), ".csv")
	var entries []*entry
	add := func(line int, raw, size, sum string) error {
		e := &entry{url: raw, line: line, size: -1, seen: -1}
		u, err := url.Parse(raw)
		if err != nil {
			return fmt.Errorf("line %d: %q is not a URL", line, redact(raw))
		}
		if e.key, err = KeyOf(u, s.cfg.IncludeHost); err != nil {
			return fmt.Errorf("line %d: %w", line, err)
		}
		if size != "" {
			n, err := strconv.ParseInt(size, 10, 64)
			if err != nil || n < 0 {
				return fmt.Errorf("line %d: size %q is not a number of bytes", line, size)
			}
			e.size = n
		}
		if sum != "" {
			if e.md5, err = parseMD5(sum); err != nil {
				return fmt.Errorf("line %d: %w", line, err)
			}
		}
		entries = append(entries, e)
		return nil
	}
	if isCSV {
		r := csv.NewReader(rc)
		r.FieldsPerRecord, r.Comment, r.TrimLeadingSpace = -1, '#', true
		for {
			rec, err := r.Read()
			if err == io.EOF {
				break
			}
			if err != nil {
				return s.invalid("read manifest", "", "%v", err)
			}
			line, _ := r.FieldPos(0)
			if len(rec) == 0 || (len(rec) == 1 && strings.TrimSpace(rec[0]) == "") {
				continue
			}
			if len(entries) == 0 && strings.EqualFold(strings.TrimSpace(rec[0]), "url") {
				continue // header
			}
			if len(rec) > 3 {
				return s.invalid("read manifest", "", "line %d: %d fields, want url[,size[,md5]]", line, len(rec))
			}
			rec = append(rec, "", "")
			if err := add(line, strings.TrimSpace(rec[0]), strings.TrimSpace(rec[1]), strings.TrimSpace(rec[2])); err != nil {
				return s.invalid("read manifest", "", "%v", err)
			}
		}
	} else {
		sc := bufio.NewScanner(rc)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for line := 1; sc.Scan(); line++ {
			t := strings.TrimSpace(sc.Text())
			if t == "" || strings.HasPrefix(t, "#") {
				continue
			}
			if err := add(line, t, "", ""); err != nil {
				return s.invalid("read manifest", "", "%v", err)
			}
		}
		if err := sc.Err(); err != nil {
			return &storage.Error{Kind: storage.KindTransient, Store: s.name, Op: "read manifest", Err: err}
		}
	}
	sort.SliceStable(entries, func(i, j int) bool { return entries[i].key < entries[j].key })
	s.byKey = make(map[string]*entry, len(entries))
	for i, e := range entries {
		if i > 0 && entries[i-1].key == e.key {
			return s.invalid("read manifest", e.key, "lines %d and %d both map to key %q: give one of them another path, or set includeHost when the hosts differ",
				entries[i-1].line, e.line, e.key)
		}
		s.byKey[e.key] = e
	}
	s.entries = entries
	return nil
}

// parseMD5 reads an MD5 in hex or base64 (Content-MD5's spelling).
func parseMD5(v string) (string, error) {
	if b, err := hex.DecodeString(v); err == nil && len(b) == 16 {
		return strings.ToLower(v), nil
	}
	if b, err := base64.StdEncoding.DecodeString(v); err == nil && len(b) == 16 {
		return hex.EncodeToString(b), nil
	}
	return "", fmt.Errorf("md5 %q is neither 32 hex digits nor base64 of 16 bytes", v)
}

// ---- HTTP

// KindForStatus classifies an HTTP answer for one URL. A 401 or 403 is
// that URL's problem (forbidden), not the list's: other URLs may be
// readable.
func KindForStatus(status int) storage.Kind {
	switch {
	case status == http.StatusNotFound || status == http.StatusGone:
		return storage.KindNotFound
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return storage.KindForbidden
	case status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable:
		return storage.KindThrottled
	case status >= 500, status == http.StatusRequestTimeout:
		return storage.KindTransient
	case status == http.StatusPreconditionFailed:
		return storage.KindChanged
	}
	return storage.KindInvalid
}

// httpError is the error of a non-2xx answer: its status is the code, so
// that the failure record says what the server answered.
func httpError(store, op, key string, resp *http.Response) *storage.Error {
	return &storage.Error{Kind: KindForStatus(resp.StatusCode), Store: store, Op: op, Key: key,
		Code: "HTTP " + strconv.Itoa(resp.StatusCode),
		Err:  fmt.Errorf("%s answered %s", redact(resp.Request.URL.String()), resp.Status)}
}

func (s *Store) entry(ctx context.Context, op, key string) (*entry, error) {
	if err := s.entriesOf(ctx); err != nil {
		return nil, err
	}
	e, ok := s.byKey[key]
	if !ok {
		return nil, storage.Errorf(storage.KindNotFound, s.name, op, key, "no URL of the manifest maps to this key")
	}
	return e, nil
}

func (s *Store) do(ctx context.Context, op string, e *entry, method string, rng storage.Range) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, e.url, nil)
	if err != nil {
		return nil, s.invalid(op, e.key, "line %d: %v", e.line, err)
	}
	if !rng.IsWhole() {
		spec := storage.RangeHeader(rng)
		req.Header.Set("Range", spec)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		kind := storage.KindOf(err)
		if kind == storage.KindUnknown && !errors.Is(err, context.Canceled) {
			kind = storage.KindTransient
		}
		return nil, &storage.Error{Kind: kind, Store: s.name, Op: op, Key: e.key, Err: fmt.Errorf("%s: %w", redact(e.url), err)}
	}
	if resp.StatusCode/100 != 2 {
		_, _ = io.CopyN(io.Discard, resp.Body, 64<<10)
		resp.Body.Close()
		return nil, httpError(s.name, op, e.key, resp)
	}
	return resp, nil
}

// info describes an answer's object of size bytes.
func (s *Store) info(e *entry, h http.Header, size int64) storage.ObjectInfo {
	oi := storage.ObjectInfo{Key: e.key, Size: size, ETag: strings.Trim(strings.TrimPrefix(h.Get("ETag"), "W/"), `"`)}
	if t, err := http.ParseTime(h.Get("Last-Modified")); err == nil {
		oi.LastModified = t
	}
	sum := e.md5
	if v := h.Get("Content-MD5"); sum == "" && v != "" {
		sum, _ = parseMD5(v)
	}
	if sum != "" {
		oi.Checksums = []storage.Checksum{{Alg: storage.MD5, Value: sum}}
	}
	oi.Meta = storage.Metadata{ContentType: h.Get("Content-Type"), ContentEncoding: h.Get("Content-Encoding"),
		ContentDisposition: h.Get("Content-Disposition"), ContentLanguage: h.Get("Content-Language"),
		CacheControl: h.Get("Cache-Control"), Expires: h.Get("Expires")}
	return oi
}

// checkSize compares the size a server answered with the manifest's.
func (s *Store) checkSize(op string, e *entry, size int64) error {
	switch {
	case size < 0 && e.size < 0:
		return s.invalid(op, e.key, "%s sends no Content-Length; give the size in the manifest (CSV url,size,md5)", redact(e.url))
	case size >= 0 && e.size >= 0 && size != e.size:
		return s.invalid(op, e.key, "%s has %d bytes, the manifest (line %d) says %d", redact(e.url), size, e.line, e.size)
	}
	return nil
}

// ---- the Store

// List returns one page of the manifest's keys in order. URLs whose size
// the manifest does not give are asked with a HEAD (reused for sizeTTL);
// one that fails is listed with size 0, and its copy records the failure.
func (s *Store) List(ctx context.Context, opts storage.ListOptions) (storage.Page, error) {
	if err := s.entriesOf(ctx); err != nil {
		return storage.Page{}, err
	}
	limit := cmp.Or(opts.MaxKeys, 1000)
	start := sort.Search(len(s.entries), func(i int) bool {
		k := s.entries[i].key
		return k > opts.After && k >= opts.Prefix
	})
	var picked []*entry
	done := true
	for _, e := range s.entries[start:] {
		if !strings.HasPrefix(e.key, opts.Prefix) || (opts.Before != "" && e.key >= opts.Before) {
			break
		}
		if len(picked) == limit {
			done = false
			break
		}
		picked = append(picked, e)
	}
	var unsized []*entry
	for _, e := range picked {
		if e.size < 0 {
			unsized = append(unsized, e)
		}
	}
	err := pool.Each(ctx, headsInFlight, unsized, func(ctx context.Context, e *entry) error {
		s.headSize(ctx, e)
		return nil
	})
	if err != nil {
		return storage.Page{}, err
	}
	page := storage.Page{Done: done}
	for _, e := range picked {
		o := storage.ObjectInfo{Key: e.key, Size: max(e.size, 0)}
		if e.size < 0 {
			e.mu.Lock()
			o.Size = max(e.seen, 0)
			e.mu.Unlock()
		}
		if e.md5 != "" {
			o.Checksums = []storage.Checksum{{Alg: storage.MD5, Value: e.md5}}
		}
		page.Objects = append(page.Objects, o)
		page.Next = e.key
	}
	return page, nil
}

// headSize asks the server for an entry's size, unless a listing did so
// lately. A failure is not kept: the URL's copy fails the same way and
// records it, and the next listing asks again.
func (s *Store) headSize(ctx context.Context, e *entry) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.headed.IsZero() && time.Since(e.headed) < sizeTTL {
		return
	}
	e.seen = -1
	h, size, err := s.probe(ctx, e)
	if err != nil || h == nil {
		return
	}
	e.headed, e.seen = time.Now(), size
}

// probe asks the server for a URL's headers and size: a HEAD, or, from a
// server that does not allow HEAD (405, 501), a GET of its first byte,
// whose Content-Range has the size.
func (s *Store) probe(ctx context.Context, e *entry) (http.Header, int64, error) {
	resp, err := s.do(ctx, "head", e, http.MethodHead, storage.Range{})
	if err == nil {
		resp.Body.Close()
		return resp.Header, resp.ContentLength, nil
	}
	var se *storage.Error
	if !errors.As(err, &se) || (se.Code != "HTTP 405" && se.Code != "HTTP 501") {
		return nil, -1, err
	}
	resp, err = s.do(ctx, "head", e, http.MethodGet, storage.Range{Offset: 0, Length: 1})
	if err != nil {
		return nil, -1, err
	}
	resp.Body.Close()
	size := resp.ContentLength
	if resp.StatusCode == http.StatusPartialContent {
		size, _ = storage.TotalFromContentRange(resp.Header.Get("Content-Range"))
	}
	return resp.Header, size, nil
}

// Head asks the server about a URL.
func (s *Store) Head(ctx context.Context, key string) (storage.ObjectInfo, error) {
	e, err := s.entry(ctx, "head", key)
	if err != nil {
		return storage.ObjectInfo{}, err
	}
	h, size, err := s.probe(ctx, e)
	if err != nil {
		return storage.ObjectInfo{}, err
	}
	if err := s.checkSize("head", e, size); err != nil {
		return storage.ObjectInfo{}, err
	}
	return s.info(e, h, cmp.Or(max(size, 0), max(e.size, 0))), nil
}

// Get downloads a URL or a byte range of it (a ranged GET; a server that
// ignores ranges is read up to the range).
func (s *Store) Get(ctx context.Context, key string, rng storage.Range) (io.ReadCloser, storage.ObjectInfo, error) {
	e, err := s.entry(ctx, "get", key)
	if err != nil {
		return nil, storage.ObjectInfo{}, err
	}
	if rng.Offset < 0 {
		return nil, storage.ObjectInfo{}, s.invalid("get", key, "negative range offset %d", rng.Offset)
	}
	resp, err := s.do(ctx, "get", e, http.MethodGet, rng)
	if err != nil {
		var se *storage.Error
		if errors.As(err, &se) && se.Code == "HTTP 416" && rng.Length <= 0 {
			// A range from the end: nothing to read.
			info, herr := s.Head(ctx, key)
			if herr != nil {
				return nil, storage.ObjectInfo{}, herr
			}
			info.Checksums = nil
			return io.NopCloser(strings.NewReader("")), info, nil
		}
		return nil, storage.ObjectInfo{}, err
	}
	size := resp.ContentLength
	var body io.Reader = resp.Body
	switch {
	case resp.StatusCode == http.StatusPartialContent:
		total, ok := storage.TotalFromContentRange(resp.Header.Get("Content-Range"))
		if !ok {
			resp.Body.Close()
			return nil, storage.ObjectInfo{}, storage.Errorf(storage.KindTransient, s.name, "get", key,
				"%s answered 206 with an unusable Content-Range %q", redact(e.url), resp.Header.Get("Content-Range"))
		}
		size = total
	case !rng.IsWhole():
		// The whole object came back: cut the range out of it.
		if _, err := io.CopyN(io.Discard, resp.Body, rng.Offset); err != nil {
			resp.Body.Close()
			return nil, storage.ObjectInfo{}, &storage.Error{Kind: storage.KindTransient, Store: s.name, Op: "get", Key: key, Err: err}
		}
		if rng.Length > 0 {
			body = io.LimitReader(resp.Body, rng.Length)
		}
	}
	if err := s.checkSize("get", e, size); err != nil {
		resp.Body.Close()
		return nil, storage.ObjectInfo{}, err
	}
	info := s.info(e, resp.Header, cmp.Or(max(size, 0), max(e.size, 0)))
	if !rng.IsWhole() {
		info.Checksums = nil
	}
	return &getBody{s: s, key: key, r: body, c: resp.Body}, info, nil
}

// getBody classifies read errors of a download: transient, since the next
// try may read it whole.
type getBody struct {
	s   *Store
	key string
	r   io.Reader
	c   io.Closer
}

func (b *getBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err != nil && err != io.EOF {
		err = &storage.Error{Kind: storage.KindTransient, Store: b.s.name, Op: "get", Key: b.key, Err: err}
	}
	return n, err
}

func (b *getBody) Close() error { return b.c.Close() }

// ReadOnly is the error of every write: a URL list is only a source.
func (s *Store) readOnly(op, key string) error {
	return s.invalid(op, key, "a URL list is read-only: it can be a job's source, not its destination")
}

// Put fails: a URL list is read-only.
func (s *Store) Put(_ context.Context, key string, _ io.Reader, _ int64, _ storage.Metadata) (storage.PutResult, error) {
	return storage.PutResult{}, s.readOnly("put", key)
}

// Delete fails: a URL list is read-only.
func (s *Store) Delete(_ context.Context, key string) error { return s.readOnly("delete", key) }

// InitMultipart fails: a URL list is read-only.
func (s *Store) InitMultipart(_ context.Context, key string, _ storage.Metadata) (string, error) {
	return "", s.readOnly("init multipart", key)
}

// UploadPart fails: a URL list is read-only.
func (s *Store) UploadPart(_ context.Context, key, _ string, _ int, _ io.Reader, _ int64) (storage.Part, error) {
	return storage.Part{}, s.readOnly("upload part", key)
}

// ListParts fails: a URL list has no uploads.
func (s *Store) ListParts(_ context.Context, key, _ string) ([]storage.Part, error) {
	return nil, storage.Errorf(storage.KindNotFound, s.name, "list parts", key, "a URL list has no uploads")
}

// CompleteMultipart fails: a URL list is read-only.
func (s *Store) CompleteMultipart(_ context.Context, key, _ string, _ []storage.Part) (storage.PutResult, error) {
	return storage.PutResult{}, s.readOnly("complete multipart", key)
}

// AbortMultipart fails: a URL list has no uploads.
func (s *Store) AbortMultipart(_ context.Context, key, _ string) error {
	return storage.Errorf(storage.KindNotFound, s.name, "abort multipart", key, "a URL list has no uploads")
}

// ListUploads lists nothing: a URL list has no uploads.
func (s *Store) ListUploads(context.Context, string) ([]storage.Upload, error) { return nil, nil }
