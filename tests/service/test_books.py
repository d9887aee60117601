"""The book a service database holds: a document parsed as the CLI parses its file, or a generated book
rebuilt from its size and seed."""

from pathlib import Path

import pytest

from crossmargin.live.document import loop_config_of
from crossmargin.model import InputError
from crossmargin.model.document_text import parse_document
from crossmargin.service.books import GENERATED, book_config, generated
from crossmargin.sim.population import synthetic_book
from crossmargin.sim.stress.configs import default_insurance_fund, default_liquidity

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "portfolio.yaml"


def test_a_generated_book_is_the_synthetic_book_of_its_size_and_seed():
    name, text = generated(40, 3)
    config = book_config(name, text)
    drawn = synthetic_book(40, 3)  # the second method: the generator called directly
    assert config.portfolio == drawn
    assert config.insurance_fund == default_insurance_fund(drawn)
    assert config.liquidity == default_liquidity(drawn)


def test_a_document_is_read_as_its_file_would_be():
    text = EXAMPLE.read_text()
    assert book_config("portfolio.yaml", text) == loop_config_of(parse_document(text, "portfolio.yaml"))


def test_no_file_name_is_the_generated_books_name():
    assert "/" in GENERATED  # Path(...).name never holds a separator, so a document is never taken for one


@pytest.mark.parametrize("text", ["not json", "[1, 2]", '{"accounts": 5}', '{"accounts": 5, "seed": "7"}'])
def test_a_damaged_generated_book_is_refused_naming_the_book(text: str):
    with pytest.raises(InputError) as err:
        book_config(GENERATED, text)
    assert err.value.field == "book"
