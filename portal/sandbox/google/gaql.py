"""The emulated Google Ads' query language (GAQL), just enough of it.

`SELECT fields FROM resource [WHERE a = 'x' AND b IN (...) AND c <= 1]
[ORDER BY ...] [LIMIT n]` over the four resources the sandbox serves. The
fields are the resources' own (google/ads/googleads/<version>/resources/
*.proto, transcribed in tests/platform_specs/google/ads-<version>.json); a
row is answered in proto3 JSON: lowerCamel names, 64-bit integers as strings.
A query the sandbox cannot read raises `QueryError` with a QueryError code
Google publishes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

_QUERY = re.compile(
    r"^\s*SELECT\s+(?P<fields>.+?)\s+FROM\s+(?P<resource>[a-z_]+)"
    r"(?:\s+WHERE\s+(?P<where>.+?))?(?:\s+ORDER\s+BY\s+.+?)?(?:\s+LIMIT\s+(?P<limit>\d+))?\s*$",
    re.IGNORECASE | re.DOTALL,
)
_CONDITION = re.compile(
    r"^\s*(?P<field>[a-z_.]+)\s*(?P<op>!=|<=|>=|=|<|>|\bNOT\s+IN\b|\bIN\b)\s*(?P<value>.+?)\s*$",
    re.IGNORECASE,
)
_LITERAL = re.compile(r"""^\s*(?:'(?P<s>[^']*)'|"(?P<d>[^"]*)"|(?P<raw>[^\s,()]+))\s*$""")
INT64_FIELDS = frozenset({"id", "level", "manager_link_id"})
FIELDS = {
    "customer": (
        "resource_name",
        "id",
        "descriptive_name",
        "currency_code",
        "time_zone",
        "manager",
        "test_account",
        "status",
    ),
    "customer_client": (
        "resource_name",
        "client_customer",
        "id",
        "descriptive_name",
        "level",
        "manager",
        "status",
        "currency_code",
        "time_zone",
        "hidden",
        "test_account",
    ),
    "customer_client_link": (
        "resource_name",
        "client_customer",
        "manager_link_id",
        "status",
        "hidden",
    ),
    "customer_manager_link": ("resource_name", "manager_customer", "manager_link_id", "status"),
}


class QueryError(Exception):
    """A query the sandbox cannot run: `code` is a QueryErrorEnum value."""

    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


@dataclass(frozen=True)
class Query:
    resource: str
    fields: tuple[str, ...]
    conditions: tuple[tuple[str, str, Any], ...]
    limit: int | None

    def matches(self, row: dict[str, Any]) -> bool:
        return all(_matches(row.get(f.split(".", 1)[1]), op, v) for f, op, v in self.conditions)

    def project(self, row: dict[str, Any]) -> dict[str, Any]:
        """A GoogleAdsRow: the selected fields of the resource, in proto3 JSON."""
        out: dict[str, Any] = {"resourceName": row["resource_name"]}
        for field in self.fields:
            name = field.split(".", 1)[1]
            value = row.get(name)
            if value is None:
                continue
            out[camel(name)] = str(value) if name in INT64_FIELDS else value
        return {camel(self.resource): out}


def parse(text: str) -> Query:
    match = _QUERY.match(text)
    if not match:
        raise QueryError("UNEXPECTED_INPUT", "Error in query: expected SELECT ... FROM ....")
    resource = match.group("resource").lower()
    if resource not in FIELDS:
        raise QueryError(
            "PROHIBITED_RESOURCE_TYPE_IN_FROM_CLAUSE", f"Unsupported resource '{resource}'."
        )
    fields = tuple(f.strip() for f in match.group("fields").split(",") if f.strip())
    for field in fields:
        _check_field(field, resource)
    limit = match.group("limit")
    return Query(
        resource,
        fields,
        tuple(_conditions(match.group("where"), resource)),
        int(limit) if limit else None,
    )


def _literal(raw: str) -> Any:
    match = _LITERAL.match(raw)
    if not match:
        raise QueryError("UNEXPECTED_INPUT", f"Error in query: unexpected input {raw}.")
    if match.group("s") is not None or match.group("d") is not None:
        return match.group("s") if match.group("s") is not None else match.group("d")
    value = match.group("raw")
    if value.upper() in ("TRUE", "FALSE"):
        return value.upper() == "TRUE"
    return value


def _matches(value: Any, op: str, wanted: Any) -> bool:
    op = " ".join(op.upper().split())
    if op in ("IN", "NOT IN"):
        found = str(value) in [str(x) for x in wanted]
        return found if op == "IN" else not found
    if op in ("=", "!="):
        same = str(value).lower() == str(wanted).lower()
        return same if op == "=" else not same
    try:
        left, right = float(value), float(wanted)
    except (TypeError, ValueError):
        return False
    return {"<": left < right, "<=": left <= right, ">": left > right, ">=": left >= right}[op]


def _conditions(where: str | None, resource: str) -> list[tuple[str, str, Any]]:
    if not where:
        return []
    parsed = []
    for part in re.split(r"\s+AND\s+", where, flags=re.IGNORECASE):
        match = _CONDITION.match(part)
        if not match:
            raise QueryError("UNEXPECTED_INPUT", f"Error in query: cannot read '{part}'.")
        field = match.group("field")
        _check_field(field, resource)
        raw = match.group("value").strip()
        if raw.startswith("("):
            if not raw.endswith(")"):
                raise QueryError("UNEXPECTED_END_OF_QUERY", "Error in query: missing ')'.")
            value: Any = [_literal(x) for x in raw[1:-1].split(",") if x.strip()]
        else:
            value = _literal(raw)
        parsed.append((field, match.group("op"), value))
    return parsed


def _check_field(field: str, resource: str) -> None:
    prefix, _, name = field.partition(".")
    if prefix != resource or name not in FIELDS[resource]:
        raise QueryError("UNRECOGNIZED_FIELD", f"Unrecognized field in the query: '{field}'.")


__all__ = ["FIELDS", "INT64_FIELDS", "Query", "QueryError", "camel", "parse"]
