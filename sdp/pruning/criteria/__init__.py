"""Pruning criteria, one file each (``prune.criterion``): how what is pruned is ranked, for either granularity.

The registry that names them is ``CRITERIA`` in sdp/objectives/registry.py (pruning/ imports nothing outside
itself); what each one computes is in docs/method.md, how to add one in docs/plugins.md. Nothing here imports
torch at import time: validation reads the registry before torch loads.
"""
