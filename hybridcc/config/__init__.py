"""Loading, validating and editing config.toml (see README, "Configuration")."""

from __future__ import annotations

from hybridcc.config.load import fingerprint, key_hashes, load_config, read_user_data
from hybridcc.config.schema import Config, OllamaSettings, Profile, Provider, ProxySettings

__all__ = [
    "Config",
    "OllamaSettings",
    "Profile",
    "Provider",
    "ProxySettings",
    "fingerprint",
    "key_hashes",
    "load_config",
    "read_user_data",
]
