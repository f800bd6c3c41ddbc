"""Where this project touches a library's private parts: one module per library, each naming the
version it was written against, each with a contract test that fails when it stops applying."""
