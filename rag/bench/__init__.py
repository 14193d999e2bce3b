"""`rag bench`: ingestion, HTTP latency, concurrency, start-up, growth, a LangChain peer, and (with
--scale) a million-vector test of each index type. Prints tables, writes JSON. See run.py."""
