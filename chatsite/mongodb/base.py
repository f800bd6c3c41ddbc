"""The embedded database's backend: django-mongodb-backend with the adapter's compilers and
features (see the package docstring)."""

from django_mongodb_backend.base import DatabaseWrapper as MongoDatabaseWrapper
from django_mongodb_backend.features import DatabaseFeatures as MongoDatabaseFeatures
from django_mongodb_backend.operations import DatabaseOperations as MongoDatabaseOperations


class DatabaseFeatures(MongoDatabaseFeatures):
    # SecantusDB reads every document an index range or a sort covers before it applies the
    # limit and the skip (its `explain`: docs/benchmarks.md, the message admin). MongoDB stops
    # at the limit; the stock backend's features have no such flag.
    limit_reads_whole_index_range = True
    # It serves no `$or` from indexes, even when each branch could be (MongoDB reads each
    # branch's index range and merges them): it reads the whole collection. The stock
    # backend's features have no such flag.
    or_reads_whole_collection = True


class DatabaseOperations(MongoDatabaseOperations):
    compiler_module = "chatsite.mongodb.compiler"


class DatabaseWrapper(MongoDatabaseWrapper):
    features_class = DatabaseFeatures
    ops_class = DatabaseOperations
