"""The national e-licence standards (GB/T 36901-36905-2018): ``identifier`` (证照标识,
GB/T 36904-2018, with the GB 32100-2015 credit-code check) and ``metadata`` (the GB/T 36903-2018
metadata names for import and export)."""
