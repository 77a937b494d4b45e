"""SQL implementation shared by the SQLite and PostgreSQL backends."""
