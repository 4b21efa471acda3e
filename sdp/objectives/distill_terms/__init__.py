"""The built-in distillation terms, one file each; sdp/objectives/registry.py registers them."""
