"""The rulebooks crossmargin knows, by the name a portfolio document gives in ``rulebook``."""

from crossmargin.model import InputError, RuleChoices

_RULEBOOKS: dict[str, RuleChoices] = {
    "generic": RuleChoices("generic", liquidate_at_equality=False),
}


def available() -> tuple[str, ...]:
    """Names of the known rulebooks, sorted."""
    return tuple(sorted(_RULEBOOKS))


def rulebook(name: str) -> RuleChoices:
    """The rule choices of rulebook ``name``."""
    try:
        return _RULEBOOKS[name]
    except KeyError:
        raise InputError("rulebook", f"unknown rulebook {name!r}; known: {', '.join(available())}") from None
