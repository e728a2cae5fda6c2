"""wagi_nb's benchmarks: ``python benchmarks/run.py`` runs them and rewrites docs/benchmarks.md."""
