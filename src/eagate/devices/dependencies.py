"""Dependency aliases of the devices domain."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from eagate.devices.secrets import SecretBox
from eagate.http.dependencies import component

SecretBoxDep = Annotated[SecretBox, Depends(component(SecretBox))]
