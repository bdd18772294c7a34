#ifndef PGCASK_S3_CREDS_H
#define PGCASK_S3_CREDS_H

/*
 * AWS credentials, found the way the AWS SDKs look for them. Without an
 * explicit profile, the first source that has them wins:
 *   1. environment: AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY [+ AWS_SESSION_TOKEN]
 *   2. web identity: AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE [+ AWS_ROLE_SESSION_NAME],
 *      exchanged with STS AssumeRoleWithWebIdentity (AWS_ENDPOINT_URL_STS overrides
 *      https://sts.<region>.amazonaws.com)
 *   3. shared files: profile AWS_PROFILE (else "default") in ~/.aws/credentials
 *      (AWS_SHARED_CREDENTIALS_FILE) and ~/.aws/config (AWS_CONFIG_FILE, [profile NAME]):
 *      static keys, or role_arn + web_identity_token_file
 *   4. container: AWS_CONTAINER_CREDENTIALS_FULL_URI or _RELATIVE_URI
 *      (+ AWS_CONTAINER_AUTHORIZATION_TOKEN[_FILE])
 *   5. EC2 instance metadata (IMDSv2) unless AWS_EC2_METADATA_DISABLED=true;
 *      AWS_EC2_METADATA_SERVICE_ENDPOINT overrides http://169.254.169.254
 * With an explicit profile only that profile is used. Temporary credentials
 * are refreshed 5 minutes before they expire; a provider is thread-safe.
 * Secrets are never logged nor put into messages; only the source is named.
 */

#include <stddef.h>
#include <stdint.h>
#include "common/status.h"

typedef struct s3_creds s3_creds;

/* A copy of the current credentials for one request; wipe it after use. */
typedef struct s3_cred {
    char access_key[128];
    char secret_key[128];
    char token[8192]; /* "" when none */
} s3_cred;

/*
 * Find credentials now. profile: the explicit profile or NULL; region: for
 * the STS endpoint. PC_E_AUTH "no S3 credentials found" (with a hint listing
 * the sources) when there are none, or naming the source that failed.
 */
pc_status s3_creds_new(const char *profile, const char *region, s3_creds **out);
void s3_creds_free(s3_creds *c); /* NULL is a no-op */

/* Copy the current credentials, refreshing temporary ones that expire within 5 minutes. */
pc_status s3_creds_get(s3_creds *c, s3_cred *out);
void s3_cred_wipe(s3_cred *c);

/* Where they came from: "environment", "profile \"x\" (~/.aws/credentials)", ... */
const char *s3_creds_source(const s3_creds *c);
/* Epoch seconds of expiry, 0 for credentials that do not expire. */
int64_t s3_creds_expiry(s3_creds *c);

#endif
