"""Every SQL statement of nuanxin lives in this package, one module per aggregate."""
