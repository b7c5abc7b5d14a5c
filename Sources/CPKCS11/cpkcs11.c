#include "cpkcs11.h"
#include <dlfcn.h>
#include <stdio.h>

typedef CK_RV (*get_function_list_fn)(CK_FUNCTION_LIST **);

/* Swift cannot cast a dlsym result to a C function pointer type safely; C can. */
void *cpkcs11_load(const char *path, CK_FUNCTION_LIST **list, char *err, unsigned long errlen) {
  void *handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (handle == NULL) {
    const char *why = dlerror();
    snprintf(err, errlen, "%s", why ? why : "dlopen failed");
    return NULL;
  }
  get_function_list_fn get = (get_function_list_fn)dlsym(handle, "C_GetFunctionList");
  if (get == NULL) {
    snprintf(err, errlen, "%s has no C_GetFunctionList: not a PKCS#11 module", path);
    dlclose(handle);
    return NULL;
  }
  CK_RV rv = get(list);
  if (rv != CKR_OK || *list == NULL) {
    snprintf(err, errlen, "C_GetFunctionList failed (CKR 0x%lx)", rv);
    dlclose(handle);
    return NULL;
  }
  return handle;
}

void cpkcs11_unload(void *handle) {
  if (handle != NULL) dlclose(handle);
}
