"""django-mongodb-backend's compilers, with each query's filter flattened.

The ORM writes `filter(pk=x, is_active=True)` as `{"$and": [{"is_active": true}, {"_id": x}]}`.
MongoDB's planner treats that exactly like `{"is_active": true, "_id": x}`, but the embedded
database (SecantusDB) uses an index only for the flat form and scans the whole collection for
the `$and` form: 80 ms instead of 1.5 ms for a user looked up by id among 2,000. Flattening is
the same query for both, so every query sends the flat form when it can."""

from django_mongodb_backend import compiler
from django_mongodb_backend.compiler import SQLInsertCompiler  # noqa: F401 (no filter)


def flat_conjunction(mql: dict) -> dict:
    """`{"$and": [{"a": 1}, {"b": {"$gt": 2}}, {"b": {"$ne": None}}]}` →
    `{"a": 1, "b": {"$gt": 2, "$ne": None}}`; anything it can't merge without changing the
    meaning (a field compared to a value twice, one operator with two values) stays as it
    was."""
    if not isinstance(mql, dict) or list(mql) != ["$and"]:
        return mql
    merged: dict = {}
    for part in mql["$and"]:
        part = flat_conjunction(part)
        if not isinstance(part, dict):
            return mql
        for key, condition in part.items():
            if key not in merged:
                merged[key] = condition
            elif (
                _operators(merged[key])
                and _operators(condition)
                and all(merged[key].get(op, value) == value for op, value in condition.items())
            ):
                merged[key] = {**merged[key], **condition}
            else:
                return mql
    return {key: _without_implied(condition) for key, condition in merged.items()}


RANGE = ("$gt", "$gte", "$lt", "$lte")


def _without_implied(condition: object) -> object:
    """`{"$gte": 5, "$exists": true, "$ne": null}` → `{"$gte": 5}`: a comparison with a value
    never matches a missing or null field, and SecantusDB ignores the index when the extra
    operators are there (800 ms instead of 8 ms for 50 messages out of 10,000)."""
    if not _operators(condition) or not any(condition.get(op) is not None for op in RANGE):
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


class FlatMatch:
    def build_query(self, *args, **kwargs):
        query = super().build_query(*args, **kwargs)
        query.match_mql = flat_conjunction(query.match_mql)
        return query


class SQLCompiler(FlatMatch, compiler.SQLCompiler):
    pass


class SQLDeleteCompiler(FlatMatch, compiler.SQLDeleteCompiler):
    pass


class SQLUpdateCompiler(FlatMatch, compiler.SQLUpdateCompiler):
    pass


class SQLAggregateCompiler(FlatMatch, compiler.SQLAggregateCompiler):
    pass
