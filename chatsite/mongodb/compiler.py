"""django-mongodb-backend's compilers, with each query's filter flattened and joined fields
projected by path, for the embedded database only (see the package docstring for when it is
used).

Filters (`flat_conjunction`):

The ORM writes `filter(pk=x, is_active=True)` as `{"$and": [{"is_active": true}, {"_id": x}]}`.
MongoDB's planner treats that exactly like `{"is_active": true, "_id": x}`, but the embedded
database (SecantusDB 0.7.0b3) uses an index only for the flat form and scans the whole
collection for the `$and` form (likewise for `$all` of one value, and for a range with the
ORM's not-null guards). Flattening is the same query for both, so every query sends the flat
form when it can. What it saves, measured again with `bench/query_rewrite.py`: "The embedded
database's adapter" in docs/benchmarks.md.

Written against django-mongodb-backend 5.2.4 (5.2.x): it rewrites `MongoQuery.match_mql`
after the stock `build_query`. The property test in
`chatsite/tests/test_mongodb_backend.py` checks that random ORM filters answer the same rows
through these compilers as through the stock ones; run it after upgrading either package.

Projections (`included_paths`): a joined field (`values_list("content_type__app_label")`,
`select_related`) is projected as `{"$project": {"django_content_type": {"app_label": 1}}}`.
SecantusDB 0.7.0b3 answers that nested inclusion, in an aggregation, with the literal `1`
instead of the value (so every permission of a non-superuser read as "1.<codename>" and staff
without superuser could use no admin page, and the admin's "Recent actions" named no model).
MongoDB documents `{"a": {"b": 1}}` and `{"a.b": 1}` as the same projection, and SecantusDB
answers the dotted one correctly, so the adapter sends that. The property test in
`chatsite/tests/test_mongodb_backend.py` checks random joined `values_list()`s against the
same values read by the stock compiler as `F()` annotations (a form SecantusDB answers)."""

from django_mongodb_backend import compiler
from django_mongodb_backend.compiler import SQLInsertCompiler  # noqa: F401 (no filter)


def flat_conjunction(mql: dict) -> dict:
    """`{"$and": [{"a": 1}, {"b": {"$gt": 2}}, {"b": {"$ne": None}}]}` →
    `{"a": 1, "b": {"$gt": 2, "$ne": None}}`; anything it can't merge without changing the
    meaning (a field compared to a value twice, one operator with two values, two `$expr` or
    `$or` conditions) stays as it was. Then each field's condition is simplified (see
    `_simplified`)."""
    merged = _merged(mql)
    if merged is None:
        return mql
    return {
        key: condition if key.startswith("$") else _simplified(condition)
        for key, condition in merged.items()
    }


def _merged(mql: object) -> dict | None:
    if not isinstance(mql, dict):
        return None
    if list(mql) != ["$and"]:
        return mql
    merged: dict = {}
    for part in mql["$and"]:
        part = _merged(part)
        if part is None:
            return None
        for key, condition in part.items():
            if key not in merged:
                merged[key] = condition
            elif key.startswith("$"):
                # Two `$expr` (or `$or`...) conditions: their operators apply to different
                # arguments, so they can't share one object.
                return None
            elif (
                _operators(merged[key])
                and _operators(condition)
                and all(merged[key].get(op, value) == value for op, value in condition.items())
            ):
                merged[key] = {**merged[key], **condition}
            else:
                return None
    return merged


RANGE = ("$gt", "$gte", "$lt", "$lte")


def _simplified(condition: object) -> object:
    """The same condition in the form SecantusDB serves from an index:
    - `{"$all": [x]}` → `x` (MongoDB documents the two as equivalent): the conversations of
      a user;
    - `{"$gte": 5, "$exists": true, "$ne": null}` → `{"$gte": 5}`: a comparison with a value
      never matches a missing or null field (a page of messages by seq range)."""
    if not _operators(condition):
        return condition
    if list(condition) == ["$all"] and len(condition["$all"]) == 1:
        (value,) = condition["$all"]
        return condition if isinstance(value, dict) else value
    if not any(condition.get(op) is not None for op in RANGE):
        return condition
    implied = {"$exists": True, "$ne": None}
    return {
        op: value for op, value in condition.items() if not (op in implied and implied[op] == value)
    }


def _operators(condition: object) -> bool:
    return (
        isinstance(condition, dict)
        and bool(condition)
        and all(key.startswith("$") for key in condition)
    )


def included_paths(project: dict | None) -> dict | None:
    """`{"codename": 1, "T2": {"app_label": 1, "model": 1}}` →
    `{"codename": 1, "T2.app_label": 1, "T2.model": 1}`: a joined collection's included fields
    as dotted paths. Where the nested object also holds an expression (an `F()` annotation of
    a joined field), a path can't sit beside it: its inclusions become the same field as an
    expression (`"$T2.app_label"`), which is the same value for the joined document (one
    object, after the backend's `$unwind`)."""
    if not project:
        return project
    paths: dict = {}
    for key, value in project.items():
        if not isinstance(value, dict) or not value or any(n.startswith("$") for n in value):
            # A value or an expression (`{"$literal": 1}`), not a joined collection's fields.
            paths[key] = value
        elif all(v == 1 for v in value.values()):
            paths.update({f"{key}.{name}": 1 for name in value})
        else:
            paths[key] = {name: f"${key}.{name}" if v == 1 else v for name, v in value.items()}
    return paths


class FlatMatch:
    def build_query(self, *args, **kwargs):
        query = super().build_query(*args, **kwargs)
        query.match_mql = flat_conjunction(query.match_mql)
        query.project_fields = included_paths(query.project_fields)
        return query


class SQLCompiler(FlatMatch, compiler.SQLCompiler):
    pass


class SQLDeleteCompiler(FlatMatch, compiler.SQLDeleteCompiler):
    pass


class SQLUpdateCompiler(FlatMatch, compiler.SQLUpdateCompiler):
    pass


class SQLAggregateCompiler(FlatMatch, compiler.SQLAggregateCompiler):
    pass
