"""Experiments (flagfiles of cells, the run pool, Dask), the results ledger, and the report's
published numbers."""
