"""``map_location``: where a checkpoint's storages are placed.

A safe subset of :func:`torch.load`'s options: ``None`` (where they were saved), one device for
all (``"cpu"``, ``torch.device("cuda:0")``), or a dict from saved location to device. Callables
are refused: torch hands them each storage, which is more than choosing a device needs. A saved
location is stream data: it must look like a device (``cpu``, ``cuda:1``), and only the device
types below are ever targeted, so a stream cannot make torch initialise an arbitrary backend.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import torch

from .errors import CheckpointError

__all__ = ["DEVICE_TYPES", "Devices", "MapLocation"]

MapLocation = str | torch.device | Mapping[str, str | torch.device] | None

#: device types a storage may be placed on
DEVICE_TYPES = frozenset({"cpu", "cuda", "mps", "xpu", "meta"})
_LOCATION = re.compile(r"[a-z][a-z0-9_]{0,31}(:[0-9]{1,4})?\Z")


class Devices:
    """Resolves saved locations to devices and places storages there."""

    def __init__(self, map_location: MapLocation) -> None:
        self._all: torch.device | None = None
        self._mapping: dict[str, torch.device] = {}
        self._resolved: dict[str, torch.device] = {}  # saved location -> device, per load
        if map_location is None:
            return
        if isinstance(map_location, (str, torch.device)):
            self._all = _device(map_location, "map_location")
        elif isinstance(map_location, Mapping):
            for saved, target in map_location.items():
                if not isinstance(saved, str) or not isinstance(target, (str, torch.device)):
                    raise TypeError("map_location dict must map location strings to devices")
                self._mapping[saved] = _device(target, f"map_location[{saved!r}]")
        else:
            raise TypeError(
                "safepickle_torch.load takes map_location as None, a device or a dict of "
                f"devices, not {type(map_location).__name__!r} (callables are not accepted)"
            )

    def resolve(self, location: object) -> torch.device:
        """The device for a storage saved at ``location`` (stream data, checked)."""
        if type(location) is not str:
            raise CheckpointError(f"storage location {location!r} is not a device name")
        device = self._resolved.get(location)
        if device is None:
            if not _LOCATION.match(location):
                raise CheckpointError(f"storage location {location!r} is not a device name")
            device = self._all or self._mapping.get(location)
            if device is None:
                device = _device(location, "the saved location")
            self._resolved[location] = device
        return device

    @staticmethod
    def place(storage: torch.UntypedStorage, device: torch.device) -> torch.UntypedStorage:
        if device.type == "cpu":
            return storage
        try:
            moved: torch.UntypedStorage = storage.to(device=device)
        except (RuntimeError, AssertionError) as exc:
            raise CheckpointError(
                f"cannot place a storage on {device}: {exc} (pass map_location='cpu' to "
                "load it on the CPU)"
            ) from exc
        return moved


def _device(value: str | torch.device, what: str) -> torch.device:
    try:
        device = torch.device(value)
    except (RuntimeError, TypeError) as exc:
        raise CheckpointError(f"{what} {value!r} is not a device: {exc}") from exc
    if device.type not in DEVICE_TYPES:
        raise CheckpointError(
            f"{what} {value!r} is on device type {device.type!r}; safepickle_torch places "
            f"storages on {sorted(DEVICE_TYPES)} only"
        )
    return device
