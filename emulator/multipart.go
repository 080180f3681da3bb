package emulator

import (
	"encoding/xml"
	"io"
	"net/http"
	"net/url"
	"strconv"
)

// The multipart calls COS and S3 share. The two APIs drive the backend the
// same way and page parts and uploads the same way; they differ only in how a
// request is read (headers, checksums, limits) and in the XML and error
// messages they answer with. So the backend calls, the shared validation and
// the paging live here, and each front end keeps its own parsing, element
// names and error texts, which the SDKs and our conformance tests pin.

// initiateResult is InitiateMultipartUploadResult. XMLName is set by the
// caller because only S3 puts the element in a namespace.
type initiateResult struct {
	XMLName  xml.Name
	Bucket   string
	Key      string
	UploadID string `xml:"UploadId"`
}

// createUpload starts an upload of key with meta (already parsed by the front
// end, whose metadata headers differ) and answers with its ID.
func createUpload(w http.ResponseWriter, b *Backend, name xml.Name, bucket, key string, meta Meta) error {
	u, err := b.CreateUpload(bucket, key, meta)
	if err != nil {
		return err
	}
	writeXML(w, http.StatusOK, initiateResult{XMLName: name, Bucket: bucket, Key: key, UploadID: u.ID})
	return nil
}

// partNumberParam reads UploadPart's partNumber (1 to max) and checks that an
// upload ID came with it. bad gives the provider's own error for an invalid
// number v: COS and S3 word it differently.
func partNumberParam(q url.Values, uploadID string, max int, bad func(v string) error) (int, error) {
	v := q.Get("partNumber")
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > max {
		return 0, bad(v)
	}
	if uploadID == "" {
		return 0, apiErr(400, "InvalidArgument", "uploadId is required with partNumber.")
	}
	return n, nil
}

// uploadPart stores part n and answers with an empty 200 that carries the
// part's ETag as etag quotes it, plus any provider headers extra builds from
// the part (COS adds its CRC-64).
func uploadPart(w http.ResponseWriter, b *Backend, bucket, key, uploadID string, n int, body io.Reader, size int64,
	contentMD5 []byte, etag func(string) string, extra func(*Part, http.Header)) error {
	p, err := b.UploadPart(bucket, key, uploadID, n, body, size, contentMD5)
	if err != nil {
		return err
	}
	h := w.Header()
	h.Set("ETag", etag(p.ETag))
	if extra != nil {
		extra(p, h)
	}
	h.Set("Content-Length", "0")
	w.WriteHeader(http.StatusOK)
	return nil
}

// partXML is one Part of a ListPartsResult; both APIs name its fields alike.
type partXML struct {
	PartNumber   int
	LastModified string
	ETag         string
	Size         int64
}

// partsPage is one page of ListParts: the parts after marker, at most max.
type partsPage struct {
	upload    *Upload
	parts     []*Part
	marker    int
	max       int
	next      int // NextPartNumberMarker: the last part listed
	truncated bool
}

// listPartsPage reads max-parts and part-number-marker (a part number up to
// maxPartNumber) and pages the upload's parts.
func listPartsPage(b *Backend, q url.Values, bucket, key, uploadID string, maxPartNumber int) (partsPage, error) {
	maxParts, err := clampedIntParam(q, "max-parts", 1000, 0, 1000)
	if err != nil {
		return partsPage{}, err
	}
	marker, err := clampedIntParam(q, "part-number-marker", 0, 0, maxPartNumber)
	if err != nil {
		return partsPage{}, err
	}
	parts, u, err := b.Parts(bucket, key, uploadID)
	if err != nil {
		return partsPage{}, err
	}
	pg := partsPage{upload: u, marker: marker, max: maxParts}
	for _, p := range parts {
		if p.Number <= marker {
			continue
		}
		if len(pg.parts) == maxParts {
			pg.truncated = true
			break
		}
		pg.parts = append(pg.parts, p)
		pg.next = p.Number
	}
	return pg, nil
}

// xml renders the page's parts with the provider's ETag quoting.
func (pg partsPage) xml(etag func(string) string) []partXML {
	var out []partXML
	for _, p := range pg.parts {
		out = append(out, partXML{PartNumber: p.Number, LastModified: isoTime(p.LastModified), ETag: etag(p.ETag), Size: p.Size})
	}
	return out
}

// completePartXML is one Part of a CompleteMultipartUpload request body.
type completePartXML struct {
	PartNumber int
	ETag       string
}

// completeUpload joins the listed parts under rules (the provider's minimum
// part size, and whether numbers must run without gaps).
func completeUpload(b *Backend, bucket, key, uploadID string, parts []completePartXML, rules CompleteRules) (*Object, error) {
	want := make([]CompletePart, len(parts))
	for i, p := range parts {
		want[i] = CompletePart{Number: p.PartNumber, ETag: p.ETag}
	}
	return b.CompleteUpload(bucket, key, uploadID, want, rules)
}

// completeResult is CompleteMultipartUploadResult; XMLName as in
// initiateResult.
type completeResult struct {
	XMLName  xml.Name
	Location string
	Bucket   string
	Key      string
	ETag     string
}

// abortUpload drops the upload and answers 204, as both APIs do.
func abortUpload(w http.ResponseWriter, b *Backend, bucket, key, uploadID string) error {
	if err := b.AbortUpload(bucket, key, uploadID); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// uploadsPage is one page of ListMultipartUploads. Keys are raw: the front
// end applies its encoding-type.
type uploadsPage struct {
	uploads                     []*Upload
	prefix, keyMarker, idMarker string
	max                         int
	truncated                   bool
	nextKey, nextID             string // set only when truncated
}

// listUploadsPage reads max-uploads, prefix and the markers, and pages the
// bucket's uploads.
func listUploadsPage(b *Backend, q url.Values, bucket string) (uploadsPage, error) {
	maxUploads, err := clampedIntParam(q, "max-uploads", 1000, 1, 1000)
	if err != nil {
		return uploadsPage{}, err
	}
	pg := uploadsPage{prefix: q.Get("prefix"), keyMarker: q.Get("key-marker"), idMarker: q.Get("upload-id-marker"), max: maxUploads}
	pg.uploads, pg.truncated, err = b.Uploads(bucket, pg.prefix, pg.keyMarker, pg.idMarker, maxUploads)
	if err != nil {
		return uploadsPage{}, err
	}
	if pg.truncated && len(pg.uploads) > 0 {
		last := pg.uploads[len(pg.uploads)-1]
		pg.nextKey, pg.nextID = last.Key, last.ID
	}
	return pg, nil
}
