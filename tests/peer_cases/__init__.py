"""The peer benchmark's cases: one module per public thread, ported to small PyTorch setups.

Each module records where the program comes from (``SOURCE`` repository, ``PATH`` in it, ``POST``
the Stack Overflow / forum thread as the repository records it), the bug in one sentence (``BUG``),
the thread's fix (``FIX``), the codes that name the fault (``EXPECTED``), the words of the fix a
finding's fix line must contain to count as naming it (``FIX_KEYWORDS``), ``SCOPE`` (multi-label,
binary or single-label), ``ALARM`` (False when the "buggy" program is not wrong in PyTorch terms:
the right answer is then no error or warning), ``PORT`` (what was kept and what was shrunk), and
``buggy()`` / ``clean()`` returning a :class:`helpers.diagnose.benchmark.Setup`.

``python -m helpers.diagnose.benchmark`` scores them; ``tests/test_peer_benchmark.py`` pins the scores.
"""
