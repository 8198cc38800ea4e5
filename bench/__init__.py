"""Benchmarks of the hardening CLI, fleet mode and the Pulumi program: `make bench`.

run          - the orchestration and the command line (`python -m bench.run [--quick]`)
measure      - whole-process wall time and peak RSS of one child process, the machine
report       - rows, targets, the printed table and bench/RESULTS.md
preview_once - one run of the Pulumi program under mocks, in its own process
"""
