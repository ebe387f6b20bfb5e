"""Built-in plugins. Each module registers its components through the same hooks an outside
plugin uses; the list lives in :data:`tiers.core.plugins.BUILTIN_PLUGINS`."""
