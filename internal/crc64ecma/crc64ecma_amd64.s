//go:build !purego

#include "textflag.h"

// func updateCLMUL(crc uint64, p []byte, k *[18]uint64) uint64
//
// X0-X7 are eight 16-byte lanes of the input. Each round multiplies every
// lane's quadwords by x^(1024+64) and x^1024 (k[0], k[1]) and adds the next
// 128 bytes; the lanes are then folded into X7 over their distances to it,
// X7 into 64 bits, and Barrett reduction leaves the CRC.
TEXT ·updateCLMUL(SB), NOSPLIT, $0-48
	MOVQ crc+0(FP), AX
	MOVQ p_base+8(FP), SI
	MOVQ p_len+16(FP), CX
	MOVQ k+32(FP), DX
	NOTQ AX
	SHRQ $7, CX
	MOVOU 0(SI), X0
	MOVOU 16(SI), X1
	MOVOU 32(SI), X2
	MOVOU 48(SI), X3
	MOVOU 64(SI), X4
	MOVOU 80(SI), X5
	MOVOU 96(SI), X6
	MOVOU 112(SI), X7
	MOVQ  AX, X8
	PXOR  X8, X0
	ADDQ  $128, SI
	DECQ  CX
	JZ    reduce
	MOVOU 0(DX), X8

loop:
	MOVOA     X0, X9
	PCLMULQDQ $0x00, X8, X9
	PCLMULQDQ $0x11, X8, X0
	MOVOU     0(SI), X10
	PXOR      X9, X0
	PXOR      X10, X0
	MOVOA     X1, X9
	PCLMULQDQ $0x00, X8, X9
	PCLMULQDQ $0x11, X8, X1
	MOVOU     16(SI), X10
	PXOR      X9, X1
	PXOR      X10, X1
	MOVOA     X2, X9
	PCLMULQDQ $0x00, X8, X9
	PCLMULQDQ $0x11, X8, X2
	MOVOU     32(SI), X10
	PXOR      X9, X2
	PXOR      X10, X2
	MOVOA     X3, X9
	PCLMULQDQ $0x00, X8, X9
	PCLMULQDQ $0x11, X8, X3
	MOVOU     48(SI), X10
	PXOR      X9, X3
	PXOR      X10, X3
	MOVOA     X4, X9
	PCLMULQDQ $0x00, X8, X9
	PCLMULQDQ $0x11, X8, X4
	MOVOU     64(SI), X10
	PXOR      X9, X4
	PXOR      X10, X4
	MOVOA     X5, X9
	PCLMULQDQ $0x00, X8, X9
	PCLMULQDQ $0x11, X8, X5
	MOVOU     80(SI), X10
	PXOR      X9, X5
	PXOR      X10, X5
	MOVOA     X6, X9
	PCLMULQDQ $0x00, X8, X9
	PCLMULQDQ $0x11, X8, X6
	MOVOU     96(SI), X10
	PXOR      X9, X6
	PXOR      X10, X6
	MOVOA     X7, X9
	PCLMULQDQ $0x00, X8, X9
	PCLMULQDQ $0x11, X8, X7
	MOVOU     112(SI), X10
	PXOR      X9, X7
	PXOR      X10, X7
	ADDQ $128, SI
	DECQ CX
	JNZ  loop

reduce:
	MOVOU     16(DX), X8
	MOVOA     X0, X9
	PCLMULQDQ $0x00, X8, X9
	PCLMULQDQ $0x11, X8, X0
	PXOR      X9, X7
	PXOR      X0, X7
	MOVOU     32(DX), X8
	MOVOA     X1, X9
	PCLMULQDQ $0x00, X8, X9
	PCLMULQDQ $0x11, X8, X1
	PXOR      X9, X7
	PXOR      X1, X7
	MOVOU     48(DX), X8
	MOVOA     X2, X9
	PCLMULQDQ $0x00, X8, X9
	PCLMULQDQ $0x11, X8, X2
	PXOR      X9, X7
	PXOR      X2, X7
	MOVOU     64(DX), X8
	MOVOA     X3, X9
	PCLMULQDQ $0x00, X8, X9
	PCLMULQDQ $0x11, X8, X3
	PXOR      X9, X7
	PXOR      X3, X7
	MOVOU     80(DX), X8
	MOVOA     X4, X9
	PCLMULQDQ $0x00, X8, X9
	PCLMULQDQ $0x11, X8, X4
	PXOR      X9, X7
	PXOR      X4, X7
	MOVOU     96(DX), X8
	MOVOA     X5, X9
	PCLMULQDQ $0x00, X8, X9
	PCLMULQDQ $0x11, X8, X5
	PXOR      X9, X7
	PXOR      X5, X7
	MOVOU     112(DX), X8
	MOVOA     X6, X9
	PCLMULQDQ $0x00, X8, X9
	PCLMULQDQ $0x11, X8, X6
	PXOR      X9, X7
	PXOR      X6, X7

	// 16 bytes into 8: lo(X7) * x^127, plus hi(X7).
	MOVQ      120(DX), X8
	MOVOA     X7, X9
	PCLMULQDQ $0x00, X8, X9
	PSRLDQ    $8, X7
	PXOR      X7, X9

	// Barrett: t1 = lo(X9) * mu; X9 += lo(t1) * P + lo(t1) << 64.
	MOVQ      128(DX), X8
	MOVOA     X9, X10
	PCLMULQDQ $0x00, X8, X10
	MOVQ      136(DX), X11
	MOVOA     X10, X12
	PCLMULQDQ $0x00, X11, X12
	PSLLDQ    $8, X10
	PXOR      X10, X9
	PXOR      X12, X9
	PEXTRQ    $1, X9, AX
	NOTQ      AX
	MOVQ      AX, ret+40(FP)
	RET
