#ifndef KMS_FILE_PREALLOCATION_H
#define KMS_FILE_PREALLOCATION_H

/* fallocate(2) needs _GNU_SOURCE, which Swift's Glibc module is not built with. */

/* fallocate(fd, FALLOC_FL_KEEP_SIZE, offset, length): reserves blocks past the end of the
   file without changing its size. 0 on success, -1 with errno set. */
int kms_preallocate_keep_size(int fd, long long offset, long long length);

#endif
