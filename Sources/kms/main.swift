print("kms")
