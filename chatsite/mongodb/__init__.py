"""django-mongodb-backend, with filters sent as flat conjunctions (see `compiler`)."""
