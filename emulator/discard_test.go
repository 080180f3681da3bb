package emulator

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/bucketferry/bucketferry/storage"
)

func TestDiscardBodies(t *testing.T) {
	b, err := NewBackend("")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"kept", "dropped"} {
		if err := b.CreateBucket(name); err != nil {
			t.Fatal(err)
		}
	}
	b.DiscardBodies("dropped")
	body := bytes.Repeat([]byte("bucketferry "), 1000)
	sum := md5.Sum(body)

	kept, err := b.PutObject("kept", "k", bytes.NewReader(body), int64(len(body)), Meta{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	dropped, err := b.PutObject("dropped", "k", bytes.NewReader(body), int64(len(body)), Meta{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Size, ETag and CRC64 are those of the bytes received, on both.
	for _, o := range []*Object{kept, dropped} {
		if o.Size != int64(len(body)) || o.CRC64 != storage.CRC64(body) || !strings.EqualFold(o.ETag, hex.EncodeToString(sum[:])) {
			t.Errorf("object %+v: want %d bytes, CRC64 %d, ETag %x", o, len(body), storage.CRC64(body), sum)
		}
	}
	if rc, err := kept.Open(0, kept.Size); err != nil {
		t.Errorf("kept body: %v", err)
	} else {
		rc.Close()
	}
	var aerr *APIError
	if _, err := dropped.Open(0, dropped.Size); !errors.As(err, &aerr) || aerr.Status != 501 {
		t.Errorf("reading a discarded body: %v, want a 501 APIError", err)
	}

	// A short body is refused as in any bucket, and parts are discarded too:
	// the completed object has the combined CRC64.
	if _, err := b.PutObject("dropped", "short", bytes.NewReader(body[:10]), 20, Meta{}, nil); err == nil {
		t.Error("a body shorter than announced was stored")
	}
	u, err := b.CreateUpload("dropped", "mp", Meta{})
	if err != nil {
		t.Fatal(err)
	}
	var want []CompletePart
	for n, part := range [][]byte{body[:6000], body[6000:]} {
		p, err := b.UploadPart("dropped", "mp", u.ID, n+1, bytes.NewReader(part), int64(len(part)), nil)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, CompletePart{Number: n + 1, ETag: p.ETag})
	}
	obj, err := b.CompleteUpload("dropped", "mp", u.ID, want, CompleteRules{})
	if err != nil {
		t.Fatal(err)
	}
	if obj.Size != int64(len(body)) || obj.CRC64 != storage.CRC64(body) {
		t.Errorf("completed upload: %d bytes, CRC64 %d; want %d, %d", obj.Size, obj.CRC64, len(body), storage.CRC64(body))
	}
}
