"""Teams transport (issue 4). The only package that imports ``botbuilder``."""
