"""Named exit codes, documented in README.md."""

OK = 0  #: success; for ``diagnose``: no check failed
FINDINGS = 1  #: ``diagnose`` found at least one failing check
USAGE = 2  #: bad command line or bad input (empty question, unknown thread id, ...)
UNREACHABLE = 3  #: no Ray cluster could be reached
INDEX = 4  #: the index is missing/corrupt/mismatched and could not be rebuilt
KB = 5  #: the knowledge base has invalid entries (``raybot kb lint``)
STORE = 6  #: the thread store cannot be used at all
INTERNAL = 70  #: an unexpected error inside raybot (a bug); never 1, which means FINDINGS
EOF_ = 130  #: interrupted (Ctrl-C)
