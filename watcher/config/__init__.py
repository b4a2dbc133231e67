"""Config: the YAML file parsed once into frozen objects.

The only module that reads the environment (for ${VAR} and $WATCHER_DATABASE_URL).
"""

from watcher.config.durations import format_duration, parse_duration
from watcher.config.load import (
    config_path,
    load_config,
    parse_config,
    url_secrets,
    variable_origins,
)
from watcher.config.model import (
    Config,
    FeedConfig,
    NotifierConfig,
    PollingConfig,
    QuietHours,
    RetentionConfig,
    RuleConfig,
    Template,
)

__all__ = [
    "Config",
    "FeedConfig",
    "NotifierConfig",
    "PollingConfig",
    "QuietHours",
    "RetentionConfig",
    "RuleConfig",
    "Template",
    "config_path",
    "format_duration",
    "load_config",
    "parse_config",
    "parse_duration",
    "url_secrets",
    "variable_origins",
]
