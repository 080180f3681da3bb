package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"
)

// The raw ceiling: the least a copy can do over HTTP, with no SDK. A lister
// pages through the source (OSS ListObjects, V1-signed by hand) while N
// goroutines GET each object from the OSS front end and stream the body
// straight into a PUT to the COS front end (q-sign by hand), checking only
// that the destination's CRC64 header equals the source's. It runs as a
// child process (bench -raw-child) so that its peak RSS is measured like the
// others'.

type rawConfig struct {
	ossURL, cosURL       string
	ossKey, ossSecret    string
	cosID, cosKey        string
	srcBucket, dstBucket string
	workers              int
}

type rawStats struct {
	objects, bytes atomic.Int64
}

func runRaw(ctx context.Context, rc rawConfig) (int64, int64, error) {
	tr := &http.Transport{
		MaxIdleConns:        rc.workers * 4,
		MaxIdleConnsPerHost: rc.workers * 2,
		DisableCompression:  true,
		IdleConnTimeout:     90 * time.Second,
	}
	hc := &http.Client{Transport: tr}
	keys := make(chan string, 4000)
	var st rawStats
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		defer close(keys)
		return rawList(gctx, hc, rc, keys)
	})
	for range rc.workers {
		g.Go(func() error {
			for key := range keys {
				n, err := rawCopy(gctx, hc, rc, key)
				if err != nil {
					return fmt.Errorf("%q: %w", key, err)
				}
				st.objects.Add(1)
				st.bytes.Add(n)
			}
			return nil
		})
	}
	err := g.Wait()
	return st.objects.Load(), st.bytes.Load(), err
}

// ossSignV1 signs a request with no Content-MD5 and no x-oss-* headers.
func ossSignV1(req *http.Request, rc rawConfig, resource string) {
	date := time.Now().UTC().Format(http.TimeFormat)
	req.Header.Set("Date", date)
	mac := hmac.New(sha1.New, []byte(rc.ossSecret))
	fmt.Fprintf(mac, "%s\n\n%s\n%s\n%s", req.Method, req.Header.Get("Content-Type"), date, resource)
	req.Header.Set("Authorization", "OSS "+rc.ossKey+":"+base64.StdEncoding.EncodeToString(mac.Sum(nil)))
}

// cosSign signs a request over its method and path only (no signed
// parameters or headers), as COS allows.
func cosSign(req *http.Request, rc rawConfig) {
	now := time.Now().Unix()
	span := fmt.Sprintf("%d;%d", now-60, now+3600)
	hmacHex := func(key, msg string) string {
		m := hmac.New(sha1.New, []byte(key))
		m.Write([]byte(msg))
		return hex.EncodeToString(m.Sum(nil))
	}
	sum := sha1.Sum([]byte(fmt.Sprintf("%s\n%s\n\n\n", "put", req.URL.Path)))
	sig := hmacHex(hmacHex(rc.cosKey, span), "sha1\n"+span+"\n"+hex.EncodeToString(sum[:])+"\n")
	req.Header.Set("Authorization", "q-sign-algorithm=sha1&q-ak="+rc.cosID+"&q-sign-time="+span+"&q-key-time="+span+
		"&q-header-list=&q-url-param-list=&q-signature="+sig)
}

type rawListing struct {
	IsTruncated bool   `xml:"IsTruncated"`
	NextMarker  string `xml:"NextMarker"`
	Contents    []struct {
		Key string `xml:"Key"`
	} `xml:"Contents"`
}

func rawList(ctx context.Context, hc *http.Client, rc rawConfig, keys chan<- string) error {
	marker := ""
	for {
		q := url.Values{"max-keys": {"1000"}, "encoding-type": {"url"}}
		if marker != "" {
			q.Set("marker", marker)
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, rc.ossURL+"/"+rc.srcBucket+"/?"+q.Encode(), nil)
		if err != nil {
			return err
		}
		ossSignV1(req, rc, "/"+rc.srcBucket+"/")
		resp, err := hc.Do(req)
		if err != nil {
			return fmt.Errorf("list: %w", err)
		}
		var page rawListing
		err = xml.NewDecoder(resp.Body).Decode(&page)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			return fmt.Errorf("list: status %d: %v", resp.StatusCode, err)
		}
		for _, c := range page.Contents {
			k, err := url.QueryUnescape(c.Key)
			if err != nil {
				return err
			}
			select {
			case keys <- k:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		if !page.IsTruncated {
			return nil
		}
		if marker, err = url.QueryUnescape(page.NextMarker); err != nil {
			return err
		}
	}
}

var errCRC = errors.New("CRC64 differs")

func rawCopy(ctx context.Context, hc *http.Client, rc rawConfig, key string) (int64, error) {
	src := &url.URL{Scheme: "http", Host: hostOf(rc.ossURL), Path: "/" + rc.srcBucket + "/" + key}
	get, err := http.NewRequestWithContext(ctx, http.MethodGet, src.String(), nil)
	if err != nil {
		return 0, err
	}
	ossSignV1(get, rc, "/"+rc.srcBucket+"/"+key)
	resp, err := hc.Do(get)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("GET: status %d", resp.StatusCode)
	}
	dst := &url.URL{Scheme: "http", Host: hostOf(rc.cosURL), Path: "/" + rc.dstBucket + "/" + key}
	put, err := http.NewRequestWithContext(ctx, http.MethodPut, dst.String(), resp.Body)
	if err != nil {
		return 0, err
	}
	put.ContentLength = resp.ContentLength
	cosSign(put, rc)
	presp, err := hc.Do(put)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, presp.Body)
	presp.Body.Close()
	if presp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("PUT: status %d", presp.StatusCode)
	}
	if s, d := resp.Header.Get("x-oss-hash-crc64ecma"), presp.Header.Get("x-cos-hash-crc64ecma"); s == "" || s != d {
		return 0, fmt.Errorf("%w: source %q, destination %q", errCRC, s, d)
	}
	return resp.ContentLength, nil
}

func hostOf(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return u
	}
	return p.Host
}

// rawChild is the body of `bench -raw-child`: it copies and prints one line
// the parent parses.
func rawChild(ctx context.Context, rc rawConfig) error {
	start := time.Now()
	n, b, err := runRaw(ctx, rc)
	if err != nil {
		return err
	}
	fmt.Printf("raw: objects=%d bytes=%d seconds=%s\n", n, b, strconv.FormatFloat(time.Since(start).Seconds(), 'f', 3, 64))
	return nil
}
