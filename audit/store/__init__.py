"""The SQL of the foundation: the connection, the schema, the history chain, and reads and
writes shared by every package's services."""
