"""The canary fixture and hostile_payload() come from safepickle's own test helpers."""

pytest_plugins = ["safepickle.testing"]
