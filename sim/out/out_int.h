/* out_int.h - what out_h5.c (writing) and out_read.c (reading) share: the
 * checksum block at the head of every file (out.h, OUT_USERBLOCK). Private
 * to sim/out/. */
#ifndef SP_OUT_INT_H
#define SP_OUT_INT_H

#include <stdint.h>
#include <stdio.h>

/* The block for a body of size bytes with CRC-32 crc: the line, then zeros. */
void out_block_text(char head[], uint32_t crc, unsigned long long size);

/* CRC-32 and length of fp from its position to its end.
 * @return 0, or -1 on a read error */
int out_body_crc(FILE *fp, uint32_t *crc, unsigned long long *size);

#endif
