"""One module per corpus format; :mod:`corpus.loaders` reads any of them."""
