"""The built-in AWR weight regularizers, one file each; sdp/objectives/registry.py registers them."""
