"""The small core plugins see: the component and action interfaces, the per-customer record,
hookspecs, the plugin manager and registry, errors. It imports nothing else of tiers."""
