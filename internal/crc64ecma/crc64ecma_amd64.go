//go:build !purego

package crc64ecma

import "golang.org/x/sys/cpu"

var hasCLMUL = cpu.X86.HasPCLMULQDQ && cpu.X86.HasSSE41

// updateCLMUL continues crc over p, whose length is a positive multiple
// of 128, with the folding constants k.
//
//go:noescape
func updateCLMUL(crc uint64, p []byte, k *[18]uint64) uint64
