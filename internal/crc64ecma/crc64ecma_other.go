//go:build !amd64 || purego

package crc64ecma

const hasCLMUL = false

func updateCLMUL(uint64, []byte, *[18]uint64) uint64 {
	panic("crc64ecma: no carry-less multiplication")
}
