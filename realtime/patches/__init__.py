"""Where this project changes its libraries' private behaviour, one module per library.

Each module names the library version it was written against, and
`realtime/tests/test_patches.py` runs the real library through each patch (a real server, a
real WebSocket) and fails when one stops applying. Product code outside this package uses the
libraries' public APIs only (docs/architecture.md, "Patches")."""
