"""specsep's applications: the ``specsep`` command line and its commands, the oracle evaluation of
datasets (public as :mod:`specsep.oracle`), the benchmark harness and its peers, the demo clip,
progress lines, and the generators of docs tables (kernel resources, roofline).

Tools use specsep's public API only, and the library never imports them (``import specsep``
loads none; tests/test_import_structure.py keeps it so).
"""
