"""Built-in plugins: ordinary plugin modules, registered the way third-party plugins are."""

from __future__ import annotations

#: plugins every default policy registers, by name
DEFAULT_PLUGINS = ("safepickle.builtin.stdlib",)
