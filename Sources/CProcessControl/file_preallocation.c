#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include "file_preallocation.h"

#ifdef __linux__
int kms_preallocate_keep_size(int fd, long long offset, long long length) {
    return fallocate(fd, FALLOC_FL_KEEP_SIZE, (off_t)offset, (off_t)length);
}
#else
int kms_preallocate_keep_size(int fd, long long offset, long long length) {
    (void)fd; (void)offset; (void)length;
    errno = EOPNOTSUPP;
    return -1;
}
#endif
