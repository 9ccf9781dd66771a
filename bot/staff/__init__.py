"""The staff workspace under /staff: accounts and sessions (``accounts``), the web app (``web``),
what its pages show (``reports``), server-side charts (``charts``)."""
