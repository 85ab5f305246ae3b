"""rovn_ops: the shared library of Rōvn's runbooks.

Importing the package is cheap on purpose (no boto3, pandas or papermill at import
time): the CLI starts fast and a notebook pays only for what it uses.
"""
__version__ = "0.1.0"
