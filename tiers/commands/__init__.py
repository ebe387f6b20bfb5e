"""Commands added to the ``tiers`` CLI through the ``register_commands`` hook."""
