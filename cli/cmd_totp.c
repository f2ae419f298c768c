/*
 * relgate totp — one-time codes for the `totp` factor:
 *   enroll USER [--force]   make a secret, print the otpauth:// URI, the
 *                           same as a QR code, and the base32 secret
 *   reset USER              remove the secret
 * The secret lives in STATE_DIR/auth/ (relgate.yaml's state_dir); relgated
 * reads it at each login, so both take effect without a restart. Exit 0
 * done, 1 refused (enrolled already, not enrolled), 2 could not run (bad
 * usage, no such user, storage or audit failure).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <qrencode.h>

#include "cli/cli.h"
#include "contracts/contracts.h"
#include "keys/keys.h"

#define TOTP_ISSUER	"relgate"
#define QR_QUIET	4	/* modules of light margin: the QR standard's */

static void
totp_usage(FILE *f)
{
	fprintf(f, "usage: relgate [-c DIR] totp enroll USER [--force]\n"
	    "       relgate [-c DIR] totp reset USER\n"
	    "enroll makes a TOTP secret for USER (users/USER.yaml in DIR) and\n"
	    "prints it for an authenticator app; --force replaces one.\n"
	    "reset removes it.\n");
}

/* Dark module at (x, y)? Outside the symbol is the light quiet zone. */
static int
qr_dark(const QRcode *qr, int x, int y)
{
	if (x < 0 || y < 0 || x >= qr->width || y >= qr->width)
		return 0;
	return qr->data[y * qr->width + x] & 1;
}

/*
 * Draw qr with Unicode half blocks, two module rows per text line, inside
 * a quiet zone. On a terminal every cell gets explicit colours (black on
 * bright white), so a phone reads it off a dark or a light background
 * alike; elsewhere (a file, a pipe, NO_COLOR) light modules are blocks,
 * as `qrencode -t UTF8` draws them.
 */
static void
qr_draw(FILE *f, const QRcode *qr, int color)
{
	static const char *const glyph[4] = {
		/* light modules drawn: none, bottom, top, both */
		" ", "\xe2\x96\x84", "\xe2\x96\x80", "\xe2\x96\x88"
	};
	int x, y, top, bot, lo = -QR_QUIET, hi = qr->width + QR_QUIET;

	for (y = lo; y < hi; y += 2) {
		for (x = lo; x < hi; x++) {
			top = qr_dark(qr, x, y);
			bot = y + 1 < hi ? qr_dark(qr, x, y + 1) : 0;
			if (color)
				/* upper half block: fg paints the top
				 * module, bg the bottom one */
				fprintf(f, "\033[%d;%dm\xe2\x96\x80",
				    top ? 30 : 97, bot ? 40 : 107);
			else
				fputs(glyph[(!top << 1) | !bot], f);
		}
		fputs(color ? "\033[0m\n" : "\n", f);
	}
}

static int
totp_enroll(const struct cli_global *g, const char *user, int force)
{
	struct gateway_config cfg;
	char b32[64], uri[1024], why[1200];
	struct diag d;
	QRcode *qr;
	int rc, color;

	if ((rc = cli_auth_setup(g, "totp", user, &cfg)) != 0)
		return rc;
	diag_clear(&d);
	rc = auth_totp_enroll(cfg.state_dir, user, force, b32, sizeof(b32),
	    &d);
	if (rc == RG_EEXIST) {
		fprintf(stderr, "relgate totp: %s is enrolled already; "
		    "'relgate totp enroll %s --force' replaces the secret (the "
		    "old one stops working)\n", user, user);
		return 1;
	}
	if (rc != RG_OK) {
		diag_format(&d, why, sizeof(why));
		fprintf(stderr, "relgate totp: cannot store the secret: %s\n",
		    why[0] != '\0' ? why : rg_strerror(rc));
		return 2;
	}
	if ((rc = totp_uri(uri, sizeof(uri), TOTP_ISSUER, user, b32,
	    cfg.totp_digits, cfg.totp_period)) != RG_OK ||
	    cli_auth_audit("totp", cfg.state_dir, "auth.enrolled", "ok", user,
	    "totp") != 0) {
		if (rc != RG_OK)
			fprintf(stderr, "relgate totp: cannot make the URI: "
			    "%s\n", rg_strerror(rc));
		/* not audited, so not enrolled: take the secret back */
		diag_clear(&d);
		if (auth_totp_reset(cfg.state_dir, user, &d) != RG_OK)
			fprintf(stderr, "relgate totp: and cannot remove the "
			    "new secret again: %s\n", d.msg);
		else
			fprintf(stderr, "relgate totp: %s is not enrolled\n",
			    user);
		rg_wipe(b32, sizeof(b32));
		rg_wipe(uri, sizeof(uri));
		return 2;
	}

	color = isatty(STDOUT_FILENO) && getenv("NO_COLOR") == NULL;
	printf("%s\n\n", uri);
	qr = QRcode_encodeString(uri, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
	if (qr != NULL) {
		qr_draw(stdout, qr, color);
		QRcode_free(qr);
		printf("\n");
	} else
		fprintf(stderr, "relgate totp: cannot draw the QR code; enter "
		    "the URI or the secret by hand\n");
	printf("secret: %s\n", b32);
	printf("(TOTP, SHA-1, %d digits, every %d seconds)\n",
	    cfg.totp_digits, cfg.totp_period);
	rg_wipe(b32, sizeof(b32));
	rg_wipe(uri, sizeof(uri));
	if (fflush(stdout) != 0)
		return 2;
	fprintf(stderr, "relgate totp: enrolled %s: add it to an authenticator "
	    "app now; it is in force from the next login\n", user);
	return 0;
}

static int
totp_reset(const struct cli_global *g, const char *user)
{
	struct gateway_config cfg;
	unsigned char secret[64];
	char why[1200], detail[700];
	struct diag d;
	size_t len;
	int rc;

	if ((rc = cli_auth_setup(g, "totp", user, &cfg)) != 0)
		return rc;
	diag_clear(&d);
	rc = auth_totp_secret(cfg.state_dir, user, secret, sizeof(secret),
	    &len, &d);
	rg_wipe(secret, sizeof(secret));
	if (rc == RG_ENOENT) {
		fprintf(stderr, "relgate totp: %s is not enrolled\n", user);
		return 1;
	}
	/* (A secret that cannot be read, wrong mode or damaged, can still
	 * go.) The record comes first: the removal happens only once it is
	 * durable. */
	if (cli_auth_audit("totp", cfg.state_dir, "auth.reset", "ok", user,
	    "totp") != 0)
		return 2;
	diag_clear(&d);
	rc = auth_totp_reset(cfg.state_dir, user, &d);
	if (rc == RG_OK) {
		printf("relgate totp: removed the TOTP secret of %s\n", user);
		return fflush(stdout) != 0 ? 2 : 0;
	}
	diag_format(&d, why, sizeof(why));
	fprintf(stderr, "relgate totp: cannot remove the secret of %s: %s\n",
	    user, why[0] != '\0' ? why : rg_strerror(rc));
	snprintf(detail, sizeof(detail), "totp: not removed: %.600s", why);
	(void)cli_auth_audit("totp", cfg.state_dir, "auth.reset", "failed",
	    user, detail);
	return rc == RG_ENOENT ? 1 : 2;
}

/* relgate totp enroll|reset USER */
int
cmd_totp(const struct cli_global *g, int argc, char **argv)
{
	const char *sub = NULL, *user = NULL;
	int i, force = 0;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-h") == 0 ||
		    strcmp(argv[i], "--help") == 0) {
			totp_usage(stdout);
			return 0;
		} else if (strcmp(argv[i], "--force") == 0)
			force = 1;
		else if (argv[i][0] == '-' && argv[i][1] != '\0') {
			fprintf(stderr, "relgate totp: unknown option '%s'\n",
			    argv[i]);
			totp_usage(stderr);
			return 2;
		} else if (sub == NULL)
			sub = argv[i];
		else if (user == NULL)
			user = argv[i];
		else {
			fprintf(stderr, "relgate totp: unexpected argument "
			    "'%s'\n", argv[i]);
			totp_usage(stderr);
			return 2;
		}
	}
	if (sub == NULL || user == NULL) {
		totp_usage(stderr);
		return 2;
	}
	if (strcmp(sub, "enroll") == 0)
		return totp_enroll(g, user, force);
	if (strcmp(sub, "reset") == 0 && !force)
		return totp_reset(g, user);
	fprintf(stderr, "relgate totp: %s\n", strcmp(sub, "reset") == 0 ?
	    "reset takes no --force" : "unknown command (enroll or reset)");
	totp_usage(stderr);
	return 2;
}
