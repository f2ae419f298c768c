/*
 * gateway/sandbox.c — the hook where a session process confines itself
 * after the privilege drop, before it parses a single SFTP packet.
 *
 * Backend today: none. sandbox_apply() is a documented no-op that only
 * sets PR_SET_NO_NEW_PRIVS (harmless and cheap). A later issue adds the
 * real backends here and nowhere else: Landlock (read/write beneath
 * view_root and STATE_DIR/queue only) and a seccomp-bpf allowlist of the
 * system calls the SSH transport and the SFTP layer use. session.c calls
 * sandbox_apply() once, after privdrop_apply(); a failure there ends the
 * session.
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/prctl.h>

#include "gateway/gateway.h"

/* Confine the calling session process. No-op backend; RG_OK. */
int
sandbox_apply(const char *view_root, struct diag *d)
{
	(void)view_root;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		return diag_set(d, RG_EPERM, NULL, 0, 0,
		    "PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
	return RG_OK;
}
