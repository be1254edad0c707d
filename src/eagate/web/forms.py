"""Handling a submitted form: read its fields as the API would read the same body, run the
domain action, and hand a refusal back to the route, which shows the same form again.

Both steps return the refusal as a value instead of raising it: each form shows it its own
way (its template and submitted values, a title or a detail, a status of its own, some errors
as a whole error page instead), and those differences are meant to be read at the route.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import TypeVar

from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from eagate.kit.problems import ProblemError
from eagate.web.presenters import validation_messages

ModelT = TypeVar("ModelT", bound=BaseModel)
T = TypeVar("T")


@dataclass(frozen=True)
class Invalid:
    """Fields the schema refused: one readable line per problem, naming the form's field."""

    messages: list[str]


def parse_form(
    schema: type[ModelT], fields: Mapping[str, object], *, labels: Mapping[str, str]
) -> ModelT | Invalid:
    """The fields read by the domain's schema, or why they cannot be (``labels``: the name
    the form shows for each field)."""
    try:
        return schema.model_validate(fields)
    except ValidationError as error:
        return Invalid(validation_messages(error, labels))


async def attempt(
    action: Callable[[], Awaitable[T]], *, savepoint: AsyncSession | None
) -> T | ProblemError:
    """What the domain action returns, or the domain error it raised.

    ``savepoint``: the request's session, to run the action in a savepoint of its one
    transaction. A refusal may follow writes (a flush that hit a unique index): rolled back
    to the savepoint, none of them is kept, and the transaction stays usable for the page
    that shows the form again (PostgreSQL refuses every statement after a failed one until
    it rolls back). ``None`` for the account flows, which open transactions of their own.
    """
    try:
        if savepoint is None:
            return await action()
        async with savepoint.begin_nested():
            return await action()
    except ProblemError as error:
        return error


def form_number(text: str) -> Decimal | str:
    """A number typed into a form, exactly as typed (as the API reads a JSON number); the
    text itself when it is no number, for the schema to refuse."""
    try:
        number = Decimal(text.strip())
    except InvalidOperation:
        return text
    return number if number.is_finite() else text
