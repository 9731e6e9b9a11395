"""Benchmarks of invoice_async against hand-written and generated baselines.

Each scenario is one command (``python -m benchmarks.p1_listing`` ... ``p5_memory``, or
``python -m benchmarks.run_all`` for all of them). A scenario starts the embedded fake i3D
server in its own process, runs every contender in a fresh process of its own against it,
checks each contender's result, and prints a table with the targets of the scenario. See
``benchmarks/README.md``.
"""
