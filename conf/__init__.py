"""The Hydra config tree, shipped in the wheel as the package ``sdp.conf`` (``pkg://sdp.conf``)."""
