#include "process_control.h"

#ifdef __linux__
#include <sys/prctl.h>

int kms_set_dumpable(int dumpable) { return prctl(PR_SET_DUMPABLE, (unsigned long)dumpable, 0UL, 0UL, 0UL); }
int kms_get_dumpable(void) { return prctl(PR_GET_DUMPABLE, 0UL, 0UL, 0UL, 0UL); }
#else
int kms_set_dumpable(int dumpable) { (void)dumpable; return 0; }
int kms_get_dumpable(void) { return -1; }
#endif
