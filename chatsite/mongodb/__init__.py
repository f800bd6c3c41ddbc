"""The embedded database's adapter: django-mongodb-backend as the engine for SecantusDB, with
the quirks of that database handled here and nowhere else. `settings.DATABASES` uses it only
when the database is the embedded SecantusDB (`EMBEDDED_MONGODB_URI`, set by
`chatsite.embedded_db`'s launchers); on MongoDB the stock backend runs and the queries go out
as it writes them (`test_the_adapter_runs_only_on_the_embedded_database`).

What it handles (SecantusDB 0.7.0b3), and how each is tested:
- Filters it can't serve from an index: `{"$and": [...]}` of fields, `{"$all": [x]}`, a range
  with the ORM's not-null guards. `compiler.flat_conjunction` sends the flat, equivalent form.
  Tested: `chatsite/tests/test_mongodb_backend.py`, examples and a property test of random ORM
  filters against the stock compiler (same rows).
- Its projection bug: a nested inclusion after a `$lookup` (`{"T": {"app_label": 1}}`) comes
  back as the literal `1`, which broke permission names (Django's `ModelBackend`) and
  `select_related`. `compiler.included_paths` sends the dotted form. Tested: the same module,
  a property test of random joined `values_list()`s against the stock compiler's `F()`
  annotations, a test that the embedded database still has the bug, and the admin tests of
  staff moderators without superuser (`messaging/tests/test_admin.py`,
  `accounts/tests/test_admin.py`).
- `findAndModify` scans the collection. `commands.find_one_and_update` (exported here) is
  pymongo's on MongoDB and an indexed update and find in a transaction with the embedded
  database. Tested: `chatsite/tests/test_mongodb_commands.py` (same documents either way, the
  commands each sends); figures from `bench/find_and_modify.py`.
- Only a filter of equalities alone is served from an index (`$all`, a range or a null check
  beside them: a scan). `commands.find_ids_holding_all` (search: messages holding every word)
  is one `$all` query on MongoDB and an equality on one word, the rest checked in Python, with
  the embedded database. Tested: `chatsite/tests/test_mongodb_commands.py` (same ids either
  way, a property test), `messaging/tests/test_search.py` (the index it reads).
- An `$or` is never served from indexes, even when each branch could be: it reads the whole
  collection. The adapter's features say so (`or_reads_whole_collection`); `/api/sync` then
  reads each changed conversation's window of versions with its own query
  (`messaging.selectors._messages_in_windows`), where MongoDB gets one `$or`. Tested:
  `messaging/tests/test_apis.py` (both ways, same messages; each window from the index; the
  `$or` still a scan here). Measured: a sync touching two conversations cost the database
  28 ms of CPU among 1,050 messages, 4.6 ms after (docs/benchmarks.md).
- A limit doesn't stop its reading of an index range or a sort. The adapter's features say so
  (`limit_reads_whole_index_range`); the message admin's paginator then reads pages by time
  windows (`messaging.admin.NewestMessagesPaginator`). Tested: `messaging/tests/test_admin.py`,
  windowed pages on the embedded database, plain slices with the flag off, same rows.
"""

from chatsite.mongodb.commands import find_ids_holding_all, find_one_and_update

__all__ = ["find_ids_holding_all", "find_one_and_update"]
