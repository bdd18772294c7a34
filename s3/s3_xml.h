#ifndef PGCASK_S3_XML_H
#define PGCASK_S3_XML_H

/*
 * The XML that S3 and STS send, read with expat as it arrives. The parser
 * reports each element as it closes, with its path of local names from the
 * root ("ListBucketResult/Contents/Key") and its text; a record element
 * ("ListBucketResult/Contents") is reported after its children, so it marks
 * the end of a record. Namespace prefixes are dropped. Limits keep an
 * untrusted reply from eating memory: element text up to 64 KiB, depth 32,
 * no DOCTYPE.
 */

#include <stdbool.h>
#include <stddef.h>
#include "common/buf.h"
#include "common/status.h"

typedef struct s3_xml s3_xml;

/* Return non-PC_OK to stop parsing; that status comes back from feed/finish. */
typedef pc_status (*s3_xml_cb)(void *ud, const char *path, const char *text, size_t len);

/* `what` names the document in messages ("ListObjectsV2 reply"); copied. */
pc_status s3_xml_new(const char *what, s3_xml_cb cb, void *ud, s3_xml **out);
/* PC_E_REMOTE "malformed XML in <what>: <reason>" on bad input. */
pc_status s3_xml_feed(s3_xml *x, const void *data, size_t len);
pc_status s3_xml_finish(s3_xml *x);
void s3_xml_free(s3_xml *x); /* NULL is a no-op */

/* Parse a whole document. */
pc_status s3_xml_parse(const void *data, size_t len, const char *what, s3_xml_cb cb, void *ud);

/*
 * Code and Message of an S3 error document (<Error><Code>..</Code>...), or
 * of STS's <ErrorResponse><Error>..; false when the body is not one.
 */
bool s3_xml_error(const void *body, size_t len, char *code, size_t codelen, char *msg,
                  size_t msglen);

/* Append s with & < > " ' escaped. */
pc_status s3_xml_escape(pc_buf *b, const char *s);

#endif
