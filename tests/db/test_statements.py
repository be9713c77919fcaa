"""What otelkit reads from SQL text: operation, table, and a sanitized copy without literals."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from otelkit.instrumentation.sqlalchemy._statements import Description, describe, sanitize


@pytest.mark.parametrize(
    ("statement", "operation", "collection"),
    [
        ("SELECT 1", "SELECT", None),
        ("select u.id from users u where u.name = 'bob'", "SELECT", "users"),
        ("SELECT items.id \nFROM items \nWHERE items.id = %(id_1)s::INTEGER", "SELECT", "items"),
        ("SELECT * FROM public.items AS i WHERE i.id = $1", "SELECT", "public.items"),
        ('SELECT * FROM "Order Lines"', "SELECT", "Order Lines"),
        ("SELECT count(*) FROM items FOR UPDATE", "SELECT", "items"),
        ("INSERT INTO items (name) VALUES (%(name)s) RETURNING items.id", "INSERT", "items"),
        (
            "INSERT INTO items (name) SELECT p0::VARCHAR FROM (VALUES (%(name__0)s::VARCHAR, 0)) "
            "AS imp_sen(p0, sen_counter) ORDER BY sen_counter RETURNING items.id",
            "INSERT",
            "items",
        ),
        ("UPDATE items SET name=%(name)s WHERE items.id = %(id_1)s", "UPDATE", "items"),
        ("UPDATE ONLY items SET n = 1 FROM other WHERE items.id = other.id", "UPDATE", "items"),
        ("DELETE FROM items WHERE items.id = %(id_1)s", "DELETE", "items"),
        ("delete from only items using other where items.a = other.a", "DELETE", "items"),
        ("CREATE TABLE items (id SERIAL NOT NULL, PRIMARY KEY (id))", "CREATE", "items"),
        ("CREATE TEMP TABLE IF NOT EXISTS scratch (a int)", "CREATE", "scratch"),
        ("CREATE UNIQUE INDEX ix_name ON items USING btree (name)", "CREATE", "items"),
        ("ALTER TABLE IF EXISTS ONLY items ADD COLUMN c int", "ALTER", "items"),
        ("DROP TABLE items", "DROP", "items"),
        ("DROP TABLE IF EXISTS a, b", "DROP", None),
        ("DROP INDEX ix_name", "DROP", None),
        ("TRUNCATE TABLE items", "TRUNCATE", "items"),
        ("COPY items (a, b) FROM STDIN", "COPY", "items"),
        ("COPY (SELECT 1) TO STDOUT", "COPY", None),
        ("WITH recent AS (SELECT * FROM items) SELECT * FROM recent", "SELECT", None),
        (
            "WITH moved AS (DELETE FROM a RETURNING *) INSERT INTO b SELECT * FROM moved",
            "INSERT",
            None,
        ),
        ("SELECT * FROM a JOIN b ON a.id = b.id", "SELECT", None),
        ("SELECT * FROM a, b", "SELECT", None),
        ("SELECT * FROM a WHERE id IN (SELECT id FROM b)", "SELECT", None),
        ("(SELECT 1) UNION (SELECT 2)", "SELECT", None),
        ("SELECT * FROM generate_series(1, 3)", "SELECT", None),
        ("SELECT 'FROM secret' AS x", "SELECT", None),
        ("/* tag */ -- note\n  DELETE FROM items", "DELETE", "items"),
        ("BEGIN", "BEGIN", None),
        ("frobnicate everything", None, None),
        ("", None, None),
    ],
)
def test_operation_and_table(statement: str, operation: str | None, collection: str | None) -> None:
    assert describe(statement) == Description(operation, collection)


@pytest.mark.parametrize(
    ("statement", "sanitized"),
    [
        ("SELECT * FROM t WHERE a = 'x' AND b = 42", "SELECT * FROM t WHERE a = ? AND b = ?"),
        ("SELECT 'it''s', E'a\\'b', 1.5e3, .5, 0x1F", "SELECT ?, ?, ?, ?, ?"),
        ("SELECT $$body$$, $fn$ x $$ y $fn$", "SELECT ?, ?"),
        ("SELECT U&'d\\0061t', B'0101', X'FF', N'x'", "SELECT ?, ?, ?, ?"),
        (
            "INSERT INTO t VALUES ($1, %(b)s, %s, :c, ?)",
            "INSERT INTO t VALUES ($1, %(b)s, %s, :c, ?)",
        ),
        ("SELECT t1.c2 FROM t1", "SELECT t1.c2 FROM t1"),
        ('SELECT "col 1" FROM "T"', 'SELECT "col 1" FROM "T"'),
        ("SELECT 1 -- secret comment\n", "SELECT ?"),
        ("/* secret */ SELECT 1::int", "SELECT ?::int"),
        ("SELECT 'unterminated secret", "SELECT ?"),
        ("SELECT $tag$ unterminated secret", "SELECT ?"),
    ],
)
def test_sanitized_text_keeps_the_shape_and_drops_every_literal(
    statement: str, sanitized: str
) -> None:
    assert sanitize(statement) == sanitized


_VALUES = st.text(min_size=1, max_size=40)


@settings(max_examples=300, deadline=None)
@given(value=_VALUES)
def test_no_string_literal_survives_sanitizing(value: str) -> None:
    """Whatever a literal holds (quotes, backslashes, dollars, newlines), only ``?`` remains."""
    quoted = "'" + value.replace("'", "''") + "'"
    escaped = "E'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    tag = "q" * (value.count("q") + 1)
    dollar = f"${tag}${value}${tag}$"
    for literal in (quoted, escaped, dollar):
        assert sanitize(f"SELECT * FROM t WHERE a = {literal}") == "SELECT * FROM t WHERE a = ?"


@settings(max_examples=300, deadline=None)
@given(value=_VALUES)
def test_no_mysql_string_literal_survives_sanitizing(value: str) -> None:
    """MySQL and MariaDB: backslashes escape in every literal, and "..." is a string."""
    escaped = value.replace("\\", "\\\\")
    single = "'" + escaped.replace("'", "\\'") + "'"
    double = '"' + escaped.replace('"', '\\"') + '"'
    introduced = "_utf8mb4'" + escaped.replace("'", "''") + "'"
    for literal in (single, double, introduced):
        statement = f"SELECT * FROM t WHERE a = {literal}"
        assert sanitize(statement, backslash_escapes=True) == "SELECT * FROM t WHERE a = ?"


def test_a_literal_is_read_with_its_database_s_rules() -> None:
    """The same text ends a literal at different places in PostgreSQL and in MySQL: read by
    the wrong rules, the rest of the literal would be kept as words."""
    postgres = "SELECT * FROM t WHERE a = '\\'' OR secret = 1'"  # one standard literal
    assert sanitize(postgres) == "SELECT * FROM t WHERE a = ?"
    mysql = "SELECT * FROM t WHERE a = 'it\\'s a secret' AND b = `col`"
    assert sanitize(mysql, backslash_escapes=True) == "SELECT * FROM t WHERE a = ? AND b = `col`"
    assert "secret" not in sanitize("SELECT 1 # a secret comment", backslash_escapes=True)
    assert describe("SELECT a FROM `orders` WHERE b = 'x\\'y'", backslash_escapes=True) == (
        Description("SELECT", "orders")
    )


@settings(max_examples=200, deadline=None)
@given(
    number=st.one_of(
        st.integers(min_value=0), st.floats(min_value=0, allow_nan=False, allow_infinity=False)
    )
)
def test_no_number_survives_sanitizing(number: float) -> None:
    assert sanitize(f"UPDATE t SET a = {number!r} WHERE b = 1") == "UPDATE t SET a = ? WHERE b = ?"


def test_long_statements_are_described_without_being_cached() -> None:
    """A bulk INSERT with literals is still attributed; its text is not kept in the cache."""
    values = ", ".join(f"({i}, 'name {i}')" for i in range(2000))
    statement = f"INSERT INTO items (id, name) VALUES {values}"
    assert describe(statement) == Description("INSERT", "items")
    assert "name 1999" not in sanitize(statement)
    assert describe(f"SELECT * FROM items WHERE x IN ({values})").collection is None
