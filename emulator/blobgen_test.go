package emulator

import (
	"bytes"
	"io"
	"testing"
)

// TestGeneratedBlobContentStable pins the content of generated objects of
// odd sizes to whole 64 KiB blocks filled and cut, as every earlier version
// made them: data sets stay the same whatever the reader fills.
func TestGeneratedBlobContentStable(t *testing.T) {
	for _, size := range []int64{0, 1, 7, 8, 9, 4096, 4097, genBlock - 1, genBlock, genBlock + 5, 3*genBlock + 12345} {
		var want []byte
		for idx := int64(0); idx*genBlock < size; idx++ {
			block := make([]byte, genBlock)
			fillBlock(block, 77, idx)
			want = append(want, block...)
		}
		want = want[:size]
		rc, err := GeneratedBlob(77, size).Open(0, size)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(rc)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("size %d: generated content differs from whole blocks cut to size", size)
		}
		if size > 10 {
			rc, err := GeneratedBlob(77, size).Open(size-10, 10)
			if err != nil {
				t.Fatal(err)
			}
			tail, _ := io.ReadAll(rc)
			if !bytes.Equal(tail, want[size-10:]) {
				t.Errorf("size %d: the last 10 bytes differ", size)
			}
		}
	}
}
