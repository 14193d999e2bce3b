"""Ray for the cluster mode (the `cluster` extra): `ingest` (Ray Data into PostgreSQL) and
`serve` (API replicas on Ray Serve)."""
