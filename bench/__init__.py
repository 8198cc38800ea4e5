"""Benchmarks of the hardening CLI, fleet mode and the Pulumi program: `make bench`.

run          - the orchestration and the command line (`python -m bench.run [--quick]`)
scenarios    - the measured CLI and program runs; hosts: the fresh chroot hosts they use
rows         - the table rows (figures, targets) and the method text
latency      - round trips over a delay line (`python -m bench.latency`): latency_scenarios
               (each tool on a fresh host), latency_report (figures, goals, its section)
measure      - whole-process wall time and peak RSS of one child process, the machine
report       - rows, targets, the printed table and bench/RESULTS.md
preview_once - one run of the Pulumi program under mocks, in its own process
"""
