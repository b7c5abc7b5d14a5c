#ifndef KMS_PROCESS_CONTROL_H
#define KMS_PROCESS_CONTROL_H

/* prctl(2) is variadic, which Swift cannot call; these wrap the two calls kms needs. */

/* prctl(PR_SET_DUMPABLE, dumpable): 0 = no core dumps, no ptrace by other same-uid processes. */
int kms_set_dumpable(int dumpable);

/* prctl(PR_GET_DUMPABLE): 1 when dumpable, 0 when not, -1 on error. */
int kms_get_dumpable(void);

#endif
