"""Import-only placeholder for the Rust `tokenizers` package (not buildable on this machine).

transformers imports it at module load (GGUF conversion, fast tokenizers) even when no tokenizer is used; the
interop generator feeds token ids directly, so any real use of this package is an error.
"""


class _Unavailable:
    def __init__(self, *args, **kwargs):
        raise RuntimeError("the Rust tokenizers package is not available here; feed token ids instead")

    def __class_getitem__(cls, item):
        return cls


def __getattr__(name):
    return _Unavailable


Tokenizer = Encoding = AddedToken = Regex = _Unavailable
__version__ = "0.0.0"
