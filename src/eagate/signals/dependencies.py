"""Dependency aliases of the signals domain."""

from __future__ import annotations

from typing import Annotated, cast

from fastapi import Depends

from eagate.cluster.coordination import Coordination
from eagate.http.dependencies import component

# A Protocol: registered under it by the runtime (the cast tells mypy it is used as a key).
CoordinationDep = Annotated[
    Coordination, Depends(component(cast("type[Coordination]", Coordination)))
]
