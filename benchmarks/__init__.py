"""Benchmarks of flyteadmin_ops, each printed as a ratio against a baseline measured in the same run.

Run with `python -m benchmarks` (or `tox -e bench`); `--quick` shrinks every workload for a smoke run and
`--only NAME` picks one. Everything runs against in-process emulators on loopback, so the numbers compare
approaches on the same machine at the same moment; absolute values depend on the machine. The one absolute
figure printed on purpose is the emulator's RPC/s for GetTask and CreateTask on loopback (issue 3), so that a
regression of the emulator itself shows, not only of our client relative to it.
"""
