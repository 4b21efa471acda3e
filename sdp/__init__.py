"""sdp: self-distilled pruning of pretrained Transformers (README.md)."""

from sdp.version import package_version

__version__ = package_version()
