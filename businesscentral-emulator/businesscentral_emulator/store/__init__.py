"""The tenant's rows: SQLite tables per entity set, the environments that own them, and reads."""
