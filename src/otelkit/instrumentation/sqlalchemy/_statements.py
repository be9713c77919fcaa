"""What otelkit reads from a SQL statement's text: the operation, the table, a sanitized copy.

One lexer pass splits a statement into comments, string and number literals, placeholders,
identifiers and punctuation. From it:

* ``sanitize()`` gives the text with every literal (strings of any kind, dollar-quoted bodies,
  numbers) replaced by ``?`` and comments removed; placeholders (``$1``, ``%(name)s``, ``:name``,
  ``?``) and identifiers are kept. Anything the lexer cannot place is replaced rather than kept,
  so an unterminated string, quoted identifier or comment hides everything after it. Block
  comments nest (PostgreSQL and the SQL standard; MySQL's do not), and SQLite's ``"..."`` is
  replaced too: SQLite reads it as a string when no column has that name, which only the
  database knows.
* ``describe()`` gives ``db.operation.name`` (the first keyword, or the main statement's after a
  ``WITH`` clause) and ``db.collection.name``: for a statement that changes a table, the table it
  changes (``INSERT INTO t``, ``UPDATE t``, ``DELETE FROM t``, ``CREATE/ALTER/DROP TABLE t``,
  ``TRUNCATE t``, ``CREATE INDEX … ON t``, ``COPY t``), whatever it reads besides; for a
  ``SELECT``, the table only when it reads exactly one (joins, subqueries, set operations and
  lists of tables give none: a wrong table would be worse than none).

Both work on the sanitized tokens, so a keyword inside a string literal never misleads them, and
both are cached per statement string (bounded LRU; statements longer than ``MAX_CACHED`` are
described from their first ``MAX_CACHED`` characters and never cached).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import NamedTuple

__all__ = ["Description", "describe", "sanitize"]

CACHE_SIZE = 2048
MAX_CACHED = 4096

OPERATIONS = frozenset(
    {
        "ALTER", "ANALYZE", "BEGIN", "CALL", "CHECKPOINT", "CLOSE", "CLUSTER", "COMMENT",
        "COMMIT", "COPY", "CREATE", "DEALLOCATE", "DECLARE", "DELETE", "DISCARD", "DO", "DROP",
        "END", "EXECUTE", "EXPLAIN", "FETCH", "GRANT", "IMPORT", "INSERT", "LISTEN", "LOAD",
        "LOCK", "MERGE", "MOVE", "NOTIFY", "PREPARE", "REASSIGN", "REFRESH", "REINDEX",
        "RELEASE", "RESET", "REVOKE", "ROLLBACK", "SAVEPOINT", "SECURITY", "SELECT", "SET",
        "SHOW", "START", "TABLE", "TRUNCATE", "UNLISTEN", "UPDATE", "VACUUM", "VALUES",
        "WITH",
    }
)  # fmt: skip
"""First keywords reported as ``db.operation.name``; any other first word gives none, so a
malformed statement cannot create a series per typo."""
_MAIN_AFTER_WITH = frozenset({"SELECT", "INSERT", "UPDATE", "DELETE", "MERGE", "VALUES", "TABLE"})
_SET_OPERATIONS = frozenset({"JOIN", "UNION", "INTERSECT", "EXCEPT"})
# Words after a table name that start the next clause (so they are not an alias).
_CLAUSES = frozenset(
    {
        "WHERE", "GROUP", "ORDER", "LIMIT", "OFFSET", "FETCH", "FOR", "HAVING", "WINDOW",
        "RETURNING", "SET", "VALUES", "DEFAULT", "ON", "OVERRIDING", "SELECT", "AS",
        "TABLESAMPLE", "WITH", "FROM", "TO", "OWNER", "RENAME", "ADD", "ALTER", "CASCADE",
        "RESTRICT", "CONTINUE", "RESTART", "INHERIT", "PARTITION",
    }
)  # fmt: skip

# Where a quoted literal ends depends on the database. Standard SQL (PostgreSQL, SQLite):
# backslashes are ordinary characters in '...' and escapes only in E'...'. MySQL and MariaDB:
# backslashes escape in every literal, and "..." is a string too. Lexing one database's
# literal by the other's rules ends it early, and the rest of it would be kept as words.
_STANDARD = r"""
      (?P<comment>--[^\n]*|/\*)
    | (?P<string>[Ee]'(?:[^'\\]|\\.|'')*(?:'|\Z)
                |(?:[BbXxNn]|[Uu]&)?'(?:[^']|'')*(?:'|\Z))
    | (?P<quoted>(?:[Uu]&)?"(?:[^"]|"")*(?:"|\Z))"""
_BACKSLASH = r"""
      (?P<comment>--[^\n]*|\#[^\n]*|/\*.*?(?:\*/|\Z))
    | (?P<string>(?:[EeBbXxNn]|_[A-Za-z0-9]+)?'(?:[^'\\]|\\.|'')*(?:'|\Z)
                |"(?:[^"\\]|\\.|"")*(?:"|\Z))
    | (?P<quoted>`(?:[^`]|``)*(?:`|\Z))"""
_COMMON = r"""
    | (?P<param>\$\d+)
    | (?P<dollar>\$(?P<tag>[A-Za-z_][A-Za-z_0-9]*|)\$.*?(?:\$(?P=tag)\$|\Z))
    | (?P<word>[A-Za-z_\x80-\U0010ffff][A-Za-z_0-9$\x80-\U0010ffff]*)
    | (?P<number>0[xX][0-9A-Fa-f_]+|0[oO][0-7_]+|0[bB][01_]+
                 |(?:\d[\d_]*(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)
    | (?P<space>\s+)
    | (?P<other>.)
    """
_LEXERS = {
    False: re.compile(_STANDARD + _COMMON, re.VERBOSE | re.DOTALL),
    True: re.compile(_BACKSLASH + _COMMON, re.VERBOSE | re.DOTALL),
}
"""By ``backslash_escapes``: MySQL and MariaDB (True), every other database (False). The
standard lexer matches only a block comment's opening: ``_comment_end`` finds its nested end."""
_REPLACED = frozenset({"dollar", "string", "number"})
_COMMENT_MARKS = re.compile(r"/\*|\*/")


class Description(NamedTuple):
    """What a statement says about itself."""

    operation: str | None
    """``db.operation.name``: SELECT, INSERT, CREATE…, or None for an unknown first word."""
    collection: str | None
    """``db.collection.name``: the one table the statement names, or None."""


class _Token(NamedTuple):
    kind: str  # word, quoted, other, param, literal
    text: str


def _comment_end(statement: str, start: int) -> int:
    """Where the block comment opened at ``start`` ends, nested comments included."""
    depth = 0
    for mark in _COMMENT_MARKS.finditer(statement, start):
        depth += 1 if mark.group() == "/*" else -1
        if depth == 0:
            return mark.end()
    return len(statement)  # unterminated: the comment hides the rest


def _lex(
    statement: str, backslash_escapes: bool, double_quoted_strings: bool = False
) -> tuple[str, list[_Token]]:
    """The sanitized text and the significant tokens (no spaces, no comments)."""
    out: list[str] = []
    tokens: list[_Token] = []
    lexer = _LEXERS[backslash_escapes]
    position, end = 0, len(statement)
    while position < end:
        match = lexer.match(statement, position)  # always matches: ``other`` takes any char
        if match is None:  # pragma: no cover (defensive)
            break
        kind = match.lastgroup or "other"
        text = match.group()
        position = match.end()
        if kind == "comment":
            if text == "/*":
                position = _comment_end(statement, match.start())
            continue
        if kind in _REPLACED:
            out.append("?")
            tokens.append(_Token("literal", "?"))
            continue
        if kind == "quoted":
            # Unterminated: whatever follows is unknown text. SQLite: "..." may be a string.
            body = text[2:] if text[:2] in ("U&", "u&") else text
            if len(body) < 2 or body[-1] != body[0] or (double_quoted_strings and body[0] == '"'):
                out.append("?")
                tokens.append(_Token(kind, text))
                continue
        out.append(text)
        if kind != "space":
            tokens.append(_Token(kind, text))
    return "".join(out).strip(), tokens


def _sanitize(
    statement: str, backslash_escapes: bool = False, double_quoted_strings: bool = False
) -> str:
    return _lex(statement, backslash_escapes, double_quoted_strings)[0]


def _describe(statement: str, backslash_escapes: bool = False) -> Description:
    tokens = _lex(statement[:MAX_CACHED], backslash_escapes)[1]
    words = [t.text.upper() if t.kind == "word" else t.text for t in tokens]
    start = 0
    while start < len(words) and words[start] == "(":
        start += 1
    if start == len(words) or words[start] not in OPERATIONS:
        return Description(None, None)
    operation = words[start]
    if operation == "WITH":
        main = _main_after_with(words, start + 1)
        return Description(main or operation, None)
    truncated = len(statement) > MAX_CACHED
    if start or (truncated and operation == "SELECT"):
        return Description(operation, None)
    return Description(operation, _collection(operation, tokens, words))


def _main_after_with(words: list[str], index: int) -> str | None:
    depth = 0
    for word in words[index:]:
        if word == "(":
            depth += 1
        elif word == ")":
            depth -= 1
        elif depth == 0 and word in _MAIN_AFTER_WITH:
            return word
    return None


def _collection(operation: str, tokens: list[_Token], words: list[str]) -> str | None:
    position: int | None = None
    if operation == "SELECT":
        if words.count("SELECT") > 1 or any(word in _SET_OPERATIONS for word in words):
            return None
        position = _after_top_level(words, "FROM")
        if position is not None and _is_single_table_list(tokens, words, position):
            return _name_at(tokens, words, position)
        return None
    if operation == "INSERT":
        position = _expect(words, 1, "INTO")
    elif operation == "UPDATE":
        position = _skip(words, 1, "ONLY")
    elif operation == "DELETE":
        position = _skip(words, _expect(words, 1, "FROM"), "ONLY")
    elif operation == "TRUNCATE":
        position = _skip(words, _skip(words, 1, "TABLE"), "ONLY")
        if "," in words:
            return None
    elif operation == "COPY":
        position = 1
    elif operation in ("CREATE", "ALTER", "DROP"):
        position = _ddl_position(words)
        if operation == "DROP" and "," in words:
            return None
    return _name_at(tokens, words, position)


def _ddl_position(words: list[str]) -> int | None:
    index = 1
    if words[index : index + 2] == ["OR", "REPLACE"]:
        index += 2
    while index < len(words) and words[index] in (
        "TEMP", "TEMPORARY", "UNLOGGED", "GLOBAL", "LOCAL", "FOREIGN", "UNIQUE",
    ):  # fmt: skip
        index += 1
    if index >= len(words):
        return None
    if words[index] == "TABLE":
        index += 1
        for guard in (("IF", "NOT", "EXISTS"), ("IF", "EXISTS")):
            if tuple(words[index : index + len(guard)]) == guard:
                index += len(guard)
        return _skip(words, index, "ONLY")
    if words[index] == "INDEX" and words[0] == "CREATE":
        on = _after_top_level(words, "ON")
        return _skip(words, on, "ONLY") if on is not None else None
    return None


def _expect(words: list[str], index: int | None, word: str) -> int | None:
    if index is not None and index < len(words) and words[index] == word:
        return index + 1
    return None


def _skip(words: list[str], index: int | None, word: str) -> int | None:
    if index is not None and index < len(words) and words[index] == word:
        return index + 1
    return index


def _after_top_level(words: list[str], keyword: str) -> int | None:
    depth = 0
    for index, word in enumerate(words):
        if word == "(":
            depth += 1
        elif word == ")":
            depth -= 1
        elif depth == 0 and word == keyword:
            return index + 1
    return None


def _name_end(tokens: list[_Token], index: int) -> int | None:
    """The index after a (possibly schema-qualified) name starting at ``index``, or None."""
    if index >= len(tokens) or tokens[index].kind not in ("word", "quoted"):
        return None
    end = index + 1
    while (
        end + 1 < len(tokens)
        and tokens[end].text == "."
        and tokens[end + 1].kind in ("word", "quoted")
    ):
        end += 2
    return end


def _is_single_table_list(tokens: list[_Token], words: list[str], index: int) -> bool:
    """After FROM: one name, an optional alias, then no comma (a list of tables)."""
    end = _name_end(tokens, index)
    if end is None:
        return False
    if end < len(words) and words[end] == "AS":
        end += 1
    if end < len(tokens) and tokens[end].kind in ("word", "quoted") and words[end] not in _CLAUSES:
        end += 1
    return not (end < len(words) and words[end] in (",", "("))


def _name_at(tokens: list[_Token], words: list[str], index: int | None) -> str | None:
    if index is None:
        return None
    end = _name_end(tokens, index)
    if end is None or (tokens[index].kind == "word" and words[index] in _CLAUSES):
        return None
    parts = [_unquote(t) for t in tokens[index:end:2]]
    return ".".join(parts) if all(parts) else None


def _unquote(token: _Token) -> str:
    if token.kind != "quoted":
        return token.text
    text = token.text
    if text[:1] == "`":  # MySQL
        return text[1:-1].replace("``", "`") if len(text) >= 2 and text.endswith("`") else ""
    if text[:2] in ("U&", "u&") or not text.endswith('"') or len(text) < 2:
        return ""
    return text[1:-1].replace('""', '"')


_sanitize_cached = lru_cache(maxsize=CACHE_SIZE)(_sanitize)
_describe_cached = lru_cache(maxsize=CACHE_SIZE)(_describe)


def sanitize(
    statement: str, *, backslash_escapes: bool = False, double_quoted_strings: bool = False
) -> str:
    """The statement with literals replaced by ``?`` and comments removed (cached).

    ``backslash_escapes``: the database reads backslashes as escapes in every string literal
    (MySQL, MariaDB); otherwise standard SQL (PostgreSQL, SQLite, ...).
    ``double_quoted_strings``: ``"..."`` may be a string (SQLite), so it is replaced as well.
    """
    if len(statement) > MAX_CACHED:
        return _sanitize(statement, backslash_escapes, double_quoted_strings)
    return _sanitize_cached(statement, backslash_escapes, double_quoted_strings)


def describe(statement: str, *, backslash_escapes: bool = False) -> Description:
    """The statement's operation and table (cached per statement string)."""
    if len(statement) > MAX_CACHED:
        return _describe(statement, backslash_escapes)
    return _describe_cached(statement, backslash_escapes)
