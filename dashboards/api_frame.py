"""What Grafana shows of an iocmon API answer read through the Infinity plugin: the frame its
backend parser makes of the JSON, its row filter, and then the table panel's transformations.

- The frame has one field per column of the query, named by the column's `text` (its alias),
  or by its selector when the text is empty (infinity-libs `jsonframer`).
- The row filter (`filterExpression`, a govaluate expression) sees each field under its name
  and under a slug of it (lower case, every character but [0-9A-Za-z_] replaced by `_`); a
  name it does not find fails the whole query ("No parameter … found"). So a filter must name
  the field as the column's text calls it, not as the API does.
- The panel's `sortBy`, `limit` and `organize` transformations then work on those names; the
  field overrides, the table's sort and its footer on the names `organize` gives.

`problems` checks all of that on the dashboard JSON alone (the lint); `rows_shown` applies it
to an answer (the integration tests). Only what the dashboards use is modelled; anything else
raises `Unsupported`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

Json = dict[str, Any]
Row = dict[str, Any]

_QUOTED = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"")
_IDENTIFIER = re.compile(r"\[([^\]]+)\]|\b([A-Za-z_]\w*)\b(?!\s*\()")
_CONSTANTS = {"true", "false", "null", "nil", "IN"}
_REGEX_FILTER = re.compile(r"^\s*(\[[^\]]+\]|[A-Za-z_]\w*)\s*=~\s*'((?:[^'\\]|\\.)*)'\s*$")


class Unsupported(ValueError):
    """A query, filter or transformation outside what is modelled here."""


class FilterFailed(ValueError):
    """The plugin would fail the query: its filter names no field of the frame."""


def field_names(query: Json) -> list[str]:
    """The frame's field names, in column order."""
    return [str(c.get("text") or c["selector"]) for c in query.get("columns", [])]


def slug(name: str) -> str:
    """framesql.SlugifyFieldName: Go's `\\w` is ASCII, so Vietnamese letters become `_`."""
    return re.sub(r"[^0-9A-Za-z_]", "_", name.strip().lower()).strip()


def filter_parameters(query: Json) -> set[str]:
    names = field_names(query)
    return set(names) | {slug(n) for n in names} | {"frame", "rowIndex", "null", "nil"}


def names_in_filter(expression: str) -> set[str]:
    """The parameter names a govaluate expression reads (`[a b]` names one with spaces)."""
    text = _QUOTED.sub("''", expression)
    found = set()
    for m in _IDENTIFIER.finditer(text):
        name = m.group(1) or m.group(2)
        if name not in _CONSTANTS:
            found.add(name)
    return found


def frame(query: Json, rows: Sequence[Mapping[str, Any]]) -> list[Row]:
    """The answer's rows under the frame's field names (plain selectors only)."""
    columns = query.get("columns", [])
    for c in columns:
        if not re.fullmatch(r"\w+", str(c["selector"])):
            raise Unsupported(f"selector {c['selector']!r}: only plain keys are modelled")
    names = field_names(query)
    pairs = list(zip(names, columns, strict=True))
    return [{n: row.get(str(c["selector"])) for n, c in pairs} for row in rows]


def apply_filter(query: Json, rows: Sequence[Row], expression: str) -> list[Row]:
    """`expression` (the query's filter, variables substituted) applied as the plugin does;
    only `name =~ 'regex'` is modelled (a Go regexp, matched anywhere in the value)."""
    if not expression.strip():
        return list(rows)
    m = _REGEX_FILTER.match(expression)
    if m is None:
        raise Unsupported(f"filter {expression!r}: only `name =~ 'regex'` is modelled")
    name = m.group(1).strip("[]")
    fields = field_names(query)
    by_slug = {slug(n): n for n in fields}
    field = name if name in fields else by_slug.get(name)
    if field is None:
        raise FilterFailed(
            f"filter {expression!r}: No parameter '{name}' found; the frame's fields are {fields}"
        )
    pattern = re.compile(m.group(2).replace("\\'", "'"))
    return [r for r in rows if r[field] is not None and pattern.search(str(r[field]))]


# ---------------------------------------------------------------------------------------------
# the table panel


def _transformations(panel: Json) -> Iterator[tuple[str, Json]]:
    for t in panel.get("transformations", []):
        if t.get("disabled"):
            continue
        yield str(t["id"]), t.get("options") or {}


def shown_names(panel: Json, names: Sequence[str]) -> list[str]:
    """The field names the panel shows, in order, from the frame's `names`."""
    out = list(names)
    for kind, options in _transformations(panel):
        if kind == "organize":
            out = _organize_names(options, out)
        elif kind not in ("sortBy", "limit"):
            raise Unsupported(f"transformation {kind!r} is not modelled")
    return out


def _organize_names(options: Json, names: list[str]) -> list[str]:
    include = options.get("includeByName") or {}
    exclude = options.get("excludeByName") or {}
    kept = [n for n in names if (include.get(n) if include else True) and not exclude.get(n)]
    index = options.get("indexByName") or {}
    kept.sort(key=lambda n: index.get(n, len(names)))
    rename = options.get("renameByName") or {}
    return [rename.get(n) or n for n in kept]


def rows_shown(panel: Json, rows: Sequence[Row]) -> list[Row]:
    """The rows after the panel's transformations, keyed by the names shown."""
    out = [dict(r) for r in rows]
    for kind, options in _transformations(panel):
        if kind == "sortBy":
            (order,) = options["sort"]
            field = order["field"]
            out.sort(key=lambda r: (r[field] is None, r[field]), reverse=bool(order.get("desc")))
        elif kind == "limit":
            out = out[: int(options["limitField"])]
        elif kind == "organize":
            names = list(out[0]) if out else []
            shown = _organize_names(options, names)
            rename = options.get("renameByName") or {}
            back = {rename.get(n) or n: n for n in names}
            out = [{s: r[back[s]] for s in shown} for r in out]
        else:
            raise Unsupported(f"transformation {kind!r} is not modelled")
    return out


def problems(panel: Json, query: Json) -> Iterator[str]:
    """Names the query's filter, the panel's transformations, overrides, sort and footer use
    that are not fields at that point."""
    fields = field_names(query)
    expression = str(query.get("filterExpression", ""))
    unknown = names_in_filter(expression) - filter_parameters(query)
    for name in sorted(unknown):
        yield f"the row filter reads '{name}', which is no field of the frame {fields}"
    names = list(fields)
    for kind, options in _transformations(panel):
        used: list[str] = []
        if kind == "sortBy":
            used = [o["field"] for o in options.get("sort", [])]
        elif kind == "organize":
            for key in ("includeByName", "indexByName", "renameByName"):
                used += list(options.get(key) or {})
        elif kind != "limit":
            yield f"transformation {kind!r} is not modelled"
            return
        for name in used:
            if name not in names:
                yield f"transformation {kind} names '{name}', which is not among {names}"
        if kind == "organize":
            names = _organize_names(options, names)
    shown = set(names)
    config = panel.get("fieldConfig") or {}
    for override in config.get("overrides", []):
        matcher = override.get("matcher") or {}
        if matcher.get("id") == "byName" and matcher.get("options") not in shown:
            yield f"an override names '{matcher.get('options')}', which is not shown"
    options = panel.get("options") or {}
    for order in options.get("sortBy") or []:
        if order.get("displayName") not in shown:
            yield f"the table sorts by '{order.get('displayName')}', which is not shown"
    for name in (options.get("footer") or {}).get("fields") or []:
        if name not in shown:
            yield f"the footer sums '{name}', which is not shown"
