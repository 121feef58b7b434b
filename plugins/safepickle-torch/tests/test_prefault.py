"""The page prefault before a big storage is read changes no byte, inside the storage or
around it, and big checkpoints (the only ones it runs for) load exactly."""

from __future__ import annotations

import sys

import pytest
import torch
from checkpoints import assert_same, saved

import safepickle_torch
from safepickle_torch import prefault


@pytest.mark.parametrize("offset", [0, 1, 63, 4095, 4097])
def test_prefault_changes_no_byte(offset: int) -> None:
    size = prefault.MIN_BYTES * 3 + 12345
    block = torch.randint(0, 256, (size + 2 * 8192,), dtype=torch.uint8)
    before = block.clone()
    prefault.prefault(block.data_ptr() + 8192 + offset, size - offset)
    assert torch.equal(block, before)


def test_prefault_is_on_where_linux_has_it() -> None:
    """On Linux >= 5.14 the call is made (and stays enabled); elsewhere it is a no-op."""
    block = torch.empty(prefault.MIN_BYTES * 2, dtype=torch.uint8)
    prefault.prefault(block.data_ptr(), block.numel())
    if sys.platform.startswith("linux"):
        assert prefault._MADVISE is not None


@pytest.mark.parametrize("legacy", [False, True])
def test_big_storages_round_trip(legacy: bool) -> None:
    generator = torch.Generator().manual_seed(7)
    state = {
        "big": torch.randn(1024, 1500, generator=generator),  # 6 MB: prefaulted
        "view": torch.randn(3000, 700, generator=generator)[5:, 3:],
        "small": torch.arange(10),
    }
    assert_same(safepickle_torch.load(saved(state, legacy=legacy)), state)
