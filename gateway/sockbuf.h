/*
 * gateway/sockbuf.h — large reads on a session's socket under libssh
 * (internal to gateway/; see sockbuf.c for why).
 */
#ifndef RELGATE_GATEWAY_SOCKBUF_H
#define RELGATE_GATEWAY_SOCKBUF_H

#include <stddef.h>

/* From now on recv() on fd is served from a 256 KiB buffer; 0 or -1. */
int sockbuf_attach(int fd);
/* Forget the socket and free the buffer. */
void sockbuf_detach(void);
/* Bytes read from the socket and not yet handed out. */
size_t sockbuf_pending(void);

#endif
