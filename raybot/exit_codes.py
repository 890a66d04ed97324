"""Named exit codes, documented in README.md."""

OK = 0  #: success; for ``diagnose``: no check failed
FINDINGS = 1  #: ``diagnose`` found at least one failing check
USAGE = 2  #: bad command line or bad input (empty question, unknown thread id, ...)
UNREACHABLE = 3  #: no Ray cluster could be reached
INDEX = 4  #: the index is missing/corrupt/mismatched and could not be rebuilt
KB = 5  #: the knowledge base has invalid entries (``raybot kb lint``)
STORE = 6  #: the thread store cannot be used at all
INTERNAL = 70  #: a bug in raybot, never 1 (FINDINGS); ``RAYBOT_DEBUG=1`` shows the traceback
INTERRUPTED = 130  #: interrupted (Ctrl-C)
EOF_ = INTERRUPTED  #: the old name of ``INTERRUPTED``
