"""The composition root: each module builds one feature's parts from the configuration, and
:mod:`callbridge.wiring.serve` puts them together.  Only ``callbridge.main`` and
``callbridge.cli`` import this package (tests/test_import_graph.py)."""
