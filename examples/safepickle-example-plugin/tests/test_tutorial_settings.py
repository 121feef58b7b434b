"""The settings the plugin tutorial (docs/plugins.md) shows are the ones this plugin reads."""

from __future__ import annotations

import pickle
import re
from pathlib import Path

from acme_shop.models import Customer
from safepickle_example import OrgAllowList

import safepickle

TUTORIAL = Path(__file__).resolve().parents[3] / "docs" / "plugins.md"


def test_the_tutorials_settings_work(canary: Path) -> None:
    blocks = re.findall(r"^```toml\n(.*?)^```", TUTORIAL.read_text(encoding="utf-8"), re.M | re.S)
    (settings,) = [block for block in blocks if "[tool.safepickle-example]" in block]
    path = canary.parent / "pyproject.toml"
    path.write_text(settings, encoding="utf-8")
    OrgAllowList.from_config(path)  # every key and entry accepted
    customer = Customer("Ada", "ada@example.com")
    policy = safepickle.Policy.from_config()
    assert safepickle.loads(pickle.dumps(customer), policy=policy) == customer
