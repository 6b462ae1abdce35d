"""General stages, and families of stages by algorithm (``minhash/``, ``semantic/``, ``tokens/``).

The contract every stage follows is ``datamill/stage.py``; ``datamill/catalog.py`` lists them all."""
