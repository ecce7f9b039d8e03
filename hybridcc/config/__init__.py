"""Loading, validating and editing config.toml (see README, "Configuration")."""

from __future__ import annotations

from hybridcc.config.load import fingerprint, load_config, read_user_data
from hybridcc.config.schema import Config, OllamaSettings, Profile, Provider, ProxySettings

__all__ = [
    "Config",
    "OllamaSettings",
    "Profile",
    "Provider",
    "ProxySettings",
    "fingerprint",
    "load_config",
    "read_user_data",
]
