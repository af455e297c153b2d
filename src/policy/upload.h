/* upload.h - the signature an owner puts on a table upload (HAPI_PUT), beside the job,
 * key-grant and object-key signatures of mc2/job.h: the owner's client signs, mc2d checks it
 * before it stores the file under the owner's name (so mc2d needs no client code).
 *
 *   signed message = "mc2 upload v1" || 0 || owner || 0 || table name || 0 || SHA-256(file)
 *
 * Ed25519 with the party's identity key. Not part of the installed API. */
#ifndef MC2_POLICY_UPLOAD_H
#define MC2_POLICY_UPLOAD_H

#include <stdint.h>

#include "mc2/err.h"

int mc2_upload_sign(const uint8_t sec[32], const char *owner, const char *name,
                    const uint8_t file_hash[32], uint8_t sig[64], mc2_err *err) MC2_WUR;
/* 0 if sig is pub's signature over the upload message; MC2_E_AUTH (or a format error) else. */
int mc2_upload_verify(const uint8_t pub[32], const char *owner, const char *name,
                      const uint8_t file_hash[32], const uint8_t sig[64], mc2_err *err) MC2_WUR;

#endif
