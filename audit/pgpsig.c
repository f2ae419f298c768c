/*
 * audit/pgpsig.c — fast verification of checkpoint signatures.
 *
 * `relgate audit verify` checks every checkpoint signature (a million
 * records at checkpoint_every 1000 are a thousand signatures); one gpg
 * process per signature would take seconds. So the gateway's public key is
 * exported once (GPGME) and each detached signature is checked here with
 * OpenSSL: an OpenPGP v4 signature packet (RFC 4880 5.2.3) of type 0x00
 * by an EdDSA Ed25519 key (algorithm 22, the key gateway_pgp_ensure()
 * makes). Anything else answers RG_EUNSUPPORTED and the caller falls back
 * to gateway_pgp_verify(), i.e. to GnuPG itself.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "audit/audit_int.h"
#include "keys/keys.h"

#define KEYS_MAX	8
#define PKT_MAX		(64 * 1024)

static const unsigned char ed25519_oid[] = {
	0x2b, 0x06, 0x01, 0x04, 0x01, 0xda, 0x47, 0x0f, 0x01
};

struct pgp_verifier {
	EVP_PKEY *keys[KEYS_MAX];
	size_t	nkeys;
};

static int
b64val(int c)
{
	if (c >= 'A' && c <= 'Z') return c - 'A';
	if (c >= 'a' && c <= 'z') return c - 'a' + 26;
	if (c >= '0' && c <= '9') return c - '0' + 52;
	if (c == '+') return 62;
	if (c == '/') return 63;
	return -1;
}

/* Strip the armour: skip to the blank line after BEGIN, decode base64 up
 * to the "=CRC" line or END. The CRC is not needed: the signature (or the
 * key's own use) is what is checked. */
static int
dearmor(const char *in, size_t len, unsigned char **out, size_t *outlen)
{
	const char *p = in, *end = in + len, *line;
	unsigned char *o;
	unsigned int acc = 0;
	int bits = 0, v;
	size_t n = 0;

	if ((p = strstr(in, "-----BEGIN PGP ")) == NULL || p >= end)
		return RG_EPARSE;
	while (p < end && *p != '\n')	/* the BEGIN line */
		p++;
	/* Armour headers, up to the first empty line. */
	while (p < end) {
		p++;
		line = p;
		while (p < end && *p != '\n')
			p++;
		if (p == line || (p - line == 1 && line[0] == '\r')) {
			if (p < end)
				p++;
			break;
		}
	}
	if ((o = malloc(len)) == NULL)
		return RG_ENOMEM;
	for (; p < end; p++) {
		if (*p == '=' && (p == in || p[-1] == '\n'))
			break;		/* the CRC line */
		if (*p == '-')
			break;		/* END */
		if (*p == '=' || *p == '\r' || *p == '\n' || *p == ' ')
			continue;
		if ((v = b64val((unsigned char)*p)) < 0) {
			free(o);
			return RG_EPARSE;
		}
		acc = acc << 6 | (unsigned int)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			o[n++] = (unsigned char)(acc >> bits);
		}
	}
	*out = o;
	*outlen = n;
	return RG_OK;
}

/* One packet at *p: its tag, body and length; *p moves past it. */
static int
packet(const unsigned char **p, const unsigned char *end, int *tag,
    const unsigned char **body, size_t *blen)
{
	const unsigned char *q = *p;
	size_t len;
	int b;

	if (q >= end || !(*q & 0x80))
		return RG_EPARSE;
	b = *q++;
	if (b & 0x40) {
		*tag = b & 0x3f;
		if (q >= end)
			return RG_EPARSE;
		if (q[0] < 192) {
			len = q[0];
			q += 1;
		} else if (q[0] < 224) {
			if (end - q < 2)
				return RG_EPARSE;
			len = ((size_t)(q[0] - 192) << 8) + q[1] + 192;
			q += 2;
		} else if (q[0] == 255) {
			if (end - q < 5)
				return RG_EPARSE;
			len = (size_t)q[1] << 24 | (size_t)q[2] << 16 |
			    (size_t)q[3] << 8 | q[4];
			q += 5;
		} else {
			return RG_EUNSUPPORTED;	/* partial lengths */
		}
	} else {
		*tag = (b >> 2) & 0x0f;
		switch (b & 3) {
		case 0:
			if (end - q < 1)
				return RG_EPARSE;
			len = q[0];
			q += 1;
			break;
		case 1:
			if (end - q < 2)
				return RG_EPARSE;
			len = (size_t)q[0] << 8 | q[1];
			q += 2;
			break;
		case 2:
			if (end - q < 4)
				return RG_EPARSE;
			len = (size_t)q[0] << 24 | (size_t)q[1] << 16 |
			    (size_t)q[2] << 8 | q[3];
			q += 4;
			break;
		default:
			return RG_EUNSUPPORTED;
		}
	}
	if (len > PKT_MAX || (size_t)(end - q) < len)
		return RG_EPARSE;
	*body = q;
	*blen = len;
	*p = q + len;
	return RG_OK;
}

/* An MPI into a fixed-width big-endian field (left-padded). */
static int
mpi_fixed(const unsigned char **p, const unsigned char *end,
    unsigned char *out, size_t width)
{
	size_t bits, bytes;

	if (end - *p < 2)
		return RG_EPARSE;
	bits = (size_t)(*p)[0] << 8 | (*p)[1];
	bytes = (bits + 7) / 8;
	*p += 2;
	if (bytes > width || (size_t)(end - *p) < bytes)
		return RG_EPARSE;
	memset(out, 0, width - bytes);
	memcpy(out + width - bytes, *p, bytes);
	*p += bytes;
	return RG_OK;
}

static void
add_key(struct pgp_verifier *v, const unsigned char *b, size_t n)
{
	const unsigned char *p = b, *end = b + n;
	unsigned char pt[33];
	EVP_PKEY *k;

	/* v4, created(4), algo 22, OID, MPI of 0x40 || 32 bytes */
	if (n < 7 || b[0] != 4 || b[5] != 22 || v->nkeys == KEYS_MAX)
		return;
	p = b + 6;
	if ((size_t)(end - p) < 1 + sizeof(ed25519_oid) ||
	    p[0] != sizeof(ed25519_oid) ||
	    memcmp(p + 1, ed25519_oid, sizeof(ed25519_oid)) != 0)
		return;
	p += 1 + sizeof(ed25519_oid);
	if (mpi_fixed(&p, end, pt, sizeof(pt)) != 0 || pt[0] != 0x40)
		return;
	k = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pt + 1, 32);
	if (k != NULL)
		v->keys[v->nkeys++] = k;
}

void
audit_pgp_verifier_free(struct pgp_verifier *v)
{
	size_t i;

	if (v == NULL)
		return;
	for (i = 0; i < v->nkeys; i++)
		EVP_PKEY_free(v->keys[i]);
	free(v);
}

/* Load the gateway's public key(s) once (see audit_int.h); RG_EUNSUPPORTED
 * when the key is not an Ed25519 key this file can check. */
int
audit_pgp_verifier_new(struct pgp_verifier **out, const char *state_dir,
    struct diag *d)
{
	struct pgp_verifier *v;
	const unsigned char *p, *end, *body;
	unsigned char *bin = NULL;
	struct buf arm;
	size_t blen, n;
	int tag, rc;

	*out = NULL;
	buf_init(&arm, 1 << 20);
	if ((rc = gateway_pgp_export(state_dir, &arm, d)) != 0 ||
	    (rc = buf_cstr(&arm)) != 0) {
		buf_free(&arm);
		return rc;
	}
	rc = dearmor((char *)arm.data, arm.len, &bin, &n);
	buf_free(&arm);
	if (rc != 0)
		return rc;
	if ((v = calloc(1, sizeof(*v))) == NULL) {
		free(bin);
		return RG_ENOMEM;
	}
	p = bin;
	end = bin + n;
	while (p < end && packet(&p, end, &tag, &body, &blen) == 0)
		if (tag == 6 || tag == 14)
			add_key(v, body, blen);
	free(bin);
	if (v->nkeys == 0) {
		audit_pgp_verifier_free(v);
		return RG_EUNSUPPORTED;
	}
	*out = v;
	return RG_OK;
}

static const EVP_MD *
md_of(int algo)
{
	switch (algo) {
	case 8: return EVP_sha256();
	case 9: return EVP_sha384();
	case 10: return EVP_sha512();
	case 11: return EVP_sha224();
	default: return NULL;
	}
}

/* Check a detached armoured signature over data: 0 when good,
 * RG_EINTEGRITY when it does not verify, RG_EUNSUPPORTED when it is of a
 * kind this file does not check (ask GnuPG). */
int
audit_pgp_verify(struct pgp_verifier *v, const void *data, size_t len,
    const char *sig, size_t siglen)
{
	const unsigned char *p, *end, *body, *q, *qend;
	unsigned char *bin = NULL, dig[EVP_MAX_MD_SIZE], rs[64], trailer[6];
	unsigned int dlen = 0;
	EVP_MD_CTX *ctx = NULL;
	const EVP_MD *md;
	size_t n, blen, hlen, ulen, i;
	int tag, rc, good = 0;

	if ((rc = dearmor(sig, siglen, &bin, &n)) != 0)
		return rc == RG_ENOMEM ? rc : RG_EINTEGRITY;
	p = bin;
	end = bin + n;
	rc = RG_EINTEGRITY;
	if (packet(&p, end, &tag, &body, &blen) != 0 || tag != 2)
		goto out;
	if (p != end) {
		rc = RG_EUNSUPPORTED;	/* several signatures: ask GnuPG */
		goto out;
	}
	if (blen < 6 || body[0] != 4) {
		rc = body[0] != 4 ? RG_EUNSUPPORTED : RG_EINTEGRITY;
		goto out;
	}
	if (body[1] != 0x00)
		goto out;		/* not a binary-document signature */
	if (body[2] != 22 || (md = md_of(body[3])) == NULL) {
		rc = RG_EUNSUPPORTED;
		goto out;
	}
	hlen = (size_t)body[4] << 8 | body[5];
	if (6 + hlen + 2 > blen)
		goto out;
	q = body + 6 + hlen;
	qend = body + blen;
	ulen = (size_t)q[0] << 8 | q[1];
	q += 2;
	if ((size_t)(qend - q) < ulen + 2)
		goto out;
	q += ulen + 2;			/* unhashed, then left 16 bits */
	if (mpi_fixed(&q, qend, rs, 32) != 0 ||
	    mpi_fixed(&q, qend, rs + 32, 32) != 0 || q != qend)
		goto out;
	trailer[0] = 4;
	trailer[1] = 0xff;
	trailer[2] = (unsigned char)((6 + hlen) >> 24);
	trailer[3] = (unsigned char)((6 + hlen) >> 16);
	trailer[4] = (unsigned char)((6 + hlen) >> 8);
	trailer[5] = (unsigned char)(6 + hlen);
	if ((ctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(ctx, md, NULL) != 1 ||
	    EVP_DigestUpdate(ctx, data, len) != 1 ||
	    EVP_DigestUpdate(ctx, body, 6 + hlen) != 1 ||
	    EVP_DigestUpdate(ctx, trailer, sizeof(trailer)) != 1 ||
	    EVP_DigestFinal_ex(ctx, dig, &dlen) != 1) {
		rc = RG_ECRYPTO;
		goto out;
	}
	/* The quick check of the left 16 bits of the digest. */
	if (body[6 + hlen + 2 + ulen] != dig[0] ||
	    body[6 + hlen + 2 + ulen + 1] != dig[1])
		goto out;
	/* EdDSA in OpenPGP signs the digest itself. */
	for (i = 0; i < v->nkeys && !good; i++) {
		EVP_MD_CTX *vc = EVP_MD_CTX_new();

		if (vc != NULL &&
		    EVP_DigestVerifyInit(vc, NULL, NULL, NULL, v->keys[i]) == 1 &&
		    EVP_DigestVerify(vc, rs, 64, dig, dlen) == 1)
			good = 1;
		EVP_MD_CTX_free(vc);
	}
	rc = good ? RG_OK : RG_EINTEGRITY;
out:
	EVP_MD_CTX_free(ctx);
	free(bin);
	return rc;
}
