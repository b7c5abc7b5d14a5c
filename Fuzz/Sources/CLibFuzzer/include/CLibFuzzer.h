// libFuzzer's driver entry point (compiler-rt, FuzzerInterface.h), declared for Swift.
//
// SwiftPM links every executable with `main` aliased to the module's own entry point,
// so libFuzzer's `main` is never the one that runs; each target's top-level code calls
// this instead, with the command line, and libFuzzer runs as usual.
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*UserCb)(const uint8_t *Data, size_t Size));
