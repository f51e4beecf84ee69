from tokenizers import _Unavailable


def __getattr__(name):
    return _Unavailable
