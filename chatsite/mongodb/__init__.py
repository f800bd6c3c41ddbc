"""The embedded database's adapter: django-mongodb-backend with filters sent as flat
conjunctions (see `compiler`). `settings.DATABASES` uses it only when the database is the
embedded SecantusDB (`EMBEDDED_MONGODB_URI`, set by `chatsite.embedded_db`'s launchers); on
MongoDB the stock backend runs."""
