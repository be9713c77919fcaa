"""No SQL literal survives in ``db.query.text``, whatever it holds; parameters are never recorded.

Hypothesis writes the content of every literal form (standard strings with doubled quotes,
``E''`` strings with backslash escapes, dollar quoting with and without a tag, nested block
comments, line comments, ``X''``/``0x`` hex, numbers with exponents, ``B''`` bit strings,
``N''`` national strings, ``U&''`` Unicode strings, SQLite's double-quoted strings) from an
alphabet heavy in the characters that end literals early: quotes, backslashes, dollar signs,
comment markers, newlines. The sanitized text must be the statement's skeleton exactly. On
PostgreSQL the statements are run for real through SQLAlchemy (so each one is valid SQL as the
database reads it), and what otelkit exported is searched for every generated content.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import otelkit
from otelkit import testing
from otelkit.instrumentation.sqlalchemy import instrument_sqlalchemy
from otelkit.instrumentation.sqlalchemy._statements import sanitize
from tests.reliability._emitted import Emitted

if TYPE_CHECKING:
    from collections.abc import Callable

    from tests.fixtures.postgres import PostgresServer

MARK = "Zq7"
_TRICKY = st.sampled_from(["'", "''", '"', "\\", "\\'", "$", "$$", "$a$", "/*", "*/", "--", "\n"])
_ANY = st.characters(exclude_categories=("Cs",), exclude_characters="\x00")
CONTENT = st.lists(st.one_of(_TRICKY, _ANY), max_size=30).map(lambda parts: MARK + "".join(parts))
"""What a literal holds: never empty (the mark), never NUL (PostgreSQL refuses it)."""

DIGITS = st.text("0123456789abcdefABCDEF", min_size=1, max_size=16)
BITS = st.text("01", min_size=1, max_size=16)
NUMBERS = st.one_of(
    st.integers(min_value=0).map(str),
    st.floats(min_value=0, allow_nan=False, allow_infinity=False).map(repr),
    st.tuples(st.integers(0, 999), st.integers(0, 999), st.integers(-99, 99)).map(
        lambda t: f"{t[0]}.{t[1]}e{t[2]:+d}"
    ),
)


def _dollar_tag(content: str) -> str:
    tag = "t"
    while f"${tag}$" in content + "$":
        tag += "t"
    return tag


LITERALS: dict[str, Callable[[str], str]] = {
    "standard": lambda c: "'" + c.replace("'", "''") + "'",
    "escape E''": lambda c: "E'" + c.replace("\\", "\\\\").replace("'", "\\'") + "'",
    "dollar $tag$": lambda c: f"${_dollar_tag(c)}${c}${_dollar_tag(c)}$",
    "dollar $$": lambda c: "$$" + c.replace("$", "$ ") + "$$",  # no $$ inside, no $ at the end
    "national N''": lambda c: "N'" + c.replace("'", "''") + "'",
    "unicode U&''": lambda c: "U&'" + c.replace("\\", "\\\\").replace("'", "''") + "'",
}
"""Literal forms whose content is any text, as PostgreSQL spells them."""


def _no_marks(content: str) -> str:
    return content.replace("/*", "/ *").replace("*/", "* /")


def _nested(content: str) -> str:
    """The outer comment's tail holds the content: only nesting-aware lexing hides it."""
    inner = _no_marks(content)
    return f"/* {inner} /* {inner} */ {inner} */"


COMMENTS: dict[str, Callable[[str], str]] = {
    "nested /* */": _nested,
    "line --": lambda c: "-- " + c.replace("\n", " ").replace("\r", " ") + "\n",
}


def skeleton(text: str) -> str:
    return " ".join(text.split())


# --- the sanitizer, any database ------------------------------------------------------------


@settings(max_examples=400, deadline=None)
@given(content=CONTENT, form=st.sampled_from(sorted(LITERALS)))
def test_no_string_literal_content_survives(content: str, form: str) -> None:
    statement = f"SELECT {LITERALS[form](content)} AS v FROM t WHERE `k` = 1"
    assert sanitize(statement) == "SELECT ? AS v FROM t WHERE `k` = ?"


@settings(max_examples=300, deadline=None)
@given(content=CONTENT, form=st.sampled_from(sorted(COMMENTS)))
def test_no_comment_content_survives(content: str, form: str) -> None:
    statement = f"SELECT 1 {COMMENTS[form](content)} AS v FROM t"
    assert skeleton(sanitize(statement)) == "SELECT ? AS v FROM t"


@settings(max_examples=300, deadline=None)
@given(digits=DIGITS, bits=BITS, number=NUMBERS)
def test_no_hex_bit_or_numeric_literal_survives(digits: str, bits: str, number: str) -> None:
    hex_digits = digits if len(digits) % 2 == 0 else digits + "0"
    statement = f"SELECT X'{hex_digits}', 0x{digits}, B'{bits}', {number}, -{number} FROM t"
    assert sanitize(statement) == "SELECT ?, ?, ?, ?, -? FROM t"


@settings(max_examples=300, deadline=None)
@given(content=CONTENT)
def test_sqlite_double_quoted_strings_are_replaced(content: str) -> None:
    """SQLite reads ``"..."`` as a string when no column has that name."""
    literal = '"' + content.replace('"', '""') + '"'
    statement = f"SELECT {literal} FROM t WHERE 'x' = [k]"
    assert sanitize(statement, double_quoted_strings=True) == "SELECT ? FROM t WHERE ? = [k]"


@settings(max_examples=300, deadline=None)
@given(content=CONTENT)
def test_no_mysql_literal_or_comment_content_survives_and_backticks_stay(content: str) -> None:
    """MySQL and MariaDB: backslashes escape in every string, "..." is a string, # a comment."""
    escaped = content.replace("\\", "\\\\")
    single = "'" + escaped.replace("'", "\\'") + "'"
    double = '"' + escaped.replace('"', '\\"') + '"'
    comment = "# " + content.replace("\n", " ").replace("\r", " ") + "\n"
    statement = f"SELECT `my col`, {single}, {double} {comment} FROM `t` WHERE x = 0x1F"
    assert skeleton(sanitize(statement, backslash_escapes=True)) == (
        "SELECT `my col`, ?, ? FROM `t` WHERE x = ?"
    )


def test_identifiers_stay_and_the_example_of_the_defect_is_gone() -> None:
    assert sanitize('SELECT "Col" FROM `tbl` WHERE a = 1') == 'SELECT "Col" FROM `tbl` WHERE a = ?'
    assert "secret" not in sanitize("SELECT 1 /* a /* b */ secret */")
    assert "secret" not in sanitize('SELECT "unterminated secret')
    assert sanitize('SELECT "secret"', double_quoted_strings=True) == "SELECT ?"


# --- real statements on PostgreSQL and SQLite -------------------------------------------------


@pytest.fixture
def telemetry(monkeypatch: pytest.MonkeyPatch) -> otelkit.Telemetry:
    monkeypatch.delenv("OTELKIT_INSTRUMENT", raising=False)
    return otelkit.init_telemetry("sql-secrets", exporters="memory", instrument="none")


def query_texts(telemetry: otelkit.Telemetry) -> list[str]:
    return [
        str((span.attributes or {})["db.query.text"])
        for span in testing.spans(telemetry)
        if "db.query.text" in (span.attributes or {})
    ]


@pytest.mark.integration
def test_every_literal_form_run_on_postgresql_is_sanitized(
    postgres: PostgresServer, postgres_db: str, telemetry: otelkit.Telemetry
) -> None:
    engine = instrument_sqlalchemy(sa.create_engine(postgres.url("psycopg", postgres_db)))
    contents: list[str] = []
    runs = []

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(content=CONTENT, digits=DIGITS, bits=BITS, number=NUMBERS)
    def run(content: str, digits: str, bits: str, number: str) -> None:
        hex_digits = digits if len(digits) % 2 == 0 else digits + "0"
        # The result is a boolean: the database's encoding is the server's business, not ours.
        statements = [f"SELECT {make(content)} IS NOT NULL AS v" for make in LITERALS.values()]
        statements += [f"SELECT 1 {make(content)} AS v" for make in COMMENTS.values()]
        statements.append(f"SELECT X'{hex_digits}' AS h, B'{bits}' AS b, {number} AS n")
        with engine.connect() as connection:
            for statement in statements:  # psycopg reads % as a placeholder: %% is one %
                connection.exec_driver_sql(statement.replace("%", "%%")).all()
        contents.append(content)
        runs.append(len(statements))

    try:
        run()
    finally:
        engine.dispose()
    texts = query_texts(telemetry)
    ours = [skeleton(t) for t in texts if t.startswith("SELECT ?")]
    assert len(ours) == sum(runs)  # every statement of ours was recorded...
    assert set(ours) == {  # ...as its skeleton
        "SELECT ? IS NOT NULL AS v",
        "SELECT ? AS v",
        "SELECT ? AS h, ? AS b, ? AS n",
    }
    doubled = [c.replace("%", "%%") for c in contents]
    assert Emitted.gather(telemetry).leaks(contents + doubled) == []


@pytest.mark.integration
def test_parameters_are_never_recorded_even_when_the_query_fails(
    postgres: PostgresServer,
    postgres_db: str,
    telemetry: otelkit.Telemetry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """PostgreSQL's error DETAIL quotes the duplicate value: otelkit records neither."""
    caplog.set_level(logging.DEBUG)
    secret = MARK + "-parameter-Secret"
    engine = instrument_sqlalchemy(sa.create_engine(postgres.url("psycopg", postgres_db)))
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql("CREATE TABLE accounts (token text UNIQUE)")
            connection.execute(sa.text("INSERT INTO accounts VALUES (:t)"), {"t": secret})
        with pytest.raises(sa.exc.IntegrityError) as failure, engine.begin() as connection:
            connection.execute(sa.text("INSERT INTO accounts VALUES (:t)"), {"t": secret})
    finally:
        engine.dispose()
    assert secret in str(failure.value)  # the driver's own message does quote it
    assert "INSERT INTO accounts VALUES (%(t)s)" in query_texts(telemetry)
    assert Emitted.gather(telemetry, records=caplog.records).leaks([secret]) == []


@settings(max_examples=100, deadline=None)
@given(content=CONTENT)
def test_a_sqlite_double_quoted_string_run_for_real_is_sanitized(content: str) -> None:
    telemetry = otelkit.init_telemetry("sql-secrets", exporters="memory", instrument="none")
    engine = instrument_sqlalchemy(sa.create_engine("sqlite://"))
    try:
        with engine.connect() as connection:
            literal = '"' + content.replace('"', '""') + '"'
            assert connection.exec_driver_sql(f"SELECT {literal}").scalar() == content
        assert query_texts(telemetry)[-1] == "SELECT ?"
        assert Emitted.gather(telemetry).leaks([content]) == []
    finally:
        engine.dispose()
        telemetry.shutdown()
