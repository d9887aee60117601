"""The request bodies the API takes, read exactly: JSON numbers become Decimals without passing through a
float (:func:`~crossmargin.model.document_text.parse_json`), and a decimal may also be given as a string.
Every number is then held to the CLI's input bounds and read as the CLI reads it
(:func:`~crossmargin.model.numbers.bounded`: ``-0`` is 0), and every text must be printable, as in a
document or a feed (no control characters). A bad body raises :class:`~crossmargin.model.InputError` naming
the field (``[2].price`` for a price line), with the CLI's words where the CLI has them."""

import re
from decimal import Decimal
from typing import Any, ClassVar, TypeVar

import pydantic
from pydantic import BaseModel, ConfigDict, Field

from crossmargin.model import InputError
from crossmargin.model.document_text import parse_json
from crossmargin.model.errors import UNPRINTABLE
from crossmargin.model.numbers import bounded

Name = Field(min_length=1, max_length=128)
_UNPRINTABLE_IN_DOCUMENT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
"""What :data:`~crossmargin.model.errors.UNPRINTABLE` refuses but for tabs and line breaks (``\\t``, ``\\n``,
``\\r``): the control characters a document's text may not hold."""
MAX_LINES = 1_000
"""Price lines one request may carry."""


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    documents: ClassVar[frozenset[str]] = frozenset()
    """Fields holding a document's text (several lines): tabs and line breaks allowed, no other control
    character."""


class OpenAccountBody(Body):
    id: str = Name


class MoneyBody(Body):
    asset: str = Name
    amount: Decimal


class TradeBody(Body):
    buyer: str = Name
    seller: str = Name
    instrument: str = Name
    size: Decimal
    price: Decimal
    buyer_fee: Decimal = Decimal(0)
    seller_fee: Decimal = Decimal(0)


class OrderBody(Body):
    instrument: str = Name
    size: Decimal
    price: Decimal


class AssetBody(Body):
    asset: str = Name


class PriceLine(Body):
    """One feed line as ``crossmargin replay --feed`` reads it."""

    t: Decimal
    source: str = Name
    symbol: str = Name
    price: Decimal
    confidence: Decimal | None = None


class ClockBody(Body):
    t: Decimal


class ParametersBody(Body):
    depth: Decimal


class FundingBody(Body):
    instrument: str = Name
    rate: Decimal


class StressBody(Body):
    """A stress run of the live book: a library ``scenario`` by name, or an uploaded scenario's ``yaml`` text
    (``scenario`` then empty or its name), on the path of ``seed``."""

    documents = frozenset({"yaml"})
    scenario: str = Field("", max_length=128)
    seed: int = Field(7, ge=0, le=2**32 - 1)
    yaml: str | None = Field(None, min_length=1, max_length=256_000)


M = TypeVar("M", bound=Body)


def _field(location: tuple[int | str, ...]) -> str:
    text = ""
    for part in location:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "body"


def _checked(model: M, prefix: str = "") -> M:
    """``model`` with every number as :func:`bounded` reads it; a number out of bounds or a text with a
    control character raises InputError naming its field."""
    read: dict[str, Decimal] = {}
    for name, value in model:
        if isinstance(value, Decimal):
            read[name] = bounded(value, f"{prefix}{name}")
        elif isinstance(value, str) and name in model.documents:
            found = _UNPRINTABLE_IN_DOCUMENT.search(value)
            if found:
                line = value.count("\n", 0, found.start()) + 1
                raise InputError(f"{prefix}{name}", f"line {line} holds a control character {found.group()!r}")
        elif isinstance(value, str) and UNPRINTABLE.search(value):
            raise InputError(f"{prefix}{name}", f"{value!r} is not printable text (control characters)")
    return model.model_copy(update=read)


def _decoded(raw: bytes) -> Any:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError("body", "not UTF-8 text") from None
    return parse_json(text, "body")


def _validated(kind: type[M], data: Any, prefix: tuple[int | str, ...] = ()) -> M:
    try:
        model = kind.model_validate(data)
    except pydantic.ValidationError as err:
        first = err.errors()[0]
        raise InputError(_field((*prefix, *first["loc"])), first["msg"]) from None
    return _checked(model, _field(prefix) + "." if prefix else "")


def read_body(kind: type[M], raw: bytes) -> M:
    """The body of type ``kind`` in ``raw`` (see module doc)."""
    return _validated(kind, _decoded(raw))


def read_lines(raw: bytes) -> list[PriceLine]:
    """A JSON array of 1 to :data:`MAX_LINES` price lines."""
    data = _decoded(raw)
    if not isinstance(data, list) or not data:
        raise InputError("body", "a JSON array of price lines {t, source, symbol, price, confidence?}")
    if len(data) > MAX_LINES:
        raise InputError("body", f"{len(data):,} price lines; one request takes at most {MAX_LINES:,}")
    return [_validated(PriceLine, line, (number,)) for number, line in enumerate(data)]


def schema_of(kind: type[BaseModel], listed: bool = False) -> dict[str, Any]:
    """The OpenAPI request body of ``kind`` (an array of them if ``listed``)."""
    schema = kind.model_json_schema()
    if listed:
        schema = {"type": "array", "items": schema, "minItems": 1, "maxItems": MAX_LINES}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}
