#ifndef KMS_CPKCS11_H
#define KMS_CPKCS11_H
/* The subset of PKCS#11 v2.40 (OASIS) that swift-kms uses, written by hand so the build needs
   no pkcs11 header package: the types, CK_FUNCTION_LIST in the standard's exact order (every
   slot must be there for the offsets to match; the ones kms never calls are plain pointers),
   and the constants kms uses. Modules are loaded at run time with dlopen (cpkcs11_load). */

typedef unsigned char CK_BYTE;
typedef unsigned char CK_BBOOL;
typedef unsigned char CK_UTF8CHAR;
typedef unsigned long CK_ULONG;
typedef CK_ULONG CK_RV;
typedef CK_ULONG CK_FLAGS;
typedef CK_ULONG CK_SLOT_ID;
typedef CK_ULONG CK_SESSION_HANDLE;
typedef CK_ULONG CK_OBJECT_HANDLE;
typedef CK_ULONG CK_USER_TYPE;
typedef CK_ULONG CK_ATTRIBUTE_TYPE;
typedef CK_ULONG CK_MECHANISM_TYPE;
typedef CK_ULONG CK_OBJECT_CLASS;
typedef CK_ULONG CK_KEY_TYPE;

typedef struct CK_VERSION { CK_BYTE major; CK_BYTE minor; } CK_VERSION;

typedef struct CK_TOKEN_INFO {
  CK_UTF8CHAR label[32];
  CK_UTF8CHAR manufacturerID[32];
  CK_UTF8CHAR model[16];
  CK_BYTE serialNumber[16];
  CK_FLAGS flags;
  CK_ULONG ulMaxSessionCount;
  CK_ULONG ulSessionCount;
  CK_ULONG ulMaxRwSessionCount;
  CK_ULONG ulRwSessionCount;
  CK_ULONG ulMaxPinLen;
  CK_ULONG ulMinPinLen;
  CK_ULONG ulTotalPublicMemory;
  CK_ULONG ulFreePublicMemory;
  CK_ULONG ulTotalPrivateMemory;
  CK_ULONG ulFreePrivateMemory;
  CK_VERSION hardwareVersion;
  CK_VERSION firmwareVersion;
  CK_BYTE utcTime[16];
} CK_TOKEN_INFO;

typedef struct CK_ATTRIBUTE {
  CK_ATTRIBUTE_TYPE type;
  void *pValue;
  CK_ULONG ulValueLen;
} CK_ATTRIBUTE;

typedef struct CK_MECHANISM {
  CK_MECHANISM_TYPE mechanism;
  void *pParameter;
  CK_ULONG ulParameterLen;
} CK_MECHANISM;

typedef struct CK_GCM_PARAMS {
  CK_BYTE *pIv;
  CK_ULONG ulIvLen;
  CK_ULONG ulIvBits;
  CK_BYTE *pAAD;
  CK_ULONG ulAADLen;
  CK_ULONG ulTagBits;
} CK_GCM_PARAMS;

typedef struct CK_C_INITIALIZE_ARGS {
  void *CreateMutex;
  void *DestroyMutex;
  void *LockMutex;
  void *UnlockMutex;
  CK_FLAGS flags;
  void *pReserved;
} CK_C_INITIALIZE_ARGS;

typedef struct CK_FUNCTION_LIST {
  CK_VERSION version;
  CK_RV (*C_Initialize)(void *pInitArgs);
  CK_RV (*C_Finalize)(void *pReserved);
  void *C_GetInfo;
  void *C_GetFunctionList;
  CK_RV (*C_GetSlotList)(CK_BBOOL tokenPresent, CK_SLOT_ID *pSlotList, CK_ULONG *pulCount);
  void *C_GetSlotInfo;
  CK_RV (*C_GetTokenInfo)(CK_SLOT_ID slotID, CK_TOKEN_INFO *pInfo);
  void *C_GetMechanismList;
  void *C_GetMechanismInfo;
  void *C_InitToken;
  void *C_InitPIN;
  void *C_SetPIN;
  CK_RV (*C_OpenSession)(CK_SLOT_ID slotID, CK_FLAGS flags, void *pApplication, void *Notify, CK_SESSION_HANDLE *phSession);
  CK_RV (*C_CloseSession)(CK_SESSION_HANDLE hSession);
  void *C_CloseAllSessions;
  void *C_GetSessionInfo;
  void *C_GetOperationState;
  void *C_SetOperationState;
  CK_RV (*C_Login)(CK_SESSION_HANDLE hSession, CK_USER_TYPE userType, CK_UTF8CHAR *pPin, CK_ULONG ulPinLen);
  void *C_Logout;
  void *C_CreateObject;
  void *C_CopyObject;
  CK_RV (*C_DestroyObject)(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject);
  void *C_GetObjectSize;
  CK_RV (*C_GetAttributeValue)(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject, CK_ATTRIBUTE *pTemplate, CK_ULONG ulCount);
  void *C_SetAttributeValue;
  CK_RV (*C_FindObjectsInit)(CK_SESSION_HANDLE hSession, CK_ATTRIBUTE *pTemplate, CK_ULONG ulCount);
  CK_RV (*C_FindObjects)(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE *phObject, CK_ULONG ulMaxObjectCount, CK_ULONG *pulObjectCount);
  CK_RV (*C_FindObjectsFinal)(CK_SESSION_HANDLE hSession);
  CK_RV (*C_EncryptInit)(CK_SESSION_HANDLE hSession, CK_MECHANISM *pMechanism, CK_OBJECT_HANDLE hKey);
  CK_RV (*C_Encrypt)(CK_SESSION_HANDLE hSession, CK_BYTE *pData, CK_ULONG ulDataLen, CK_BYTE *pEncryptedData, CK_ULONG *pulEncryptedDataLen);
  void *C_EncryptUpdate;
  void *C_EncryptFinal;
  CK_RV (*C_DecryptInit)(CK_SESSION_HANDLE hSession, CK_MECHANISM *pMechanism, CK_OBJECT_HANDLE hKey);
  CK_RV (*C_Decrypt)(CK_SESSION_HANDLE hSession, CK_BYTE *pEncryptedData, CK_ULONG ulEncryptedDataLen, CK_BYTE *pData, CK_ULONG *pulDataLen);
  void *C_DecryptUpdate;
  void *C_DecryptFinal;
  void *C_DigestInit;
  void *C_Digest;
  void *C_DigestUpdate;
  void *C_DigestKey;
  void *C_DigestFinal;
  void *C_SignInit;
  void *C_Sign;
  void *C_SignUpdate;
  void *C_SignFinal;
  void *C_SignRecoverInit;
  void *C_SignRecover;
  void *C_VerifyInit;
  void *C_Verify;
  void *C_VerifyUpdate;
  void *C_VerifyFinal;
  void *C_VerifyRecoverInit;
  void *C_VerifyRecover;
  void *C_DigestEncryptUpdate;
  void *C_DecryptDigestUpdate;
  void *C_SignEncryptUpdate;
  void *C_DecryptVerifyUpdate;
  CK_RV (*C_GenerateKey)(CK_SESSION_HANDLE hSession, CK_MECHANISM *pMechanism, CK_ATTRIBUTE *pTemplate, CK_ULONG ulCount, CK_OBJECT_HANDLE *phKey);
  void *C_GenerateKeyPair;
  void *C_WrapKey;
  void *C_UnwrapKey;
  void *C_DeriveKey;
  void *C_SeedRandom;
  CK_RV (*C_GenerateRandom)(CK_SESSION_HANDLE hSession, CK_BYTE *pRandomData, CK_ULONG ulRandomLen);
  void *C_GetFunctionStatus;
  void *C_CancelFunction;
  void *C_WaitForSlotEvent;
} CK_FUNCTION_LIST;

#define CKR_OK                           0x000UL
#define CKR_ENCRYPTED_DATA_INVALID       0x040UL
#define CKR_ENCRYPTED_DATA_LEN_RANGE     0x041UL
#define CKR_PIN_INCORRECT                0x0A0UL
#define CKR_PIN_LOCKED                   0x0A4UL
#define CKR_TOKEN_NOT_PRESENT            0x0E0UL
#define CKR_USER_ALREADY_LOGGED_IN       0x100UL
#define CKR_BUFFER_TOO_SMALL             0x150UL
#define CKR_CRYPTOKI_ALREADY_INITIALIZED 0x191UL

#define CKF_TOKEN_INITIALIZED  0x400UL
#define CKF_RW_SESSION         0x002UL
#define CKF_SERIAL_SESSION     0x004UL
#define CKF_OS_LOCKING_OK      0x002UL

#define CKU_USER 1UL

#define CKO_SECRET_KEY 4UL
#define CKK_AES        0x1FUL

#define CKA_CLASS       0x000UL
#define CKA_TOKEN       0x001UL
#define CKA_PRIVATE     0x002UL
#define CKA_LABEL       0x003UL
#define CKA_KEY_TYPE    0x100UL
#define CKA_SENSITIVE   0x103UL
#define CKA_ENCRYPT     0x104UL
#define CKA_DECRYPT     0x105UL
#define CKA_WRAP        0x106UL
#define CKA_UNWRAP      0x107UL
#define CKA_SIGN        0x108UL
#define CKA_VERIFY      0x10AUL
#define CKA_VALUE_LEN   0x161UL
#define CKA_EXTRACTABLE 0x162UL

#define CKM_AES_KEY_GEN 0x1080UL
#define CKM_AES_GCM     0x1087UL

/* dlopen(path) and C_GetFunctionList. Returns the module handle (for cpkcs11_unload) or NULL
   with a message in err (at most errlen bytes, NUL-terminated). */
void *cpkcs11_load(const char *path, CK_FUNCTION_LIST **list, char *err, unsigned long errlen);
void cpkcs11_unload(void *handle);

#endif
