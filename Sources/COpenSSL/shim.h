#ifndef KMS_COPENSSL_SHIM_H
#define KMS_COPENSSL_SHIM_H
/* SHA256_Init/Update/Final are deprecated in OpenSSL 3 in favour of EVP, but they are the
   allocation-free way to keep and copy a keyed HMAC state (SigV4 does it per request). */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/evp.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/core_names.h>
#include <openssl/param_build.h>
#include <openssl/x509.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#endif
