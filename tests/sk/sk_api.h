/*
 * tests/sk/sk_api.h — OpenSSH's security-key middleware interface
 * ("sk-api", PROTOCOL.u2f) as the OpenSSH client of Debian 12 (9.2p1)
 * loads it with dlopen(): API version 10. The values and the struct
 * layouts must stay exactly as ssh-sk-helper expects them: it reads the
 * responses a provider returns and frees them with free().
 */
#ifndef RG_SK_API_H
#define RG_SK_API_H

#include <stddef.h>
#include <stdint.h>

/* flags of a key (enrolment) and of a signature */
#define SSH_SK_USER_PRESENCE_REQD 0x01
#define SSH_SK_USER_VERIFICATION_REQD 0x04
#define SSH_SK_FORCE_OPERATION 0x10
#define SSH_SK_RESIDENT_KEY 0x20

/* algorithms */
#define SSH_SK_ECDSA 0x00 /* NIST P-256 */
#define SSH_SK_ED25519 0x01

/* what the provider's functions return besides 0 */
#define SSH_SK_ERR_GENERAL -1
#define SSH_SK_ERR_UNSUPPORTED -2
#define SSH_SK_ERR_PIN_REQUIRED -3 /* ssh asks for a PIN, retries */
#define SSH_SK_ERR_DEVICE_NOT_FOUND -4
#define SSH_SK_ERR_CREDENTIAL_EXISTS -5

/* the major version must match the client's; the low 16 bits are free */
#define SSH_SK_VERSION_MAJOR 0x000a0000
#define SSH_SK_VERSION_MAJOR_MASK 0xffff0000

struct sk_enroll_response {
	uint8_t flags;	     /* the key's flags, kept in its file */
	uint8_t *public_key; /* P-256: uncompressed point; Ed25519: 32 bytes */
	size_t public_key_len;
	uint8_t *key_handle;
	size_t key_handle_len;
	uint8_t *signature; /* attestation signature (optional) */
	size_t signature_len;
	uint8_t *attestation_cert; /* (optional) */
	size_t attestation_cert_len;
	uint8_t *authdata; /* CBOR authenticator data (optional) */
	size_t authdata_len;
};

struct sk_sign_response {
	uint8_t flags;	  /* flags byte that was signed */
	uint32_t counter; /* counter that was signed */
	uint8_t *sig_r;	  /* ECDSA r (big endian); Ed25519: whole signature */
	size_t sig_r_len;
	uint8_t *sig_s; /* ECDSA s (big endian); Ed25519: unused */
	size_t sig_s_len;
};

struct sk_resident_key {
	uint32_t alg;
	size_t slot;
	char *application;
	struct sk_enroll_response key;
	uint8_t flags;
	uint8_t *user_id;
	size_t user_id_len;
};

/* NULL-terminated array; a provider must fail on an unknown option whose
 * `required` is set, and may ignore the others */
struct sk_option {
	char *name;
	char *value;
	uint8_t required;
};

uint32_t sk_api_version(void);
int sk_enroll(uint32_t alg, const uint8_t *challenge, size_t challenge_len,
    const char *application, uint8_t flags, const char *pin,
    struct sk_option **options, struct sk_enroll_response **enroll_response);
int sk_sign(uint32_t alg, const uint8_t *data, size_t data_len,
    const char *application, const uint8_t *key_handle, size_t key_handle_len,
    uint8_t flags, const char *pin, struct sk_option **options,
    struct sk_sign_response **sign_response);
int sk_load_resident_keys(const char *pin, struct sk_option **options,
    struct sk_resident_key ***rks, size_t *nrks);

#endif /* RG_SK_API_H */
